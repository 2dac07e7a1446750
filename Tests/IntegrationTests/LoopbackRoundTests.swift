import CoordinatorCore
import FederatedClient
import Federation
import Foundation
import Seal
import Testing
import Transport
import Vault

/// How a test client behaves in one round.
enum Behaviour: Sendable {
    case honest
    /// Advertises keys, then disappears (excluded at share-keys).
    case vanishAfterAdvertising
    /// Shares keys, then disappears before its masked input (excluded; its mask is removed).
    case vanishBeforeMaskedInput
    /// Sends its masked input, then disappears (its input still counts).
    case vanishAfterMaskedInput
    /// Signs a survivor list other than the one the coordinator sent.
    case lieInConsistency
}

struct Vanished: Error, CustomStringConvertible { var description: String { "this test client vanished" } }

/// The real libcurl `CoordinatorClient`, with a switch that makes the client vanish or lie at a
/// chosen point (the test's model of a phone going offline, or of a malicious client).
final class ScriptedAPI: CoordinatorAPI, @unchecked Sendable {
    let inner: CoordinatorClient
    private let lock = NSLock()
    private var behaviour = Behaviour.honest
    private var gone = false
    private var me: ParticipantID?

    init(_ inner: CoordinatorClient) { self.inner = inner }

    func reset(_ b: Behaviour) { lock.withLock { behaviour = b; gone = false; me = nil } }
    private var isGone: Bool { lock.withLock { gone } }
    private func vanish() { lock.withLock { gone = true } }
    private func check() throws { if isGone { throw Vanished() } }
    private var mode: Behaviour { lock.withLock { behaviour } }

    func manifest() throws -> SignedManifest { try check(); return try inner.manifest() }
    func roundStatus() throws -> RoundStatus {
        try check()
        let s = try inner.roundStatus()
        if let p = s.participant { lock.withLock { me = p } }
        return s
    }
    func advertiseKeys(_ m: AdvertiseKeys) throws {
        try check()
        try inner.advertiseKeys(m)
        if mode == .vanishAfterAdvertising { vanish() }
    }
    func fetchRoster(round: UInt64) throws -> KeyRoster? { try check(); return try inner.fetchRoster(round: round) }
    func shareKeys(_ m: ShareKeys) throws {
        try check()
        try inner.shareKeys(m)
        if mode == .vanishBeforeMaskedInput { vanish() }
    }
    func fetchShares(round: UInt64) throws -> SharesForYou? { try check(); return try inner.fetchShares(round: round) }
    func maskedInput(_ m: MaskedInput) throws -> Int {
        try check()
        let n = try inner.maskedInput(m)
        if mode == .vanishAfterMaskedInput { vanish() }
        return n
    }
    func fetchSurvivors(round: UInt64) throws -> SurvivorList? { try check(); return try inner.fetchSurvivors(round: round) }
    /// The liar sends a consistency signature that is not over the list the server sent (its
    /// bytes altered): the server must refuse it. (Rewriting the survivor list on the way in no
    /// longer works: the list is signed by the coordinator and the client checks it.)
    func consistency(_ m: ConsistencySignature) throws {
        try check()
        guard mode == .lieInConsistency else { return try inner.consistency(m) }
        var forged = [UInt8](m.signature)
        forged[0] ^= 1
        try inner.consistency(ConsistencySignature(round: m.round, sender: m.sender, signature: Data(forged)))
    }
    func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest? { try check(); return try inner.fetchUnmaskRequest(round: round) }
    func unmask(_ m: UnmaskResponse) throws { try check(); try inner.unmask(m) }
    func summary(round: UInt64) throws -> RoundSummary { try check(); return try inner.summary(round: round) }
    func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws {
        try check()
        try inner.download(blob, to: destination, progress: progress)
    }
}

/// Client `index`'s update in round `round`: fixed by a seed, so the test knows it. Scales vary
/// so that some updates exceed the clip norm 1 and are clipped by the participant.
struct SeededUpdates: UpdateProvider {
    let index: Int

    static func delta(index: Int, round: UInt64, count: Int) -> [Float] {
        var r = ChaChaRandom(seed: Blake2b.hash(Array("int-update-\(index)-\(round)".utf8), outputByteCount: 32))
        let scale = 0.05 + 0.05 * Double(index)
        return (0..<count).map { _ in Float((r.unitInterval() * 2 - 1) * scale) }
    }

    func update(_ context: UpdateContext, log: (String) -> Void) throws -> LocalUpdate {
        LocalUpdate(delta: Self.delta(index: index, round: context.round, count: context.shared.count), examples: 1, steps: 1)
    }
}

final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

extension SeededUpdates {
    /// The vector a round publishes when the inputs of `counted` are summed: old + the plain mean of
    /// their clipped updates (the coordinator's result, up to the fixed-point error and no noise).
    static func expectedVector(old: [Float], round: UInt64, counted: [Int], clip: Double) -> [Float] {
        var mean = [Double](repeating: 0, count: old.count)
        for i in counted {
            var u = delta(index: i, round: round, count: old.count)
            DistributedGaussian.clip(&u, to: clip)
            for k in u.indices { mean[k] += Double(u[k]) / Double(counted.count) }
        }
        return old.enumerated().map { $0.element + Float(mean[$0.offset]) }
    }
}

/// One client per token, enrolled over HTTP, each a `FederatedParticipant` over its own libcurl
/// client wrapped by `wrap`, with a home in `dir` holding shared version 0 (as `pclient join` leaves it).
func enrolledParticipants<API: CoordinatorAPI>(server: CoordinatorProcess, tokens: [String], in dir: String, deadlineGrace: Double,
                                               wrap: (CoordinatorClient) -> API) throws -> [(participant: FederatedParticipant, api: API)] {
    try tokens.enumerated().map { i, token in
        let identity = Identity.generate()
        let response = try CoordinatorClient.enroll(url: server.url, token: token, identity: identity, name: "c\(i)")
        let home = ClientHome(path: dir + "/client\(i)")
        try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
        var link = CoordinatorLink(url: server.url, clientID: response.clientID, coordinatorKey: response.coordinatorKey, lastManifestSequence: 0)
        link.policy = integrationPolicy
        let api = wrap(try CoordinatorClient(url: server.url, identity: identity))
        let p = FederatedParticipant(api: api, home: home, identity: identity, link: link, provider: SeededUpdates(index: i))
        p.pollInterval = 0.2
        p.deadlineGrace = deadlineGrace
        try p.refreshManifest()
        return (p, api)
    }
}

/// Every participant takes part in the next round, each on its own thread; their outcomes in order
/// (nil where one gave up with an error).
func participateTogether(_ participants: [FederatedParticipant], within seconds: TimeInterval) -> [RoundOutcome?] {
    let outcomes = Box([RoundOutcome?](repeating: nil, count: participants.count))
    let lock = NSLock()
    concurrently(participants.indices.map { i in
        let p = Box(participants[i])
        return {
            let o = try? p.value.participateInNextRound(deadline: Date().addingTimeInterval(seconds))
            lock.withLock { outcomes.value[i] = o }
        }
    })
    return outcomes.value
}


/// Runs every closure on its own thread and waits for all of them.
func concurrently(_ bodies: [() -> Void]) {
    let group = DispatchGroup()
    for body in bodies {
        group.enter()
        let b = Box(body)
        let t = Thread { b.value(); group.leave() }
        t.stackSize = 8 << 20
        t.start()
    }
    group.wait()
}

// Part of `swift test` (PLLM_LOOPBACK_ROUNDS=0 skips it). It was off for two sessions after a crash
// of pcoord seen once in six runs in session 2 (mid-round, under heavy load, log not kept); not seen
// in the 20 runs since (release, load 5 on 2 cores). If it comes back, the serve log is printed.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PLLM_LOOPBACK_ROUNDS"] != "0"))
struct LoopbackRoundTests {
    /// 10 in-process participants (own identity, own libcurl transport) against a real `pcoord serve`
    /// process on 127.0.0.1, three rounds: all honest; 30 % vanish after their masked input; one
    /// vanishes after advertising, one before its masked input and one lies in the consistency check.
    @Test func threeRoundsOverLoopbackWithDropoutsAndALiar() async throws {
        let dir = scratchDirectory("loop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = try integrationSettings(clients: 10, minimum: 5, stageTimeout: 4)
        let (coordDir, tokens) = try await prepareCoordinator(in: dir, settings: settings, clients: 10)
        // scripts/federation-check wire: PLLM_FEDCHECK_PORT fixes the port it captures, and
        // PLLM_FEDCHECK_UPDATES names a JSON file for the updates every client sent (the script
        // searches the capture for their float and fixed-point bytes).
        let env = ProcessInfo.processInfo.environment
        let server = try CoordinatorProcess(directory: coordDir, port: try env["PLLM_FEDCHECK_PORT"].flatMap(Int.init) ?? freeLoopbackPort())
        try server.start()
        defer { server.stop() }
        var sent: [[String: AnyHashable]] = []

        let enrolled = try enrolledParticipants(server: server, tokens: tokens, in: dir, deadlineGrace: 2) { ScriptedAPI($0) }
        let (participants, apis) = (enrolled.map(\.participant), enrolled.map(\.api))
        let clip = settings.round.dp.clipNorm
        let tolerance: Float = 2.0 / 65536

        let plans: [[Behaviour]] = [
            Array(repeating: .honest, count: 10),
            [.vanishAfterMaskedInput, .vanishAfterMaskedInput, .vanishAfterMaskedInput] + Array(repeating: .honest, count: 7),
            [.vanishAfterAdvertising, .vanishBeforeMaskedInput, .lieInConsistency] + Array(repeating: .honest, count: 7),
        ]
        for plan in plans {
            let old = try #require(try SharedAdapterStore.current(participants[9].home))
            for (api, b) in zip(apis, plan) { api.reset(b) }
            let results = try participateTogether(participants, within: 60).enumerated().map { i, o in
                try #require(o, "client \(i) (\(plan[i])) did not finish the round: \(server.serveLog().suffix(2000))")
            }
            let round = results[9].round
            #expect(Set(results.map(\.round)).count == 1, "every client took part in the same round")
            // Whose masked input the coordinator holds: the honest, those who vanished after it, the liar.
            let counted = plan.indices.filter { [.honest, .vanishAfterMaskedInput, .lieInConsistency].contains(plan[$0]) }
            for i in plan.indices {
                #expect(results[i].included == (plan[i] == .honest), "client \(i) (\(plan[i])): \(results[i])")
            }
            if let liar = plan.firstIndex(of: .lieInConsistency) {
                #expect(results[liar].reason?.contains("message_rejected") == true || results[liar].reason?.contains("rejected") == true,
                        "the liar was refused: \(results[liar].reason ?? "no reason")")
            }
            let summary = try apis[9].inner.summary(round: round)
            #expect(summary.stage == .completed)
            #expect(summary.included == counted.count)
            #expect(summary.sampled == 10)
            // The new shared version is old + the plain mean of the clipped updates of `counted`.
            let new = try #require(try SharedAdapterStore.current(participants[9].home))
            #expect(new.version == old.version + 1)
            #expect(summary.resultVersion == new.version)
            for i in counted {
                let raw = SeededUpdates.delta(index: i, round: round, count: old.vector.count)
                var clipped = raw
                DistributedGaussian.clip(&clipped, to: clip)
                sent.append(["round": Int(round), "client": i, "raw": raw.map(Double.init), "clipped": clipped.map(Double.init),
                             "scaleBits": settings.round.codec.scaleBits])
            }
            let expected = SeededUpdates.expectedVector(old: old.vector, round: round, counted: counted, clip: clip)
            let worst = zip(new.vector, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= tolerance, "round \(round): published vector differs from old + mean of clipped updates by \(worst)")
            // Every honest client stored the same new version.
            for i in plan.indices where plan[i] == .honest {
                #expect(try SharedAdapterStore.current(participants[i].home)?.vector == new.vector)
            }
        }
        if let path = env["PLLM_FEDCHECK_UPDATES"] {
            try JSONSerialization.data(withJSONObject: sent, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }
}
