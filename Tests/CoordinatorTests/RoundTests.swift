import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing

@Suite struct RoundTests {
    @Test func fullRoundPublishesOldPlusMeanOfInputs() async throws {
        let dir = try await makeCoordinatorDirectory("full", settings: testSettings(clients: 4, minimum: 3))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let old = try #require(await d.coordinator.currentVector)
        #expect(old == [Float](repeating: 0, count: 48))
        let round = try await d.open()
        #expect(d.sampled.count == 4)
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        try await d.consistency(round)
        try await d.unmask(round)
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed)
        #expect(record.included == 4)
        #expect(record.resultVersion == 1)
        let new = try #require(await d.coordinator.currentVector)
        #expect(maxDifference(new, d.expected(old: old, included: d.sampled)) < 1e-6)
        // Within fixed-point error of the plain mean of the float updates.
        let plainMean = (0..<48).map { k in d.sampled.map { d.clients[$0].update[k] }.reduce(0, +) / 4 }
        #expect(maxDifference(new, plainMean) <= 1.0 / 65536 + 1e-6)
        #expect(new != old)
        // The new version is a blob with exactly these floats, listed in the signed manifest.
        let adapter = try #require(await d.coordinator.currentAdapter)
        #expect(adapter.version == 1)
        #expect(try d.coordinator.blobs.readFloats(adapter.blob) == new)
        let manifest = try await d.coordinator.signedManifest(now: at(d.now)).open(coordinatorKey: d.coordinator.publicKey)
        #expect(manifest.sharedAdapterVersion == 1 && manifest.sharedAdapterBlob == adapter.blob)
        #expect(manifest.privacy.epsilonSpent > 0 && manifest.privacy.roundsAccounted == 1)
        #expect(await d.coordinator.epsilonSpent == manifest.privacy.epsilonSpent)
        let summary = try await d.coordinator.summary(round: round)
        #expect(summary.stage == .completed && summary.included == 4 && summary.sampled == 4)
        // The final round's masked inputs are pruned with its completion; the small messages stay.
        let kept = try d.coordinator.store.messages(round: round)
        #expect(!kept.contains { $0.stage == .maskedInput })
        #expect(kept.contains { $0.stage == .consistencyCheck })
    }

    @Test func dropoutsAfterMaskedInputStillCountAndEarlierOnesAreExcluded() async throws {
        let dir = try await makeCoordinatorDirectory("drop", settings: testSettings(clients: 5, minimum: 3, timeout: 30))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 5)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        let s = d.sampled
        try await d.advertise(round)
        try await d.shareKeys(round)
        // s[0] drops before its masked input: excluded, unmasked through key shares.
        try await d.maskedInput(round, except: [s[0]])
        #expect(await d.coordinator.openRound?.stage == .maskedInput)
        d.advance(31)
        try await d.coordinator.tick(now: at(d.now))
        #expect(await d.coordinator.openRound?.stage == .consistencyCheck)
        // While the round is open its masked inputs are stored (a restart replays them).
        #expect(try d.coordinator.store.messages(round: round).filter { $0.stage == .maskedInput }.count == 4)
        // s[1] drops after its masked input: its input still counts.
        try await d.consistency(round, except: [s[0], s[1]])
        d.advance(31)
        try await d.coordinator.tick(now: at(d.now))
        // Every signer of the list answers, so unmasking closes at once.
        try await d.unmask(round, except: [s[0], s[1]])
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed)
        #expect(record.included == 4)
        let new = try #require(await d.coordinator.currentVector)
        #expect(maxDifference(new, d.expected(old: old, included: Array(s.dropFirst()))) < 1e-6)
    }

    /// `pcoord init --neighbours 4`: a 10-client round masks and shares over a seeded 4-regular
    /// graph (t_k = 3) while the round's minimum stays 6; two clients vanish before their masked
    /// input and the survivors' exact mean is published.
    @Test func secAggPlusRoundWithDropouts() async throws {
        let dir = try await makeCoordinatorDirectory("plus", settings: testSettings(clients: 10, minimum: 6, timeout: 30, neighbours: 4))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 10)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        let graph = try #require(await d.coordinator.openRound?.parameters.graph)
        #expect(graph.degree == 4 && graph.threshold == 3)
        let s = d.sampled
        try await d.advertise(round)
        try await d.shareKeys(round)
        let shares = try await d.coordinator.shares(round: round, for: d.clients[s[2]].client)
        #expect(shares.shares.count == 4)
        try await d.maskedInput(round, except: [s[0], s[5]])
        d.advance(31)
        try await d.coordinator.tick(now: at(d.now))
        try await d.consistency(round, except: [s[0], s[5]])
        try await d.unmask(round, except: [s[0], s[5]])
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed)
        #expect(record.included == 8)
        let new = try #require(await d.coordinator.currentVector)
        #expect(maxDifference(new, d.expected(old: old, included: s.filter { $0 != s[0] && $0 != s[5] })) < 1e-6)
    }

    @Test func neighbourSettingsAreChecked() throws {
        #expect(throws: CoordinatorError.self) { try testSettings(clients: 10, minimum: 6, neighbours: 3) }
        #expect(throws: CoordinatorError.self) { try testSettings(clients: 10, minimum: 6, neighbours: -2) }
        #expect(try testSettings(clients: 10, minimum: 6, neighbours: 0).round.neighbours == 0)
    }

    @Test func stageDeadlineWithTooFewMessagesAborts() async throws {
        let dir = try await makeCoordinatorDirectory("abort", settings: testSettings(clients: 4, minimum: 3, timeout: 20))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        let s = d.sampled
        try await d.advertise(round)
        try await d.shareKeys(round, except: [s[0], s[1]])
        d.advance(19)
        try await d.coordinator.tick(now: at(d.now))
        #expect(await d.coordinator.openRound?.stage == .shareKeys)
        d.advance(2)
        try await d.coordinator.tick(now: at(d.now))
        let record = try #require(try d.coordinator.store.round(round))
        #expect(record.stage == .aborted)
        #expect(record.abortReason == "stage share-keys reached its deadline with 2 of 4 messages; the threshold is 3")
        #expect(await d.coordinator.currentAdapter?.version == 0)
        // The clients kept polling, so the next round opened at once; late messages for the
        // aborted one are refused and change nothing.
        #expect(await d.coordinator.openRound?.round == round + 1)
        await #expect { try await d.shareKeys(round, except: [s[2], s[3]]) } throws: { ($0 as? CoordinatorError)?.code == .wrongRound }
        let summary = try await d.coordinator.summary(round: round)
        #expect(summary.stage == .aborted && summary.resultVersion == nil)
    }

    @Test func aClientLyingInTheConsistencyCheckIsExcludedAndTheRoundGoesOn() async throws {
        let dir = try await makeCoordinatorDirectory("liar", settings: testSettings(clients: 4, minimum: 3, timeout: 20))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        let s = d.sampled
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        // s[0] signs a survivor list other than the one the server sent.
        let real = try await d.coordinator.survivors(round: round, for: d.clients[s[0]].client)
        // It drops someone else (a list without itself would be refused by its own SecAggClient).
        let liar = try #require(d.clients[s[0]].participant)
        let dropped = try #require(real.survivors.last { $0 != liar })
        let fake = SurvivorList(round: round, survivors: real.survivors.filter { $0 != dropped })
        let lie = try d.clients[s[0]].secagg!.consistencyCheck(fake)
        await #expect { try await d.coordinator.submit(.consistency(lie), from: d.clients[s[0]].client, now: at(d.now)) }
            throws: { ($0 as? CoordinatorError)?.code == .messageRejected }
        #expect(await d.coordinator.openRound?.excluded == [d.clients[s[0]].participant!])
        try await d.consistency(round, except: [s[0]])
        // The three honest signatures close the stage at once (the liar is no longer expected).
        #expect(await d.coordinator.openRound?.stage == .unmasking)
        let request = try await d.coordinator.unmaskRequest(round: round, for: d.clients[s[1]].client)
        #expect(request.signatures.count == 3)
        try await d.unmask(round, except: [s[0]])
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed)
        // The liar's masked input was in U3, so it is in the sum (its self mask was revealed by the others).
        #expect(record.included == 4)
        #expect(maxDifference(try #require(await d.coordinator.currentVector), d.expected(old: old, included: s)) < 1e-6)
    }

    @Test func protocolErrorsCarryTheirCodes() async throws {
        let dir = try await makeCoordinatorDirectory("codes", settings: testSettings(clients: 3, minimum: 2))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        let s = d.sampled
        #expect(s.count == 3)
        let outsider = try #require(d.clients.indices.first { !s.contains($0) })
        // A GET of a stage output before it exists.
        await #expect { try await d.coordinator.roster(round: round, for: d.clients[s[0]].client) } throws: { ($0 as? CoordinatorError)?.code == .stageNotReady }
        var c0 = d.clients[s[0]]
        let ad = try c0.secagg!.advertiseKeys(using: &c0.rng)
        d.clients[s[0]] = c0
        // Wrong sender, wrong round, not sampled, duplicate.
        await #expect { try await d.coordinator.submit(.advertiseKeys(ad), from: d.clients[s[1]].client, now: at(1)) } throws: { ($0 as? CoordinatorError)?.code == .senderMismatch }
        let other = AdvertiseKeys(round: round + 1, sender: ad.sender, encryptionKey: ad.encryptionKey, maskingKey: ad.maskingKey, signature: ad.signature)
        await #expect { try await d.coordinator.submit(.advertiseKeys(other), from: d.clients[s[0]].client, now: at(1)) } throws: { ($0 as? CoordinatorError)?.code == .wrongRound }
        await #expect { try await d.coordinator.submit(.advertiseKeys(ad), from: d.clients[outsider].client, now: at(1)) } throws: { ($0 as? CoordinatorError)?.code == .notParticipant }
        try await d.coordinator.submit(.advertiseKeys(ad), from: d.clients[s[0]].client, now: at(1))
        await #expect { try await d.coordinator.submit(.advertiseKeys(ad), from: d.clients[s[0]].client, now: at(1)) } throws: { ($0 as? CoordinatorError)?.code == .duplicateMessage }
        // Still a duplicate once the stage has moved on: a client whose answer was lost in a
        // coordinator restart retries, and must learn that its message counts, not that it is late.
        for i in s.dropFirst() {
            var c = d.clients[i]
            let m = try c.secagg!.advertiseKeys(using: &c.rng)
            d.clients[i] = c
            try await d.coordinator.submit(.advertiseKeys(m), from: c.client, now: at(2))
        }
        #expect(await d.coordinator.openRound?.stage == .shareKeys)
        await #expect { try await d.coordinator.submit(.advertiseKeys(ad), from: d.clients[s[0]].client, now: at(3)) } throws: { ($0 as? CoordinatorError)?.code == .duplicateMessage }
        await #expect { try await d.coordinator.summary(round: 99) } throws: { ($0 as? CoordinatorError)?.code == .roundNotFound }
    }

    @Test func noRoundOpensOnceThePrivacyBudgetIsSpent() async throws {
        // One round with z = 0.5 at q = 1 costs far more than ε = 5 allows.
        let dir = try await makeCoordinatorDirectory("budget", settings: testSettings(clients: 3, minimum: 2, budget: 5, noise: 0.5))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 3)
        try await d.poll()
        try await d.poll()
        #expect(await d.coordinator.openRound == nil)
        #expect(await d.coordinator.budgetExhausted)
    }

    @Test func roundOpensWithMinimumClientsAfterTheWait() async throws {
        let dir = try await makeCoordinatorDirectory("wait", settings: testSettings(clients: 5, minimum: 3))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 3)
        try await d.poll()
        #expect(await d.coordinator.openRound == nil)
        d.advance(11)   // sampleWait is 10 s
        try await d.poll()
        #expect(await d.coordinator.openRound?.participants.count == 3)
    }
}

@Suite struct StrategyTests {
    @Test func fedAdamStepsTheSharedAdapterWithTheMeanAsPseudoGradient() async throws {
        let dir = try await makeCoordinatorDirectory("adam", settings: testSettings(clients: 3, minimum: 2, strategy: "fedadam"))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 3)
        let old = try #require(await d.coordinator.currentVector)
        let round = try await d.open()
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        try await d.consistency(round)
        try await d.unmask(round)
        let meanPlusOld = d.expected(old: old, included: d.sampled)   // old is zero, so this is the mean
        var expected = old
        var adam = FedAdam(parameterCount: old.count, learningRate: 1)
        try adam.step(parameters: &expected, delta: meanPlusOld)
        #expect(maxDifference(try #require(await d.coordinator.currentVector), expected) < 1e-5)
        // The FedAdam moments survive a restart.
        try d.reopen()
        #expect(try d.coordinator.store.loadState().fedAdam?.steps == 1)
    }
}
