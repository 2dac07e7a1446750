import CoordinatorCore
import FederatedClient
import Federation
import Foundation
import Seal
import Testing
import Transport
import Vault

/// The real libcurl client with a hook after every message the coordinator accepted.
final class HookedAPI: CoordinatorAPI, @unchecked Sendable {
    let inner: CoordinatorClient
    let after: (RoundStage) -> Void

    init(_ inner: CoordinatorClient, after: @escaping (RoundStage) -> Void) {
        self.inner = inner
        self.after = after
    }

    func manifest() throws -> SignedManifest { try inner.manifest() }
    func roundStatus() throws -> RoundStatus { try inner.roundStatus() }
    func advertiseKeys(_ m: AdvertiseKeys) throws { try inner.advertiseKeys(m); after(.advertiseKeys) }
    func fetchRoster(round: UInt64) throws -> KeyRoster? { try inner.fetchRoster(round: round) }
    func shareKeys(_ m: ShareKeys) throws { try inner.shareKeys(m); after(.shareKeys) }
    func fetchShares(round: UInt64) throws -> SharesForYou? { try inner.fetchShares(round: round) }
    func maskedInput(_ m: MaskedInput) throws -> Int { let n = try inner.maskedInput(m); after(.maskedInput); return n }
    func fetchSurvivors(round: UInt64) throws -> SurvivorList? { try inner.fetchSurvivors(round: round) }
    func consistency(_ m: ConsistencySignature) throws { try inner.consistency(m); after(.consistencyCheck) }
    func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest? { try inner.fetchUnmaskRequest(round: round) }
    func unmask(_ m: UnmaskResponse) throws { try inner.unmask(m); after(.unmasking) }
    func summary(round: UInt64) throws -> RoundSummary { try inner.summary(round: round) }
    func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws {
        try inner.download(blob, to: destination, progress: progress)
    }
}

/// Kills the coordinator process with SIGKILL once `count` messages of `stage` were accepted in
/// the current round, then starts it again on the same directory and port.
final class CrashPlan: @unchecked Sendable {
    private let lock = NSLock()
    private var stage: RoundStage?
    private var count = 0
    private var seen = 0
    private(set) var crashes = 0
    let server: CoordinatorProcess
    var restartError: (any Error)?

    init(server: CoordinatorProcess) { self.server = server }

    func arm(_ stage: RoundStage, after count: Int) { lock.withLock { self.stage = stage; self.count = count; seen = 0 } }

    func accepted(_ s: RoundStage) {
        lock.withLock {
            guard s == stage else { return }
            seen += 1
            guard seen == count else { return }
            stage = nil
            server.kill9()
            crashes += 1
            do { try server.start() } catch { restartError = error }
        }
    }
}

// Real processes, about 15 s; part of `swift test` (PLLM_LOOPBACK_ROUNDS=0 skips it, like LoopbackRoundTests).
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PLLM_LOOPBACK_ROUNDS"] != "0"))
struct CrashRoundTests {
    /// 10 in-process participants (the code of `pclient sync --watch`) against a real `pcoord serve`;
    /// six rounds, in each of which pcoord is killed with SIGKILL once: after 5 of the 10 messages of
    /// each stage, and once after the last unmasking response (the round is complete). After every
    /// restart the round completes with all 10 inputs counted once: the published version is
    /// exactly one step, old + the plain mean of the 10 clipped updates.
    @Test func killNineInEveryStageThenTheRoundCompletes() async throws {
        let dir = scratchDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = try integrationSettings(clients: 10, minimum: 6, stageTimeout: 30)
        let (coordDir, tokens) = try await prepareCoordinator(in: dir, settings: settings, clients: 10)
        let server = try CoordinatorProcess(directory: coordDir, port: try freeLoopbackPort())
        try server.start()
        defer { server.stop() }
        let plan = CrashPlan(server: server)

        let enrolled = try enrolledParticipants(server: server, tokens: tokens, in: dir, deadlineGrace: 5) { client in
            HookedAPI(client) { plan.accepted($0) }
        }
        let (participants, apis) = (enrolled.map(\.participant), enrolled.map(\.api))
        let clip = settings.round.dp.clipNorm
        let tolerance: Float = 2.0 / 65536
        let points: [(RoundStage, Int)] = [(.advertiseKeys, 5), (.shareKeys, 5), (.maskedInput, 5), (.consistencyCheck, 5),
                                           (.unmasking, 5), (.unmasking, 10)]
        for (n, point) in points.enumerated() {
            let old = try #require(try SharedAdapterStore.current(participants[0].home))
            plan.arm(point.0, after: point.1)
            let outcomes = participateTogether(participants, within: 120)
            #expect(plan.restartError == nil, "restart failed: \(String(describing: plan.restartError))")
            #expect(plan.crashes == n + 1, "pcoord was killed in \(point.0.rawValue) after \(point.1) messages")
            var results: [RoundOutcome] = []
            for o in outcomes {
                results.append(try #require(o, "a client did not finish the round: \(server.serveLog().suffix(2000))"))
            }
            let round = results[0].round
            #expect(Set(results.map(\.round)).count == 1)
            for (i, r) in results.enumerated() { #expect(r.included, "kill in \(point.0.rawValue)#\(point.1): client \(i): \(r)") }
            let summary = try apis[0].inner.summary(round: round)
            #expect(summary.stage == .completed, "kill in \(point.0.rawValue)#\(point.1): \(summary.abortReason ?? "")")
            #expect(summary.included == 10)
            let new = try #require(try SharedAdapterStore.current(participants[0].home))
            #expect(new.version == old.version + 1, "exactly one new version per round")
            #expect(summary.resultVersion == new.version)
            let expected = SeededUpdates.expectedVector(old: old.vector, round: round, counted: Array(0..<10), clip: clip)
            let worst = zip(new.vector, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= tolerance, "kill in \(point.0.rawValue)#\(point.1): the published vector is off by \(worst)")
            for p in participants { #expect(try SharedAdapterStore.current(p.home)?.vector == new.vector) }
        }
    }
}
