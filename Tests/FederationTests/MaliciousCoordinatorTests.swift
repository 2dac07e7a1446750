import Diagnostics
import Foundation
import Federation
import Seal
import Testing

/// Issue 16: a lying coordinator, built from the real `SecAggServer` and real `SecAggClient`s, whose
/// messages are manipulated between the two. Each test plays one attack and checks that the honest
/// clients now refuse it.
@Suite struct MaliciousCoordinatorTests {
    /// Five honest clients with fixed identities and generators; `parameters[id]` is what the
    /// coordinator's (unsigned) round status told each one.
    struct Cohort {
        var identities: [ParticipantID: Identity] = [:]
        var keys: [ParticipantID: IdentityPublicKeys] = [:]
        var clients: [ParticipantID: SecAggClient] = [:]
        var rngs: [ParticipantID: ChaChaRandom] = [:]
        var server: SecAggServer

        init(n: Int, threshold: Int, scenario: String) throws {
            let setups = (1...n).map { ClientSetup.make(id: ParticipantID($0), scenario: scenario, input: [UInt32($0), 0, 0, 0]) }
            for s in setups { identities[s.id] = try s.identity(); keys[s.id] = identities[s.id]!.publicKeys }
            let p = SecAggParameters(round: 7, threshold: threshold, vectorLength: 4)
            server = try SecAggServer(parameters: p, identities: keys)
            for s in setups {
                clients[s.id] = try SecAggClient(parameters: p, id: s.id, identity: identities[s.id]!, identities: keys)
                rngs[s.id] = ChaChaRandom(seed: try Hex.decode(s.rngSeed))
            }
        }

        var ids: [ParticipantID] { clients.keys.sorted() }

        mutating func roster() throws -> KeyRoster {
            for id in ids { try server.receive(try clients[id]!.advertiseKeys(using: &rngs[id]!)) }
            return try server.closeAdvertiseKeys()
        }

        /// Everyone shares keys and sends a masked input through the real server.
        mutating func throughMaskedInput() throws {
            let r = try roster()
            for id in ids { try server.receive(try clients[id]!.shareKeys(roster: r, using: &rngs[id]!)) }
            for m in try server.closeShareKeys() {
                try server.receive(try clients[m.recipient]!.maskedInput(shares: m, input: [UInt32(m.recipient), 0, 0, 0]))
            }
            _ = try server.closeMaskedInput()
        }
    }

    /// Item 1, the split-view attack with t = 2 among n = 5 (what the old coordinator chose: t =
    /// minimumClients). How it unmasked client 1 before the fix:
    ///
    ///   1. everyone advertises, shares keys and sends y_u (client 1's y_1 = x_1 + PRG(b_1) + Σ ±PRG(s_1v));
    ///   2. the coordinator shows A = [1, 2, 3] to clients 2 and 3, and B = [2, 3, 4, 5] ("1 dropped")
    ///      to clients 4 and 5; each group signs its own list and gets an unmask request carrying t = 2
    ///      signatures on that list, which it accepted;
    ///   3. 2 and 3 reveal their shares of b_1 (1 is alive in A), 4 and 5 their shares of s_1
    ///      (1 dropped in B): t = 2 of each rebuild b_1 and s_1, and x_1 = y_1 − PRG(b_1) ∓ PRG(s_1v).
    ///
    /// Now every client refuses at ShareKeys, before its secrets leave it: 2t = 4 ≤ |U1| = 5.
    @Test func splitViewWithAMinorityThresholdIsRefusedBeforeAnyShareLeaves() throws {
        var c = try Cohort(n: 5, threshold: 2, scenario: "split.minority")
        let roster = try c.roster()
        for id in c.ids {
            #expect { try c.clients[id]!.shareKeys(roster: roster, using: &c.rngs[id]!) } throws: {
                ($0 as? FederationError)?.code == .unsafeParameters
            }
        }
    }

    /// Item 1 with the coordinator's new threshold t = ⌊5/2⌋ + 1 = 3: the same split view now
    /// leaves the second group one signature short, so the coordinator gets t shares of b_1 from the
    /// first group and not one share of s_1.
    @Test func splitViewWithAMajorityThresholdYieldsOnlyOneKindOfShare() throws {
        var c = try Cohort(n: 5, threshold: RoundMachineThreshold.of(5), scenario: "split.majority")
        try c.throughMaskedInput()
        let listA = SurvivorList(round: 7, survivors: [1, 2, 3])
        let listB = SurvivorList(round: 7, survivors: [2, 3, 4, 5])
        var sigsA: [ConsistencySignature] = []
        for id: ParticipantID in [1, 2, 3] { sigsA.append(try c.clients[id]!.consistencyCheck(listA)) }
        var sigsB: [ConsistencySignature] = []
        for id: ParticipantID in [4, 5] { sigsB.append(try c.clients[id]!.consistencyCheck(listB)) }
        // Group A reveals the self-mask shares of client 1 ...
        var selfShares: [ShamirShare] = []
        for id: ParticipantID in [1, 2, 3] {
            let r = try c.clients[id]!.unmask(UnmaskRequest(round: 7, survivors: listA.survivors, signatures: sigsA))
            selfShares += r.selfMaskShares.filter { $0.owner == 1 }.map { ShamirShare(x: id, y: [UInt8]($0.share)) }
        }
        #expect(selfShares.count == 3)
        // ... but group B has two signatures on B, and A's signatures do not verify on B.
        for id: ParticipantID in [4, 5] {
            #expect { try c.clients[id]!.unmask(UnmaskRequest(round: 7, survivors: listB.survivors, signatures: sigsB)) } throws: {
                ($0 as? FederationError)?.code == .tooFewParticipants
            }
            #expect { try c.clients[id]!.unmask(UnmaskRequest(round: 7, survivors: listB.survivors, signatures: sigsB + sigsA.filter { $0.sender != 1 })) } throws: {
                ($0 as? FederationError)?.code == .badSignature
            }
        }
        // Group A will not answer for list B either (it would reveal s_1 after b_1).
        #expect { try c.clients[2]!.unmask(UnmaskRequest(round: 7, survivors: listB.survivors, signatures: sigsB)) } throws: {
            ($0 as? FederationError)?.code == .wouldRevealBoth
        }
    }

    /// Item 1, the roster split: clients that saw different key rosters (U1) or different
    /// parameters sign different transcripts, so a coordinator cannot pool their signatures into
    /// one unmask request.
    @Test func survivorSignaturesBindTheRosterAndTheParameters() throws {
        var c = try Cohort(n: 3, threshold: 2, scenario: "roster.split")
        try c.throughMaskedInput()
        let list = SurvivorList(round: 7, survivors: [1, 2, 3])
        let s1 = try c.clients[1]!.consistencyCheck(list)
        // Client 3 was told another threshold (t = 3) and saw the same roster: its signature is over other parameters.
        var other = try Cohort(n: 3, threshold: 3, scenario: "roster.split")
        try other.throughMaskedInput()
        let s3 = try other.clients[3]!.consistencyCheck(list)
        #expect { try c.clients[1]!.unmask(UnmaskRequest(round: 7, survivors: list.survivors, signatures: [s1, s3])) } throws: {
            ($0 as? FederationError)?.code == .badSignature
        }
        // And the real server refuses a signature made over another view, excluding its sender.
        #expect { try c.server.receive(s3) } throws: { ($0 as? FederationError)?.code == .badSignature }
    }

    /// Item 5: a client advertising a low-order X25519 key (signed: it is enrolled) would make
    /// every honest agreement with it fail and every honest client leave the round. The server
    /// refuses the advertisement (the coordinator excludes the sender); the round goes on.
    @Test func lowOrderKeysAreRefusedAtAdvertisement() throws {
        var c = try Cohort(n: 3, threshold: 2, scenario: "low-order")
        let ad = try c.clients[3]!.advertiseKeys(using: &c.rngs[3]!)
        // The all-zero point and a point of order 8 (both refused by crypto_scalarmult).
        let lowOrder: [[UInt8]] = [[UInt8](repeating: 0, count: 32),
                                   try Hex.decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
        for point in lowOrder {
            #expect(!X25519.isAcceptablePublicKey(point))
            let bytes = try signedAdvertisement(round: 7, sender: 3, encryptionKey: Data(point), maskingKey: ad.maskingKey)
            let forged = AdvertiseKeys(round: 7, sender: 3, encryptionKey: Data(point), maskingKey: ad.maskingKey,
                                       signature: Data(c.identities[3]!.sign(bytes)))
            #expect { try c.server.receive(forged) } throws: { ($0 as? FederationError)?.code == .invalidKey }
        }
        #expect(X25519.isAcceptablePublicKey(ad.encryptionKey))
        for id: ParticipantID in [1, 2] { try c.server.receive(try c.clients[id]!.advertiseKeys(using: &c.rngs[id]!)) }
        #expect(try c.server.closeAdvertiseKeys().advertisements.map(\.sender) == [1, 2])
    }

    /// The advertisement transcript of PROTOCOL.md §1.7 stage 0, written out here independently.
    func signedAdvertisement(round: UInt64, sender: UInt16, encryptionKey: Data, maskingKey: Data) throws -> [UInt8] {
        func t(_ b: [UInt8]) -> [UInt8] { withUnsafeBytes(of: UInt32(b.count).bigEndian, Array.init) + b }
        return t(Array("pllm.secagg.v1.advertise".utf8)) + withUnsafeBytes(of: round.bigEndian, Array.init)
            + withUnsafeBytes(of: sender.bigEndian, Array.init) + t([UInt8](encryptionKey)) + t([UInt8](maskingKey))
    }
}

/// The coordinator's rule (CoordinatorCore's `RoundMachine.threshold`), restated: a strict majority.
enum RoundMachineThreshold {
    static func of(_ n: Int, minimum: Int = 2) -> Int { max(minimum, n / 2 + 1) }
}
