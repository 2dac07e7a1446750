import CoordinatorCore
import CoordinatorServer
import Federation
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Seal

typealias HeaderName = HTTPFields.Element.Name

/// A signed-request client over HummingbirdTesting's live (loopback) client.
struct Wire: Sendable {
    let client: any TestClientProtocol

    struct Reply: Sendable {
        let status: Int
        let headers: HTTPFields
        let body: Data
        func decode<T: Decodable>(_ t: T.Type) throws -> T { try WireCoding.decoder().decode(t, from: body) }
        var code: String? { (try? WireCoding.decoder().decode(APIErrorBody.self, from: body))?.error.code }
        func header(_ name: String) -> String? { HeaderName(name).flatMap { headers[$0] } }
    }

    /// Sends a request; signed by `identity` unless nil. `forge` flips a bit of the signature.
    func send(_ method: HTTPRequest.Method, _ path: String, as identity: Identity? = nil, body: Data = Data(),
              contentType: String = "application/json", timestamp: UInt64? = nil, nonce: String? = nil,
              forge: Bool = false, headers extra: [(String, String)] = []) async throws -> Reply {
        var headers: HTTPFields = [:]
        if !body.isEmpty { headers[.contentType] = contentType }
        if let identity {
            let ts = timestamp ?? UInt64(Date().timeIntervalSince1970)
            for (name, value) in RequestSigning.headers(identity: identity, method: method.rawValue, path: path, body: body,
                                                        timestamp: ts, nonce: nonce ?? RequestSigning.freshNonce()) {
                var v = value
                if forge, name == RequestSigning.signatureHeader, var sig = Data(base64Encoded: value) {
                    sig[0] ^= 1
                    v = sig.base64EncodedString()
                }
                headers[HeaderName(name)!] = v
            }
        }
        for (n, v) in extra { headers[HeaderName(n)!] = v }
        // A connection per request: the coordinator closes one after refusing a request whose body
        // it did not read, and closes idle ones, which a shared test connection would not survive.
        let request = TestClient.Request(path, method: method, authority: "localhost", headers: headers, body: body.isEmpty ? nil : ByteBuffer(bytes: body))
        let r = try await TestClient.withClient(host: "127.0.0.1", port: client.port ?? 0) { try await $0.execute(request) }
        return Reply(status: Int(r.status.code), headers: r.headers, body: Data((r.body ?? ByteBuffer()).readableBytesView))
    }

    func json(_ value: some Encodable) throws -> Data { try WireCoding.encoder().encode(value) }
}

/// A coordinator directory with a tiny base, and the live app around it.
func withLiveServer(_ label: String, settings: CoordinatorSettings, configuration: ServerConfiguration = ServerConfiguration(port: 0),
                    _ body: @Sendable @escaping (Coordinator, Wire) async throws -> Void) async throws {
    let dir = try await makeCoordinatorDirectory(label, settings: settings)
    defer { cleanup(dir) }
    let coordinator = try Coordinator(directory: dir)
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    var config = configuration
    config.port = 0
    let app = try await buildApplication(coordinator: coordinator, configuration: config, logger: logger)
    try await app.test(.live) { client in try await body(coordinator, Wire(client: client)) }
}

/// Enrolls a fresh identity through the HTTP API.
func enrollOverHTTP(_ coordinator: Coordinator, _ wire: Wire, name: String? = nil) async throws -> Identity {
    let token = try await coordinator.createEnrollmentToken(name: name, validFor: 3600, now: Date())
    let identity = Identity.generate()
    let r = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: token, identity: identity, name: name)))
    guard r.status == 200 else { throw TestFailure("enroll answered \(r.status) \(r.code ?? "")") }
    return identity
}
