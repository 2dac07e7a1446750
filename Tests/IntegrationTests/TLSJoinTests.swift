import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing
import Transport

/// Issue 16 item 7 (transport): a man in the middle between pclient and pcoord. Real processes:
/// `pcoord serve` with TLS (a self-signed certificate made by the openssl CLI) and `pclient join`.
@Suite(.serialized) struct TLSJoinTests {
    /// A self-signed certificate for 127.0.0.1 and its key, in `dir`.
    func selfSignedCertificate(in dir: String) throws -> (certificate: String, key: String) {
        let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let binary = try #require(openssl, "the openssl CLI is missing: scripts/setup installs it (apt-get install openssl)")
        let (certificate, key) = (dir + "/cert.pem", dir + "/key.pem")
        try runTool(binary, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                             "-keyout", key, "-out", certificate, "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        return (certificate, key)
    }

    func home(_ dir: String, _ i: Int) throws -> [String: String] {
        let e = ["PCLIENT_HOME": dir + "/home\(i)", "PCLIENT_PASSPHRASE": "tls passphrase \(i)", "PCLIENT_KDF": "minimum", "PCLIENT_INSECURE_KDF": "1"]
        try runTool(try builtProduct("pclient"), ["init"], env: e)
        return e
    }

    /// pclient joins a TLS pcoord on 127.0.0.1, trusting its self-signed certificate through
    /// --ca-certificate and pinning the key the operator printed (`pcoord key`) with --expect-key;
    /// the join's signed download and a signed request from the transport go over https. Without
    /// the certificate, libcurl refuses the server (verification is on).
    @Test func pclientJoinsOverTLSWithAPrivateCAAndAnExpectedKey() async throws {
        let dir = scratchDirectory("tls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (certificate, key) = try selfSignedCertificate(in: dir)
        let (coordDir, tokens) = try await prepareCoordinator(in: dir, settings: try integrationSettings(clients: 2, minimum: 2, stageTimeout: 10), clients: 3)
        let keyLines = try runTool(try builtProduct("pcoord"), ["key", "--dir", coordDir]).output
        let hex = try #require(keyLines.split(separator: "\n").first { $0.hasPrefix("hex") }?.split(separator: " ").last.map(String.init))
        let server = try CoordinatorProcess(directory: coordDir, port: try freeLoopbackPort(),
                                            extraArguments: ["--tls-certificate", certificate, "--tls-key", key])
        try server.start()
        defer { server.stop() }
        #expect(server.url.hasPrefix("https://127.0.0.1:"))

        let pclient = try builtProduct("pclient")
        let e = try home(dir, 0)
        let joined = try runTool(pclient, ["join", server.url, "--token", tokens[0], "--ca-certificate", certificate, "--expect-key", hex], env: e)
        #expect(joined.output.contains("Joined \(server.url)"), "\(joined.output)")
        #expect(joined.output.contains("it is the key you expected"))
        let link = try #require(FileManager.default.contents(atPath: dir + "/home0/coordinator.json"))
        #expect(String(decoding: link, as: UTF8.self).contains("BEGIN CERTIFICATE"), "the CA travels in the link")

        // A signed request over https with the same trust, from the transport pclient uses.
        var config = HTTPConfiguration()
        config.caCertificatePEM = try String(contentsOfFile: certificate, encoding: .utf8)
        config.retry = HTTPRetryPolicy(maxAttempts: 1)
        let identity = Identity.generate()
        let enrolled = try CoordinatorClient.enroll(url: server.url, token: tokens[1], identity: identity, name: "tls", configuration: config)
        #expect(Hex.encode(enrolled.coordinatorKey) == hex)
        let api = try CoordinatorClient(url: server.url, identity: identity, configuration: config)
        #expect(try api.manifest().open(coordinatorKey: enrolled.coordinatorKey).sequence >= 1)

        // Without the certificate the server is not trusted: no request reaches it.
        var plain = HTTPConfiguration()
        plain.retry = HTTPRetryPolicy(maxAttempts: 1)
        let untrusted = try CoordinatorClient(url: server.url, identity: identity, configuration: plain)
        #expect(throws: HTTPError.self) { try untrusted.manifest() }
        let refused = try runTool(pclient, ["join", server.url, "--token", tokens[2]], env: try home(dir, 1), check: false)
        #expect(refused.status != 0 && !FileManager.default.fileExists(atPath: dir + "/home1/coordinator.json"), "\(refused.output)")
    }

    /// Plain http to another machine is refused before any connection (the address is TEST-NET-2,
    /// unreachable: a connection attempt would hang until the connect timeout), unless --insecure;
    /// and a coordinator that answers with another key than --expect-key is not pinned.
    @Test func joinRefusesPlainHTTPToAnotherHostAndAnUnexpectedKey() async throws {
        let dir = scratchDirectory("mitm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pclient = try builtProduct("pclient")
        let e = try home(dir, 0)
        let start = Date()
        let remote = try runTool(pclient, ["join", "http://198.51.100.10:8443", "--token", "t"], env: e, check: false)
        #expect(remote.status != 0 && remote.output.contains("plain http"), "\(remote.output)")
        #expect(Date().timeIntervalSince(start) < 5, "refused before connecting")
        #expect(!FileManager.default.fileExists(atPath: dir + "/home0/coordinator.json"))

        let (coordDir, tokens) = try await prepareCoordinator(in: dir, settings: try integrationSettings(clients: 2, minimum: 2, stageTimeout: 10), clients: 1)
        let server = try CoordinatorProcess(directory: coordDir, port: try freeLoopbackPort())
        try server.start()
        defer { server.stop() }
        let wrong = String(repeating: "ab", count: 32)
        let mismatch = try runTool(pclient, ["join", server.url, "--token", tokens[0], "--expect-key", wrong], env: e, check: false)
        #expect(mismatch.status != 0 && mismatch.output.contains("not the --expect-key"), "\(mismatch.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/home0/coordinator.json"), "nothing pinned")
    }
}
