import Federation
import Foundation
import Seal
import Testing
import Transport

/// The libcurl transport against a real HTTP server on 127.0.0.1 (HTTPTestServer).
struct HTTPTransportTests {
    /// Deterministic, non-repeating content, so a resumed download that glued the wrong bytes fails the hash.
    static func blob(_ count: Int) -> Data {
        var rng = ChaChaRandom(seed: [UInt8](repeating: 7, count: 32))
        return Data(rng.bytes(count: count))
    }

    func fastRetries(_ attempts: Int = 4) -> HTTPConfiguration {
        var c = HTTPConfiguration()
        c.connectTimeout = 2
        c.totalTimeout = 10
        c.stallTimeout = 5
        c.retry = HTTPRetryPolicy(maxAttempts: attempts, baseDelay: 0.01, maxDelay: 0.05)
        return c
    }

    @Test func aTruncatedDownloadResumesWithRangeAndVerifies() throws {
        let content = Self.blob(200_000)
        // 1st response cut after 70 000 bytes, 2nd (a 206) cut after 50 000 more, 3rd completes.
        let server = try HTTPTestServer { request, index in
            .blob(content, request: request, cutAfter: index == 0 ? 70_000 : index == 1 ? 50_000 : nil)
        }
        defer { server.stop() }
        let folder = temporaryFolder("download")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sleeps = SleepRecorder()
        let transport = try HTTPTransport(baseURL: server.url, identity: Identity.generate(), configuration: fastRetries(), sleep: sleeps.sleep)
        let destination = folder + "/blob.bin"

        try transport.download("/v1/blobs/x", sha256: SHA256.hex(content), size: Int64(content.count), to: destination)

        #expect(FileManager.default.contents(atPath: destination) == content)
        #expect(!FileManager.default.fileExists(atPath: destination + ".part"))
        let ranges = server.requests.map { $0.headers["range"] }
        #expect(ranges == [nil, "bytes=70000-", "bytes=120000-"])
        #expect(sleeps.recorded.isEmpty, "a transfer that moved bytes resumes at once")
    }

    /// Issue 16, item 8: a server (a compromised coordinator) that answers with an endless body
    /// cannot make the client allocate without limit: past `maxResponseBytes` the transfer is cut
    /// and the request fails with a clear error, without retries.
    @Test func anAnswerOverTheSizeLimitIsRefused() throws {
        let content = Self.blob(300_000)
        let server = try HTTPTestServer { request, _ in .blob(content, request: request) }
        defer { server.stop() }
        var configuration = fastRetries()
        configuration.maxResponseBytes = 100_000
        let transport = try HTTPTransport(baseURL: server.url, identity: nil, configuration: configuration)
        do {
            _ = try transport.get("/v1/manifest", as: SignedManifest.self, signed: false)
            Issue.record("an answer of 300 000 bytes must be refused at 100 000")
        } catch let e as HTTPError {
            #expect(e.kind == .badResponse && e.message.contains("exceeds 100000 bytes"), "\(e)")
        }
        #expect(server.requests.count == 1)
    }

    @Test func aPartFileLeftByAnInterruptedRunIsContinued() throws {
        let content = Self.blob(50_000)
        let server = try HTTPTestServer { request, _ in .blob(content, request: request) }
        defer { server.stop() }
        let folder = temporaryFolder("download")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = folder + "/blob.bin"
        try content.prefix(12_345).write(to: URL(fileURLWithPath: destination + ".part"))
        let transport = try HTTPTransport(baseURL: server.url, identity: nil, configuration: fastRetries())

        try transport.download("/v1/blobs/x", sha256: SHA256.hex(content), size: Int64(content.count), to: destination)

        #expect(server.requests.count == 1)
        #expect(server.requests[0].headers["range"] == "bytes=12345-")
        #expect(FileManager.default.contents(atPath: destination) == content)
    }

    @Test func aHashMismatchDeletesThePartFileAndSaysSo() throws {
        let content = Self.blob(30_000)
        var altered = content
        altered[100] ^= 0xFF
        let other = altered
        let server = try HTTPTestServer { request, _ in .blob(other, request: request) }
        defer { server.stop() }
        let folder = temporaryFolder("download")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = folder + "/blob.bin"
        let transport = try HTTPTransport(baseURL: server.url, identity: nil, configuration: fastRetries())

        do {
            try transport.download("/v1/blobs/x", sha256: SHA256.hex(content), size: Int64(content.count), to: destination)
            Issue.record("a blob with the wrong hash must be refused")
        } catch let e as HTTPError {
            #expect(e.kind == .hashMismatch)
            #expect(e.description.contains(SHA256.hex(content)))
        }
        #expect(!FileManager.default.fileExists(atPath: destination))
        #expect(!FileManager.default.fileExists(atPath: destination + ".part"))
    }

    @Test func a503IsRetriedThenSucceeds() throws {
        let server = try HTTPTestServer { _, index in
            index == 0 ? .json(503, #"{"error":{"code":"unavailable","message":"restarting","remedy":"retry"}}"#)
                       : .json(200, #"{"status":"ok"}"#)
        }
        defer { server.stop() }
        let sleeps = SleepRecorder()
        let transport = try HTTPTransport(baseURL: server.url, identity: nil, configuration: fastRetries(), sleep: sleeps.sleep)
        let response = try transport.send("GET", "/v1/health", signed: false)
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"status":"ok"}"#)
        #expect(server.requests.count == 2)
        #expect(sleeps.recorded.count == 1)
        #expect(sleeps.recorded[0] >= 0 && sleeps.recorded[0] <= 0.01)
    }

    @Test func a429HonoursRetryAfter() throws {
        let server = try HTTPTestServer { _, index in
            index == 0 ? HTTPTestServer.Response(status: 429, headers: [("Retry-After", "3")], body: Data())
                       : .json(200, "{}")
        }
        defer { server.stop() }
        let sleeps = SleepRecorder()
        let transport = try HTTPTransport(baseURL: server.url, identity: nil, configuration: fastRetries(), sleep: sleeps.sleep)
        _ = try transport.send("GET", "/v1/round", signed: false)
        #expect(sleeps.recorded == [3])
    }

    @Test func a4xxIsNotRetriedAndCarriesTheServersWords() throws {
        let server = try HTTPTestServer { _, _ in
            .json(403, #"{"error":{"code":"unknown_client","message":"This client is not enrolled.","remedy":"Run pclient join with a fresh token."}}"#)
        }
        defer { server.stop() }
        let sleeps = SleepRecorder()
        let transport = try HTTPTransport(baseURL: server.url, identity: Identity.generate(), configuration: fastRetries(), sleep: sleeps.sleep)
        do {
            _ = try transport.get("/v1/manifest", as: SignedManifest.self)
            Issue.record("a 403 must throw")
        } catch let e as HTTPError {
            #expect(e.status == 403)
            #expect(e.code == "unknown_client")
            #expect(e.api?.error.remedy == "Run pclient join with a fresh token.")
            #expect(e.description.contains("Run pclient join with a fresh token."))
        }
        #expect(server.requests.count == 1)
        #expect(sleeps.recorded.isEmpty)
    }

    @Test func connectionErrorsAreRetriedThenReported() throws {
        // A port that was just free: nothing listens there.
        let server = try HTTPTestServer { _, _ in .json(200, "{}") }
        let url = server.url
        server.stop()
        let sleeps = SleepRecorder()
        let transport = try HTTPTransport(baseURL: url, identity: nil, configuration: fastRetries(3), sleep: sleeps.sleep)
        do {
            _ = try transport.send("GET", "/v1/health", signed: false)
            Issue.record("nothing listens: the request must fail")
        } catch let e as HTTPError {
            #expect(e.isConnectionError)
        }
        #expect(sleeps.recorded.count == 2)
    }

    @Test func signedRequestsVerifyOnTheServerSide() throws {
        let server = try HTTPTestServer { _, _ in .json(200, "{}") }
        defer { server.stop() }
        let identity = Identity.generate()
        let transport = try HTTPTransport(baseURL: server.url, identity: identity, configuration: fastRetries())
        let body = Data(#"{"round":3}"#.utf8)
        try transport.post("/v1/rounds/3/consistency", body: body, contentType: "application/json")
        _ = try transport.send("GET", "/v1/round?wait=1")

        let requests = server.requests
        #expect(requests.count == 2)
        var nonces = Set<String>()
        for (request, expectedBody) in zip(requests, [body, Data()]) {
            #expect(request.body == expectedBody)
            let h = request.headers
            let signature = try #require(h["pllm-signature"].flatMap { Data(base64Encoded: $0) })
            let timestamp = try #require(h["pllm-timestamp"].flatMap { UInt64($0) })
            let nonce = try #require(h["pllm-nonce"])
            #expect(h["pllm-client"] == Hex.encode(identity.publicKeys.signing))
            #expect(nonce.count == 32)
            #expect(abs(Double(timestamp) - Date().timeIntervalSince1970) < 60)
            #expect(RequestSigning.verify(signing: identity.publicKeys, signature: signature, method: request.method,
                                          path: request.path, bodySHA256: SHA256.hash(request.body), timestamp: timestamp, nonce: nonce))
            // The signature covers the path: another path must not verify.
            #expect(!RequestSigning.verify(signing: identity.publicKeys, signature: signature, method: request.method,
                                           path: request.path + "x", bodySHA256: SHA256.hash(request.body), timestamp: timestamp, nonce: nonce))
            nonces.insert(nonce)
        }
        #expect(nonces.count == 2)
        #expect(requests[1].path == "/v1/round?wait=1")
    }

    @Test func stageNotReadyMeansPollAgain() throws {
        let server = try HTTPTestServer { _, index in
            index == 0 ? .json(409, #"{"error":{"code":"stage_not_ready","message":"The roster is not ready.","remedy":"Poll again."}}"#)
                       : .json(200, #"{"round":5,"advertisements":[]}"#)
        }
        defer { server.stop() }
        let client = try CoordinatorClient(url: server.url, identity: Identity.generate(), configuration: fastRetries())
        #expect(try client.fetchRoster(round: 5) == nil)
        #expect(try client.fetchRoster(round: 5) == KeyRoster(round: 5, advertisements: []))
        #expect(server.requests.map(\.path) == ["/v1/rounds/5/roster", "/v1/rounds/5/roster"])
    }

    @Test func aMaskedInputIsSentAsLittleEndianWords() throws {
        let server = try HTTPTestServer { _, _ in .json(200, "{}") }
        defer { server.stop() }
        let client = try CoordinatorClient(url: server.url, identity: Identity.generate(), configuration: fastRetries())
        let sent = try client.maskedInput(MaskedInput(round: 9, sender: 2, vector: [1, 0xDEADBEEF]))
        #expect(sent == 8)
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/rounds/9/masked-input")
        #expect(request.headers["content-type"] == "application/octet-stream")
        #expect([UInt8](request.body) == [1, 0, 0, 0, 0xEF, 0xBE, 0xAD, 0xDE])
    }
}
