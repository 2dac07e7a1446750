import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing

@Suite struct RestartTests {
    /// Drops the coordinator object after each stage (and in the middle of one), reopens it from
    /// the SQLite file and carries on: the result equals old + mean of the inputs, with every
    /// input counted once.
    @Test(arguments: [0, 1, 2, 3, 4])
    func restartAtEachStageGivesTheSameResult(restartStage: Int) async throws {
        let dir = try await makeCoordinatorDirectory("restart\(restartStage)", settings: testSettings(clients: 4, minimum: 3))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        let s = d.sampled
        let stages: [(UInt64, Set<Int>) async throws -> Void] = [d.advertise, d.shareKeys, d.maskedInput, d.consistency, d.unmask]
        for (k, stage) in stages.enumerated() {
            if k == restartStage {
                // Half the messages, restart, the other half, restart again.
                try await stage(round, [s[2], s[3]])
                try d.reopen()
                #expect(await d.coordinator.openRound?.round == round)
                try await stage(round, [s[0], s[1]])
                if k < 4 { try d.reopen() }
            } else {
                try await stage(round, [])
            }
        }
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed)
        #expect(record.included == 4)
        let new = try #require(await d.coordinator.currentVector)
        #expect(maxDifference(new, d.expected(old: old, included: s)) < 1e-6)
        // And once more from the file: the finished state is what was stored.
        try d.reopen()
        #expect(await d.coordinator.currentVector == new)
        #expect(await d.coordinator.currentAdapter?.version == 1)
        #expect(await d.coordinator.openRound == nil)
        // Every accepted message is stored once; the masked inputs were pruned when the round completed.
        let kept = try d.coordinator.store.messages(round: round)
        #expect(kept.count == 4 * 4)
        #expect(!kept.contains { $0.stage == .maskedInput })
    }

    /// Masked inputs live in files beside the database: replayed from them after a restart,
    /// unlinked when the round ends; stray files are swept at open, and a missing one is a clear
    /// storage error rather than a wrong sum.
    @Test func maskedInputsLiveInFilesThatArePrunedAndChecked() async throws {
        let dir = try await makeCoordinatorDirectory("files", settings: testSettings(clients: 3, minimum: 2))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 3)
        let old = try #require(await d.coordinator.currentVector)
        let messages = dir + "/messages"
        func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: messages)) ?? []).sorted() }
        let round = try await d.open()
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        #expect(files().count == 3)
        // Files no row names: a temporary file, one of an earlier round (a crash between a prune's
        // commit and its unlinks), and one of the open round, which a pcoord serve in another
        // process could be about to commit: the first two go at open, the last stays until the round ends.
        let pending = "r\(round)-masked-input-p9-0123456789ab"
        for name in ["x.tmp-00", "r\(round + 1000)-masked-input-p1-000000000000", pending] {
            #expect(FileManager.default.createFile(atPath: messages + "/" + name, contents: Data([1, 2, 3])))
        }
        try d.reopen()
        #expect(files().count == 4 && files().contains(pending))
        try FileManager.default.removeItem(atPath: messages + "/" + pending)
        let stored = try d.coordinator.store.messages(round: round).filter { $0.stage == .maskedInput }
        #expect(stored.count == 3 && stored.allSatisfy { $0.payload.count == 4 * old.count })

        // A payload file that vanished: the open round cannot be rebuilt, and the error says which file.
        let victim = try #require(files().first)
        let saved = try Data(contentsOf: URL(fileURLWithPath: messages + "/" + victim))
        try FileManager.default.removeItem(atPath: messages + "/" + victim)
        #expect { try Coordinator(directory: dir) } throws: { error in
            guard let e = error as? CoordinatorError else { return false }
            return e.code == .storage && e.message.contains(victim)
        }
        try saved.write(to: URL(fileURLWithPath: messages + "/" + victim))
        try d.reopen()

        try await d.consistency(round)
        try await d.unmask(round)
        #expect(await d.coordinator.lastRound?.stage == .completed)
        #expect(maxDifference(try #require(await d.coordinator.currentVector), d.expected(old: old, included: d.sampled)) < 1e-6)
        (d.coordinator.store as? SQLiteCoordinatorStore)?.waitForCleanup()
        #expect(files().isEmpty)
    }

    @Test func aMessageRepeatedAfterARestartIsNotCountedTwice() async throws {
        let dir = try await makeCoordinatorDirectory("twice", settings: testSettings(clients: 3, minimum: 2))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 3)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        let s = d.sampled
        try await d.advertise(round)
        try await d.shareKeys(round)
        let shares = try await d.coordinator.shares(round: round, for: d.clients[s[0]].client)
        let m = try d.clients[s[0]].secagg!.maskedInput(shares: shares, input: d.clients[s[0]].words)
        try await d.coordinator.submit(.maskedInput(m), from: d.clients[s[0]].client, now: at(d.now))
        try d.reopen()
        // The client retries (it never saw the answer): refused as a duplicate, not added again.
        await #expect { try await d.coordinator.submit(.maskedInput(m), from: d.clients[s[0]].client, now: at(d.now)) }
            throws: { ($0 as? CoordinatorError)?.code == .duplicateMessage }
        try await d.maskedInput(round, except: [s[0]])
        try await d.consistency(round)
        try await d.unmask(round)
        #expect(maxDifference(try #require(await d.coordinator.currentVector), d.expected(old: old, included: s)) < 1e-6)
    }

    @Test func deadlinesStillApplyAfterARestart() async throws {
        let dir = try await makeCoordinatorDirectory("late", settings: testSettings(clients: 4, minimum: 3, timeout: 20))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        try await d.advertise(round, except: [d.sampled[0], d.sampled[1]])
        try d.reopen()
        d.advance(25)
        try await d.coordinator.tick(now: at(d.now))
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .aborted)
        try d.reopen()
        #expect(await d.coordinator.lastRound?.stage == .aborted)
        #expect(await d.coordinator.openRound == nil)
    }

    @Test func settingsIdentityAndEnrollmentsSurviveAReopen() async throws {
        let dir = try await makeCoordinatorDirectory("ident", settings: testSettings())
        defer { cleanup(dir) }
        let a = try Coordinator(directory: dir)
        let key = a.publicKey
        let token = try await a.createEnrollmentToken(name: nil, validFor: 60, now: at(0))
        let id = Identity.generate()
        _ = try await a.enroll(EnrollRequest(token: token, identity: id), now: at(1))
        let b = try Coordinator(directory: dir)
        #expect(b.publicKey == key)
        #expect(try b.store.clients().map(\.identity) == [id.publicKeys])
        // The key file is the operator's secret: owner-only.
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/" + Coordinator.keyFileName)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The token hash, not the token, is stored.
        #expect(try b.store.enrollmentTokens().allSatisfy { $0.hash != token && $0.usedBy != nil })
    }
}
