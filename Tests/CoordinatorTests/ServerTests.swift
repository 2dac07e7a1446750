import CoordinatorCore
import CoordinatorServer
import Federation
import Foundation
import Hummingbird
import Logging
import HummingbirdTesting
import Seal
import Testing

@Suite struct ServerTests {
    @Test func healthMetricsAndUnknownRoutes() async throws {
        try await withLiveServer("health", settings: testSettings()) { _, wire in
            let health = try await wire.send(.get, "/v1/health")
            #expect(health.status == 200)
            let missing = try await wire.send(.get, "/v1/nothing")
            #expect(missing.status == 404 && missing.code == "not_found")
            let metrics = try await wire.send(.get, "/metrics")
            #expect(metrics.status == 200)
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(text.contains("pcoord_requests_total{route=\"/v1/health\",status=\"200\"} 1"))
            #expect(text.contains("pcoord_rounds_completed_total"))
        }
    }

    @Test func enrollment() async throws {
        try await withLiveServer("enroll", settings: testSettings()) { coordinator, wire in
            let token = try await coordinator.createEnrollmentToken(name: "a", validFor: 3600, now: Date())
            let identity = Identity.generate()
            let good = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: token, identity: identity, name: "a")))
            #expect(good.status == 200)
            let response = try good.decode(EnrollResponse.self)
            #expect(response.clientID == Hex.encode(identity.publicKeys.signing))
            #expect(response.coordinatorKey == coordinator.publicKey)
            #expect(try response.manifest.open(coordinatorKey: response.coordinatorKey).baseDimensions?.embedding == 8)
            // Used token.
            let again = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: token, identity: Identity.generate())))
            #expect(again.status == 403 && again.code == "token_used")
            // Expired token.
            let old = try await coordinator.createEnrollmentToken(name: nil, validFor: 1, now: Date().addingTimeInterval(-10))
            let expired = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: old, identity: Identity.generate())))
            #expect(expired.status == 403 && expired.code == "token_expired")
            // Unknown token.
            let unknown = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: "00", identity: Identity.generate())))
            #expect(unknown.status == 403 && unknown.code == "invalid_token")
            // A proof by another key: refused, and the token stays usable.
            let fresh = try await coordinator.createEnrollmentToken(name: nil, validFor: 3600, now: Date())
            let signed = EnrollRequest(token: fresh, identity: Identity.generate())
            let other = Identity.generate()
            let bad = #"{"token":"\#(fresh)","identity":{"signing":"\#(other.publicKeys.signing.base64EncodedString())","agreement":"\#(other.publicKeys.agreement.base64EncodedString())"},"proof":"\#(signed.proof.base64EncodedString())"}"#
            let badProof = try await wire.send(.post, "/v1/enroll", body: Data(bad.utf8))
            #expect(badProof.status == 400 && badProof.code == "bad_proof")
            let ok = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: fresh, identity: Identity.generate())))
            #expect(ok.status == 200)
            // Garbage.
            let garbage = try await wire.send(.post, "/v1/enroll", body: Data("{".utf8))
            #expect(garbage.status == 400 && garbage.code == "malformed_body")
            #expect(try coordinator.store.clients().count == 2)
            // A rejoin (`pclient join --rejoin`): the same identity with a fresh token keeps its
            // enrollment and consumes the token; without a valid token it is refused as before.
            let rejoinToken = try await coordinator.createEnrollmentToken(name: nil, validFor: 3600, now: Date())
            let rejoin = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: rejoinToken, identity: identity, name: "a")))
            #expect(rejoin.status == 200)
            #expect(try rejoin.decode(EnrollResponse.self).clientID == response.clientID)
            #expect(try coordinator.store.clients().count == 2)
            let reused = try await wire.send(.post, "/v1/enroll", body: wire.json(EnrollRequest(token: rejoinToken, identity: identity)))
            #expect(reused.status == 403 && reused.code == "token_used")
        }
    }

    @Test func signedRequestsRefuseForgeriesReplaysSkewAndStrangers() async throws {
        try await withLiveServer("auth", settings: testSettings()) { coordinator, wire in
            let identity = try await enrollOverHTTP(coordinator, wire)
            let manifest = try await wire.send(.get, "/v1/manifest", as: identity)
            #expect(manifest.status == 200)
            #expect(try manifest.decode(SignedManifest.self).open(coordinatorKey: coordinator.publicKey).sequence >= 1)

            let unsigned = try await wire.send(.get, "/v1/manifest")
            #expect(unsigned.status == 401 && unsigned.code == "missing_signature")
            let nonce = RequestSigning.freshNonce()
            let forged = try await wire.send(.get, "/v1/round", as: identity, nonce: nonce, forge: true)
            #expect(forged.status == 401 && forged.code == "bad_signature")
            let skewed = try await wire.send(.get, "/v1/round", as: identity, timestamp: UInt64(Date().timeIntervalSince1970) - 1000)
            #expect(skewed.status == 401 && skewed.code == "clock_skew")
            let stranger = try await wire.send(.get, "/v1/round", as: Identity.generate())
            #expect(stranger.status == 401 && stranger.code == "unknown_client")
            // None of the refused requests changed state: no client marked seen, the forged nonce still usable once.
            #expect(try coordinator.store.clients().first?.lastSeen != nil)   // seen by the manifest request only
            #expect(await coordinator.openRound == nil)
            let first = try await wire.send(.get, "/v1/manifest", as: identity, nonce: nonce)
            #expect(first.status == 200)
            let replay = try await wire.send(.get, "/v1/manifest", as: identity, nonce: nonce)
            #expect(replay.status == 401 && replay.code == "replayed_nonce")
            // A signature over another path does not transfer.
            let path = "/v1/manifest"
            let headers = RequestSigning.headers(identity: identity, method: "GET", path: path, body: Data(),
                                                 timestamp: UInt64(Date().timeIntervalSince1970), nonce: RequestSigning.freshNonce())
            let moved = try await wire.send(.get, "/v1/round", headers: headers)
            #expect(moved.status == 401 && moved.code == "bad_signature")
        }
    }

    @Test func blobDownloadsWithRanges() async throws {
        try await withLiveServer("range", settings: testSettings()) { coordinator, wire in
            let identity = try await enrollOverHTTP(coordinator, wire)
            let m = try await wire.send(.get, "/v1/manifest", as: identity).decode(SignedManifest.self).open(coordinatorKey: coordinator.publicKey)
            let base = try #require(m.base)
            let file = try #require(FileManager.default.contents(atPath: coordinator.blobs.path(base.sha256)))
            #expect(file.count == Int(base.size) && SHA256.hex(file) == base.sha256)
            let whole = try await wire.send(.get, "/v1/blobs/\(base.sha256)", as: identity)
            #expect(whole.status == 200 && whole.body == file)
            #expect(whole.header("Accept-Ranges") == "bytes")
            let part = try await wire.send(.get, "/v1/blobs/\(base.sha256)", as: identity, headers: [("Range", "bytes=10-19")])
            #expect(part.status == 206 && part.body == file[10...19])
            #expect(part.header("Content-Range") == "bytes 10-19/\(file.count)")
            let tail = try await wire.send(.get, "/v1/blobs/\(base.sha256)", as: identity, headers: [("Range", "bytes=-7")])
            #expect(tail.status == 206 && tail.body == file.suffix(7))
            let from = try await wire.send(.get, "/v1/blobs/\(base.sha256)", as: identity, headers: [("Range", "bytes=100-")])
            #expect(from.status == 206 && from.body == file.suffix(from: 100))
            let beyond = try await wire.send(.get, "/v1/blobs/\(base.sha256)", as: identity, headers: [("Range", "bytes=\(file.count)-")])
            #expect(beyond.status == 416 && beyond.code == "range_not_satisfiable")
            #expect(beyond.header("Content-Range") == "bytes */\(file.count)")
            let adapter = try #require(m.sharedAdapterBlob)
            let floats = try await wire.send(.get, "/v1/blobs/\(adapter.sha256)", as: identity)
            #expect(floats.status == 200 && floats.body.count == 48 * 4 && floats.body.allSatisfy { $0 == 0 })
            let none = try await wire.send(.get, "/v1/blobs/\(String(repeating: "0", count: 64))", as: identity)
            #expect(none.status == 404 && none.code == "blob_not_found")
            let traversal = try await wire.send(.get, "/v1/blobs/..%2Fcoordinator.key", as: identity)
            #expect(traversal.status == 404)
        }
    }

    @Test func oversizedBodiesWrongStagesAndRateLimits() async throws {
        let config = ServerConfiguration(requestsPerSecond: 0.01, burst: 5)
        try await withLiveServer("limits", settings: testSettings(clients: 2, minimum: 2), configuration: config) { coordinator, wire in
            let big = try await wire.send(.post, "/v1/enroll", body: Data(repeating: 0x20, count: 100_000))
            #expect(big.status == 413 && big.code == "payload_too_large")
            let a = try await enrollOverHTTP(coordinator, wire)
            let b = try await enrollOverHTTP(coordinator, wire)
            _ = try await wire.send(.get, "/v1/round", as: a)
            let status = try await wire.send(.get, "/v1/round", as: b).decode(RoundStatus.self)
            let round = try #require(status.round)
            #expect(status.stage == .advertiseKeys && status.participant != nil)
            // A stage output before it exists, a message of another stage.
            let early = try await wire.send(.get, "/v1/rounds/\(round)/roster", as: b)
            #expect(early.status == 409 && early.code == "stage_not_ready")
            let share = ShareKeys(round: round, sender: status.participant!, shares: [])
            let wrong = try await wire.send(.post, "/v1/rounds/\(round)/share-keys", as: b, body: wire.json(share))
            #expect(wrong.status == 409 && wrong.code == "wrong_stage")
            let tooBig = try await wire.send(.post, "/v1/rounds/\(round)/masked-input", as: b, body: Data(count: 48 * 4 + 4), contentType: "application/octet-stream")
            #expect(tooBig.status == 413)
            let badRound = try await wire.send(.get, "/v1/rounds/abc", as: b)
            #expect(badRound.status == 400 && badRound.code == "invalid_request")
            // Burst of 5 per client: b has used 3 so far (refusals before authentication cost nothing).
            _ = try await wire.send(.get, "/v1/manifest", as: b)
            _ = try await wire.send(.get, "/v1/manifest", as: b)
            let limited = try await wire.send(.get, "/v1/manifest", as: b)
            #expect(limited.status == 429 && limited.code == "rate_limited")
            #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            // Nothing above is a server error.
            let metrics = String(decoding: try await wire.send(.get, "/metrics").body, as: UTF8.self)
            #expect(!metrics.contains("status=\"5"))
        }
    }

    /// A whole round over loopback HTTP with real SecAgg clients, as pclient runs it.
    @Test func aFullRoundOverHTTP() async throws {
        try await withLiveServer("http-round", settings: testSettings(clients: 3, minimum: 2)) { coordinator, wire in
            var ids: [Identity] = []
            for i in 0..<3 { ids.append(try await enrollOverHTTP(coordinator, wire, name: "c\(i)")) }
            for id in ids { _ = try await wire.send(.get, "/v1/round", as: id) }
            var statuses: [RoundStatus] = []
            for id in ids { statuses.append(try await wire.send(.get, "/v1/round", as: id).decode(RoundStatus.self)) }
            let round = try #require(statuses[0].round)
            let parameters = try #require(statuses[0].parameters)
            let roster = Dictionary(uniqueKeysWithValues: try #require(statuses[0].participants).map { ($0.id, $0.identity) })
            var clients: [SecAggClient] = []
            var rngs: [ChaChaRandom] = []
            var inputs: [[UInt32]] = []
            for (i, id) in ids.enumerated() {
                clients.append(try SecAggClient(parameters: parameters, id: statuses[i].participant!, identity: id, identities: roster))
                rngs.append(ChaChaRandom(seed: Blake2b.hash(Array("http-\(i)".utf8), outputByteCount: 32)))
                inputs.append((0..<48).map { UInt32(truncatingIfNeeded: Int32($0 - 24 + i * 1000)) })
            }
            func post(_ i: Int, _ stage: String, _ body: Data, _ type: String = "application/json") async throws {
                let r = try await wire.send(.post, "/v1/rounds/\(round)/\(stage)", as: ids[i], body: body, contentType: type)
                guard r.status == 200 else { throw TestFailure("\(stage) answered \(r.status) \(r.code ?? "")") }
            }
            for i in 0..<3 { try await post(i, "advertise-keys", wire.json(try clients[i].advertiseKeys(using: &rngs[i]))) }
            for i in 0..<3 {
                let r = try await wire.send(.get, "/v1/rounds/\(round)/roster", as: ids[i]).decode(KeyRoster.self)
                try await post(i, "share-keys", wire.json(try clients[i].shareKeys(roster: r, using: &rngs[i])))
            }
            for i in 0..<3 {
                let s = try await wire.send(.get, "/v1/rounds/\(round)/shares", as: ids[i]).decode(SharesForYou.self)
                try await post(i, "masked-input", try clients[i].maskedInput(shares: s, input: inputs[i]).words, "application/octet-stream")
            }
            for i in 0..<3 {
                let s = try await wire.send(.get, "/v1/rounds/\(round)/survivors", as: ids[i]).decode(SurvivorList.self)
                try await post(i, "consistency", wire.json(try clients[i].consistencyCheck(s)))
            }
            for i in 0..<3 {
                let u = try await wire.send(.get, "/v1/rounds/\(round)/unmask-request", as: ids[i]).decode(UnmaskRequest.self)
                try await post(i, "unmask", wire.json(try clients[i].unmask(u)))
            }
            let summary = try await wire.send(.get, "/v1/rounds/\(round)", as: ids[0]).decode(RoundSummary.self)
            #expect(summary.stage == .completed && summary.included == 3 && summary.resultVersion == 1)
            let expected = (0..<48).map { k in Float((0..<3).map { Double(Int32(bitPattern: inputs[$0][k])) / 65536 }.reduce(0, +) / 3) }
            #expect(maxDifference(try #require(await coordinator.currentVector), expected) < 1e-6)
            let m = try await wire.send(.get, "/v1/manifest", as: ids[1]).decode(SignedManifest.self).open(coordinatorKey: coordinator.publicKey)
            #expect(m.sharedAdapterVersion == 1)
            let metrics = String(decoding: try await wire.send(.get, "/metrics").body, as: UTF8.self)
            #expect(metrics.contains("pcoord_rounds_completed_total 1"))
            #expect(metrics.contains("pcoord_stage_duration_seconds"))
        }
    }

    @Test func theTickerAbortsAStalledRoundWithoutTraffic() async throws {
        try await withLiveServer("ticker", settings: testSettings(clients: 2, minimum: 2, timeout: 1)) { coordinator, wire in
            let a = try await enrollOverHTTP(coordinator, wire)
            let b = try await enrollOverHTTP(coordinator, wire)
            _ = try await wire.send(.get, "/v1/round", as: a)
            _ = try await wire.send(.get, "/v1/round", as: b)
            #expect(await coordinator.openRound != nil)
            let ticker = startTicker(coordinator, interval: 0.1, logger: .init(label: "t"))
            defer { ticker.cancel() }
            for _ in 0..<40 where await coordinator.openRound != nil { try await Task.sleep(for: .milliseconds(100)) }
            #expect(await coordinator.lastRound?.stage == .aborted)
        }
    }
}
