import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing

@Suite struct MachineTests {
    func candidates(_ n: Int) -> [RoundMachine.Candidate] {
        (0..<n).map { _ in
            let id = Identity.generate()
            return RoundMachine.Candidate(clientID: Hex.encode(id.publicKeys.signing), identity: id.publicKeys)
        }
    }

    /// Events in, actions out: the machine never touches a store or a clock, and a copy taken
    /// before an event is unaffected by it (what the coordinator's rollback relies on).
    @Test func opensARoundFromPollsAndSamplesWithoutIO() throws {
        let settings = try testSettings(clients: 3, minimum: 2)
        var m = RoundMachine(settings: settings, state: CoordinatorState(), enrolledCount: 5,
                             shared: (version: 0, vector: [Float](repeating: 0, count: 10)))
        var rng = ChaChaRandom(seed: [UInt8](repeating: 1, count: 32))
        let cs = candidates(5)
        #expect(m.handle(.polled(cs[0], now: at(0)), using: &rng).actions.isEmpty)
        #expect(m.handle(.polled(cs[1], now: at(1)), using: &rng).actions.isEmpty)
        let before = m
        let out = m.handle(.polled(cs[2], now: at(2)), using: &rng)
        let saved = out.actions.compactMap { if case .saveRound(let r) = $0 { r } else { nil } }
        #expect(saved.count == 1)
        let record = try #require(m.openRound?.record)
        #expect(record.participants.map(\.id) == [1, 2, 3])
        #expect(Set(record.participants.map(\.clientID)) == Set(cs[0..<3].map(\.clientID)))
        #expect(record.parameters == SecAggParameters(round: 1, threshold: 2, vectorLength: 10))
        #expect(record.deadline == at(2 + settings.round.stageTimeout))
        #expect(record.enrolled == 5)
        #expect(before.openRound == nil && before.nextRound == 1 && m.nextRound == 2)
        // Polls older than the availability window do not count.
        var late = before
        let stale = late.handle(.polled(cs[3], now: at(200)), using: &rng)
        #expect(stale.actions.isEmpty && late.openRound == nil)
    }

    @Test func advertiseDeadlineWithTooFewAbortsWithAReason() throws {
        let settings = try testSettings(clients: 3, minimum: 3, timeout: 10)
        var m = RoundMachine(settings: settings, state: CoordinatorState(), enrolledCount: 3,
                             shared: (version: 0, vector: [Float](repeating: 0, count: 4)))
        var rng = SodiumRandom()
        for c in candidates(3) { _ = m.handle(.polled(c, now: at(0)), using: &rng) }
        #expect(m.openRound != nil)
        #expect(m.handle(.tick(now: at(9)), using: &rng).actions.isEmpty)
        let out = m.handle(.tick(now: at(10)), using: &rng)
        #expect(out.actions.contains { if case .roundFinished(.aborted) = $0 { true } else { false } })
        #expect(m.current?.record.stage == .aborted)
        #expect(m.current?.record.abortReason == "stage advertise-keys reached its deadline with 0 of 3 messages; the threshold is 3")
    }
}
