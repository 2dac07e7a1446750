import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing

/// Issue 16, item 3: the coordinator charges q = 1 (the sample is drawn from the clients online and
/// the coordinator knows whom it sampled, so sampling amplifies nothing a client can verify), and a
/// round aborted once shares were revealed is charged like a completed one.
@Suite struct PrivacyAccountingTests {
    /// The issue's figures: 100 enrolled, 4 online, z = 1, δ = 1e-5, 50 rounds. The old rate
    /// q = 4/100 reported ε ≈ 2.7; the same formula at q = 1 gives ≈ 60.
    @Test func samplingFromTheOnlineFewAmplifiesNothing() {
        var old = RDPAccountant(), now = RDPAccountant()
        old.record(samplingRate: 4.0 / 100, noiseMultiplier: 1, steps: 50)
        now.record(samplingRate: 1, noiseMultiplier: 1, steps: 50)
        #expect(old.epsilon(delta: 1e-5).epsilon < 3)
        #expect(now.epsilon(delta: 1e-5).epsilon > 50)
    }

    /// 100 enrolled, the same 4 online every round, z = 1: the coordinator's ε after each round is
    /// the q = 1 figure, and the budget stop fires after the rounds q = 1 allows, where q = 0.04
    /// would have let many more open.
    @Test func coordinatorChargesQOneAndTheBudgetStopFires() async throws {
        var reference = RDPAccountant()
        reference.record(samplingRate: 1, noiseMultiplier: 1, steps: 2)
        let budget = reference.epsilon(delta: 1e-5).epsilon + 0.01      // room for exactly two rounds at q = 1
        var old = RDPAccountant()
        old.record(samplingRate: 0.04, noiseMultiplier: 1, steps: 20)
        #expect(old.epsilon(delta: 1e-5).epsilon < budget, "q = 0.04 would have allowed 20 rounds")

        let dir = try await makeCoordinatorDirectory("q1", settings: testSettings(clients: 4, minimum: 4, budget: budget, noise: 1))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        for i in 0..<96 {
            let id = Identity.generate()
            let token = try await d.coordinator.createEnrollmentToken(name: "idle\(i)", validFor: 3600, now: at(d.now))
            _ = try await d.coordinator.enroll(EnrollRequest(token: token, identity: id, name: "idle\(i)"), now: at(d.now))
        }
        try d.reopen()
        var expected = RDPAccountant()
        for _ in 0..<2 {
            let round = try await d.open()
            try await d.advertise(round)
            try await d.shareKeys(round)
            try await d.maskedInput(round)
            try await d.consistency(round)
            try await d.unmask(round)
            let record = try #require(await d.coordinator.lastRound)
            #expect(record.stage == .completed && record.enrolled == 100)
            expected.record(samplingRate: 1, noiseMultiplier: 1)
            #expect(abs(await d.coordinator.epsilonSpent - expected.epsilon(delta: 1e-5).epsilon) < 1e-9)
            d.advance(1)
        }
        // A third round would pass the budget: none opens, however many clients poll.
        try await d.poll()
        d.advance(60)
        try await d.poll()
        #expect(await d.coordinator.openRound == nil)
        #expect(await d.coordinator.lastRound?.round == 2)
        #expect(await d.coordinator.epsilonSpent <= budget)
    }

    /// A survivor reveals a wrong share: unmasking fails and nothing is published, but the other
    /// shares were revealed (the coordinator could hold the sum), so the round is charged.
    @Test func roundAbortedInUnmaskingIsCharged() async throws {
        let dir = try await makeCoordinatorDirectory("abort-charge", settings: testSettings(clients: 4, minimum: 3, noise: 1))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        try await d.consistency(round)
        #expect(await d.coordinator.epsilonSpent == 0)
        for (n, i) in d.sampled.enumerated() {
            let request = try await d.coordinator.unmaskRequest(round: round, for: d.clients[i].client)
            var m = try d.clients[i].secagg!.unmask(request)
            if n == 0 {
                var bad = [UInt8](m.selfMaskShares[1].share)
                bad[5] ^= 1
                var shares = m.selfMaskShares
                shares[1] = RevealedShare(owner: shares[1].owner, share: Data(bad))
                m = UnmaskResponse(round: m.round, sender: m.sender, selfMaskShares: shares, keyShares: m.keyShares)
            }
            try await d.coordinator.submit(.unmask(m), from: d.clients[i].client, now: at(d.now))
        }
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .aborted && record.resultVersion == nil)
        #expect(record.abortReason?.hasPrefix("unmasking failed") == true)
        var expected = RDPAccountant()
        expected.record(samplingRate: 1, noiseMultiplier: 1 * (4.0 / 3).squareRoot())
        #expect(abs(await d.coordinator.epsilonSpent - expected.epsilon(delta: 1e-5).epsilon) < 1e-9)
        #expect(record.roundsAccounted == 1)
        // Durable: a restarted coordinator reports the same.
        try d.reopen()
        #expect(abs(await d.coordinator.epsilonSpent - expected.epsilon(delta: 1e-5).epsilon) < 1e-9)
        #expect(await d.coordinator.currentAdapter?.version == 0)
    }
}

/// Issue 16, item 4: a participant masks words that are not an encoded, clipped update. The
/// decoded sum is checked against |U3|·R per coordinate and |U3|·C plus the noise's norm bound:
/// the round aborts and nothing is published, where before the poisoner moved the shared adapter
/// by up to R·2^k/2^k = R per coordinate (16 here; ~10⁴ with the manifest's defaults at |U3| large).
@Suite struct PoisoningTests {
    func poisonedRound(_ words: (Int) -> UInt32) async throws -> RoundRecord {
        let dir = try await makeCoordinatorDirectory("poison", settings: testSettings(clients: 4, minimum: 3, noise: 0.5))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        let poisoner = d.sampled[0]
        d.clients[poisoner].words = (0..<d.clients[poisoner].words.count).map(words)
        try await d.advertise(round)
        try await d.shareKeys(round)
        try await d.maskedInput(round)
        try await d.consistency(round)
        try await d.unmask(round)
        #expect(await d.coordinator.currentAdapter?.version == 0, "nothing published")
        return try #require(await d.coordinator.lastRound)
    }

    /// Every coordinate just inside the codec's range R = 16 (so each word is a valid encoding),
    /// but the norm is 16·√48 ≈ 110 against a bound of about 4·1 + 0.58·(√48 + 6.4) ≈ 12.
    @Test func anInputOverTheClipNormAbortsTheRound() async throws {
        let record = try await poisonedRound { _ in UInt32(15 << 16) }
        #expect(record.stage == .aborted)
        #expect(record.abortReason?.contains("L2 norm") == true, "\(record.abortReason ?? "")")
    }

    /// Words far outside any encoding (a coordinate of 30 000).
    @Test func anInputOutsideTheRangeAbortsTheRound() async throws {
        let record = try await poisonedRound { $0 == 3 ? UInt32(30_000 << 16) : 0 }
        #expect(record.stage == .aborted)
        #expect(record.abortReason?.contains("beyond |U3|·R") == true, "\(record.abortReason ?? "")")
    }

    /// An honest round with the same settings passes the check (see also RoundTests).
    @Test func boundsHoldForHonestNoisedInputs() throws {
        let s = try testSettings(clients: 4, minimum: 3, noise: 0.5).round
        let b = AggregateBounds(codec: s.codec, dp: s.dp, included: 4, length: 48)
        #expect(b.coordinateBound == 64)
        #expect(b.normBound > 4 && b.normBound < 13)
    }
}

/// Issue 16, item 5: an enrolled client advertises a low-order X25519 key (signed with its real
/// identity, so the signature check passes). Before, honest clients then failed every agreement
/// with it and left the round; now the coordinator refuses the advertisement (422
/// message_rejected), excludes the sender, and the round completes without it.
@Suite struct LowOrderKeyTests {
    @Test func lowOrderAdvertisementIsRejectedAndTheRoundCompletes() async throws {
        let dir = try await makeCoordinatorDirectory("low-order", settings: testSettings(clients: 4, minimum: 3, noise: 0.5))
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let round = try await d.open()
        let s = d.sampled
        let attacker = s[0]
        let p = try #require(d.clients[attacker].participant)
        var c = d.clients[attacker]
        let real = try c.secagg!.advertiseKeys(using: &c.rng)
        d.clients[attacker] = c
        let zero = Data(repeating: 0, count: 32)
        func t(_ b: [UInt8]) -> [UInt8] { withUnsafeBytes(of: UInt32(b.count).bigEndian, Array.init) + b }
        let signed = t(Array("pllm.secagg.v1.advertise".utf8)) + withUnsafeBytes(of: round.bigEndian, Array.init)
            + withUnsafeBytes(of: p.bigEndian, Array.init) + t([UInt8](zero)) + t([UInt8](real.maskingKey))
        let bad = AdvertiseKeys(round: round, sender: p, encryptionKey: zero, maskingKey: real.maskingKey,
                                signature: Data(d.clients[attacker].identity.sign(signed)))
        await #expect { try await d.coordinator.submit(.advertiseKeys(bad), from: d.clients[attacker].client, now: at(d.now)) }
            throws: { ($0 as? CoordinatorError)?.code == .messageRejected }
        #expect(await d.coordinator.openRound?.excluded == [p])
        let honest = Set(s.dropFirst())
        try await d.advertise(round, except: [attacker])
        try await d.shareKeys(round, except: [attacker])
        try await d.maskedInput(round, except: [attacker])
        try await d.consistency(round, except: [attacker])
        try await d.unmask(round, except: [attacker])
        let record = try #require(await d.coordinator.lastRound)
        #expect(record.stage == .completed && record.included == honest.count)
    }
}

/// Issue 16, item 5: a client excluded for a provably bad message in K rounds is no longer
/// sampled, the count survives a restart, and `pcoord status` shows it (through `exclusions`).
@Suite struct SuspensionTests {
    @Test func repeatOffenderIsSuspendedFromSampling() async throws {
        var settings = try testSettings(clients: 4, minimum: 3, noise: 0.5)
        settings.suspendAfterExclusions = 2
        let dir = try await makeCoordinatorDirectory("suspend", settings: settings)
        defer { cleanup(dir) }
        let d = try await RoundDriver(dir: dir, clients: 4)
        let offender = 0
        for _ in 0..<2 {
            let round = try await d.open()
            #expect(d.sampled.contains(offender))
            var c = d.clients[offender]
            let real = try c.secagg!.advertiseKeys(using: &c.rng)
            d.clients[offender] = c
            var sig = [UInt8](real.signature)
            sig[0] ^= 1
            let forged = AdvertiseKeys(round: round, sender: real.sender, encryptionKey: real.encryptionKey, maskingKey: real.maskingKey, signature: Data(sig))
            await #expect { try await d.coordinator.submit(.advertiseKeys(forged), from: d.clients[offender].client, now: at(d.now)) }
                throws: { ($0 as? CoordinatorError)?.code == .messageRejected }
            try await d.advertise(round, except: [offender])
            try await d.shareKeys(round, except: [offender])
            try await d.maskedInput(round, except: [offender])
            try await d.consistency(round, except: [offender])
            try await d.unmask(round, except: [offender])
            #expect(await d.coordinator.lastRound?.stage == .completed)
            d.advance(1)
        }
        let id = d.clients[offender].client.id
        #expect(await d.coordinator.exclusions[id] == 2)
        #expect(await d.coordinator.isSuspended(id))
        try d.reopen()
        #expect(await d.coordinator.isSuspended(id), "derived from the stored rounds")
        // The other three still make a round (after the sample wait), without the offender.
        try await d.poll()
        d.advance(11)
        let round = try await d.open()
        #expect(round == 3)
        #expect(!d.sampled.contains(offender) && d.sampled.count == 3)
    }
}
