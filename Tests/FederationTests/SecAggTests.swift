import Diagnostics
import Testing
import Foundation
import Federation
import Seal

@Suite struct SecAggTests {
    func clients(_ n: Int, length: Int, scenario: String) -> [ClientSetup] {
        (1...n).map { ClientSetup.make(id: ParticipantID($0), scenario: scenario, input: randomWords(length, "\(scenario).input.\($0)")) }
    }

    @Test func noDropoutsGivesThePlainSum() throws {
        let cs = clients(5, length: 100, scenario: "none")
        let outcome = try runRound(parameters: SecAggParameters(round: 1, threshold: 3, vectorLength: 100), clients: cs)
        #expect(outcome.sum == plainSum(cs, of: [1, 2, 3, 4, 5]))
        // Masked inputs look nothing like the inputs.
        #expect(outcome.maskedInputs[1] != cs[0].input)
    }

    @Test func dropoutsBeforeMaskedInputAreUnmaskedThroughKeyShares() throws {
        let cs = clients(6, length: 70_000, scenario: "drop2")   // more than one mask chunk
        let outcome = try runRound(parameters: SecAggParameters(round: 9, threshold: 4, vectorLength: 70_000), clients: cs,
                                   dropBefore: [2: [2, 5]])
        #expect(outcome.included == [1, 3, 4, 6])
        #expect(outcome.sum == plainSum(cs, of: [1, 3, 4, 6]))
        // Survivors reveal key shares of the dropouts and self-mask shares of the survivors, never both.
        for r in outcome.responses.values {
            #expect(Set(r.keyShares.map(\.owner)) == [2, 5])
            #expect(Set(r.selfMaskShares.map(\.owner)).isDisjoint(with: [2, 5]))
        }
    }

    @Test func dropoutsAfterMaskedInputStillCount() throws {
        let cs = clients(7, length: 16, scenario: "drop3")
        let outcome = try runRound(parameters: SecAggParameters(round: 2, threshold: 4, vectorLength: 16), clients: cs,
                                   dropBefore: [1: [4], 3: [5], 4: [1]])
        #expect(outcome.included == [1, 2, 3, 5, 6, 7])
        #expect(outcome.sum == plainSum(cs, of: [1, 2, 3, 5, 6, 7]))
    }

    @Test func secAggPlusNeighbourGraphWithDropouts() throws {
        let cs = clients(12, length: 33, scenario: "plus")
        let graph = try NeighbourGraph(degree: 4, seed: seed("plus.graph"))
        let outcome = try runRound(parameters: SecAggParameters(round: 4, threshold: 3, vectorLength: 33, graph: graph), clients: cs,
                                   dropBefore: [2: [3, 8], 4: [11]])
        let alive = (1...12).map(ParticipantID.init).filter { ![3, 8].contains($0) }
        #expect(outcome.included == alive)
        #expect(outcome.sum == plainSum(cs, of: alive))
    }

    /// SecAgg+ as the coordinator runs it: the round's minimum (t = 14) is larger than a
    /// neighbourhood (k + 1 = 7), shares are rebuilt with t_k = 4 from neighbours only, and a
    /// survivor's response carries shares of its neighbours and nobody else.
    @Test func secAggPlusGlobalMinimumAboveNeighbourhoodSize() throws {
        let cs = clients(20, length: 70_000, scenario: "plus.big")
        let graph = try NeighbourGraph(degree: 6, seed: seed("plus.big.graph"))
        #expect(graph.threshold == 4)
        let p = SecAggParameters(round: 5, threshold: 14, vectorLength: 70_000, graph: graph)
        #expect(p.shareThreshold == 4)
        let outcome = try runRound(parameters: p, clients: cs, dropBefore: [2: [4, 9, 17], 4: [12]])
        let alive = (1...20).map(ParticipantID.init).filter { ![4, 9, 17].contains($0) }
        #expect(outcome.included == alive)
        #expect(outcome.sum == plainSum(cs, of: alive))
        let everyone = (1...20).map(ParticipantID.init)
        let adjacency = graph.adjacency(among: everyone)
        for (sender, r) in outcome.responses {
            let holders = Set(adjacency[sender]! + [sender])
            #expect(Set(r.selfMaskShares.map(\.owner) + r.keyShares.map(\.owner)).isSubset(of: holders))
            #expect(adjacency[sender]!.count == 6)
        }
        for u in everyone { #expect(adjacency[u] == graph.neighbourList(of: u, among: everyone)) }
    }

    @Test func neighbourGraphThresholdIsCheckedWhenDecoded() throws {
        #expect(throws: FederationError.self) { try NeighbourGraph(degree: 4, seed: seed("g"), threshold: 6) }
        #expect(throws: FederationError.self) { try NeighbourGraph(degree: 5, seed: seed("g")) }
        let good = try NeighbourGraph(degree: 4, seed: seed("g"), threshold: 5)
        var json = String(decoding: try JSONEncoder().encode(good), as: UTF8.self)
        #expect(try JSONDecoder().decode(NeighbourGraph.self, from: Data(json.utf8)) == good)
        json = json.replacingOccurrences(of: "\"threshold\":5", with: "\"threshold\":1")
        #expect(throws: FederationError.self) { try JSONDecoder().decode(NeighbourGraph.self, from: Data(json.utf8)) }
    }

    @Test func tooFewSurvivorsAbort() throws {
        let cs = clients(4, length: 4, scenario: "few")
        #expect { try runRound(parameters: SecAggParameters(round: 1, threshold: 3, vectorLength: 4), clients: cs, dropBefore: [2: [1, 2]]) }
            throws: { ($0 as? FederationError)?.code == .tooFewParticipants }
    }

    /// Sets up clients and runs them to the consistency check by hand, for the attack tests.
    struct Harness {
        var server: SecAggServer
        var clients: [ParticipantID: SecAggClient] = [:]
        var rngs: [ParticipantID: ChaChaRandom] = [:]
        var identities: [ParticipantID: Identity] = [:]
        var roster: KeyRoster?

        init(n: Int, threshold: Int) throws {
            let setups = (1...n).map { ClientSetup.make(id: ParticipantID($0), scenario: "harness", input: [UInt32(0), 0]) }
            var keys: [ParticipantID: IdentityPublicKeys] = [:]
            for s in setups { identities[s.id] = try s.identity(); keys[s.id] = identities[s.id]!.publicKeys }
            let p = SecAggParameters(round: 3, threshold: threshold, vectorLength: 2)
            server = try SecAggServer(parameters: p, identities: keys)
            for s in setups {
                clients[s.id] = try SecAggClient(parameters: p, id: s.id, identity: identities[s.id]!, identities: keys)
                rngs[s.id] = ChaChaRandom(seed: try Hex.decode(s.rngSeed))
            }
        }

        mutating func advertise() throws -> [ParticipantID: AdvertiseKeys] {
            var out: [ParticipantID: AdvertiseKeys] = [:]
            for id in clients.keys.sorted() { out[id] = try clients[id]!.advertiseKeys(using: &rngs[id]!) }
            return out
        }

        mutating func toConsistency(drop: Set<ParticipantID> = []) throws -> SurvivorList {
            for ad in try advertise().values { try server.receive(ad) }
            roster = try server.closeAdvertiseKeys()
            for id in clients.keys.sorted() { try server.receive(try clients[id]!.shareKeys(roster: roster!, using: &rngs[id]!)) }
            for m in try server.closeShareKeys() where !drop.contains(m.recipient) {
                try server.receive(try clients[m.recipient]!.maskedInput(shares: m, input: [1, 2]))
            }
            return try server.closeMaskedInput()
        }
    }

    @Test func forgedAdvertisementIsRefusedByServerAndClients() throws {
        var h = try Harness(n: 3, threshold: 2)
        let ads = try h.advertise()
        let real = ads[2]!
        let forged = AdvertiseKeys(round: real.round, sender: 2, encryptionKey: Data(repeating: 9, count: 32), maskingKey: real.maskingKey, signature: real.signature)
        #expect { try h.server.receive(forged) } throws: { ($0 as? FederationError)?.code == .badSignature }
        // A malicious server that forwards it anyway is caught by the clients.
        let roster = KeyRoster(round: 3, advertisements: [ads[1]!, forged, ads[3]!])
        #expect { try h.clients[1]!.shareKeys(roster: roster, using: &h.rngs[1]!) } throws: { ($0 as? FederationError)?.code == .badSignature }
        // Wrong round.
        let stale = KeyRoster(round: 2, advertisements: Array(ads.values))
        #expect { try h.clients[3]!.shareKeys(roster: stale, using: &h.rngs[3]!) } throws: { ($0 as? FederationError)?.code == .protocolViolation }
    }

    @Test func tamperedOrMisroutedSharesDoNotOpen() throws {
        var h = try Harness(n: 3, threshold: 2)
        for ad in try h.advertise().values { try h.server.receive(ad) }
        let roster = try h.server.closeAdvertiseKeys()
        for id in [ParticipantID(1), 2, 3] { try h.server.receive(try h.clients[id]!.shareKeys(roster: roster, using: &h.rngs[id]!)) }
        let forwarded = try h.server.closeShareKeys()
        let to1 = forwarded.first { $0.recipient == 1 }!
        var flipped = [UInt8](to1.shares[0].ciphertext)
        flipped[30] ^= 0x80
        let tampered = SharesForYou(round: 3, recipient: 1, shares: [EncryptedShare(sender: to1.shares[0].sender, recipient: 1, ciphertext: Data(flipped)), to1.shares[1]])
        var c1 = h.clients[1]!
        #expect { try c1.maskedInput(shares: tampered, input: [0, 0]) } throws: { ($0 as? FederationError)?.code == .decryptionFailed }
        // The share 2 sealed for 3, relabelled as if 2 had sent it to 1, fails its associated data.
        let to3 = forwarded.first { $0.recipient == 3 }!
        let from2to3 = to3.shares.first { $0.sender == 2 }!
        let relabelled = SharesForYou(round: 3, recipient: 1, shares: [EncryptedShare(sender: 2, recipient: 1, ciphertext: from2to3.ciphertext)])
        var c1b = h.clients[1]!
        #expect { try c1b.maskedInput(shares: relabelled, input: [0, 0]) } throws: { ($0 as? FederationError)?.code == .decryptionFailed }
    }

    @Test func serverShowingDifferentSurvivorListsIsCaught() throws {
        var h = try Harness(n: 4, threshold: 3)
        let list = try h.toConsistency()
        #expect(list.survivors == [1, 2, 3, 4])
        // The server tells client 1 that 4 dropped, and everyone else the truth.
        let lie = SurvivorList(round: 3, survivors: [1, 2, 3])
        let lieSig = try h.clients[1]!.consistencyCheck(lie)
        #expect { try h.server.receive(lieSig) } throws: { ($0 as? FederationError)?.code == .badSignature }
        var sigs = [lieSig]
        for id in [ParticipantID(2), 3, 4] {
            let s = try h.clients[id]!.consistencyCheck(list)
            try h.server.receive(s)
            sigs.append(s)
        }
        // A request mixing the lie's signature into the true list fails at every honest client.
        let mixed = UnmaskRequest(round: 3, survivors: list.survivors, signatures: sigs)
        #expect { try h.clients[2]!.unmask(mixed) } throws: { ($0 as? FederationError)?.code == .badSignature }
        // Client 1 will not unmask against the true list: it signed another one.
        let honest = try h.server.closeConsistencyCheck()
        #expect { try h.clients[1]!.unmask(honest) } throws: { ($0 as? FederationError)?.code == .wouldRevealBoth }
    }

    @Test func clientsNeverRevealBothSharesOfOneParticipant() throws {
        var h = try Harness(n: 4, threshold: 3)
        let list = try h.toConsistency(drop: [4])
        #expect(list.survivors == [1, 2, 3])
        for id in list.survivors { try h.server.receive(try h.clients[id]!.consistencyCheck(list)) }
        let request = try h.server.closeConsistencyCheck()
        let first = try h.clients[1]!.unmask(request)
        #expect(first.keyShares.map(\.owner) == [4])
        #expect(first.selfMaskShares.map(\.owner) == [1, 2, 3])
        // The same request again gets the same answer (a retry) ...
        #expect(try h.clients[1]!.unmask(request) == first)
        // ... but a request claiming 3 dropped too (to get 3's key share after its self-mask share) is refused.
        let greedy = UnmaskRequest(round: 3, survivors: [1, 2], signatures: request.signatures)
        #expect { try h.clients[1]!.unmask(greedy) } throws: { ($0 as? FederationError)?.code == .wouldRevealBoth }
        // The server refuses a response that mixes both kinds for one owner.
        let both = UnmaskResponse(round: 3, sender: 2, selfMaskShares: [RevealedShare(owner: 3, share: Data(count: 32))],
                                  keyShares: [RevealedShare(owner: 3, share: Data(count: 32))])
        #expect { try h.server.receive(both) } throws: { ($0 as? FederationError)?.code == .protocolViolation }
    }

    @Test func wrongShareFromASurvivorIsDetected() throws {
        var h = try Harness(n: 4, threshold: 3)
        let list = try h.toConsistency(drop: [4])
        for id in list.survivors { try h.server.receive(try h.clients[id]!.consistencyCheck(list)) }
        let request = try h.server.closeConsistencyCheck()
        for id in list.survivors {
            var r = try h.clients[id]!.unmask(request)
            if id == 2 {
                var bad = [UInt8](r.keyShares[0].share)
                bad[5] ^= 1   // not byte 0: X25519 clamps its low three bits, so a flip there rebuilds an equivalent key
                r = UnmaskResponse(round: r.round, sender: r.sender, selfMaskShares: r.selfMaskShares,
                                   keyShares: [RevealedShare(owner: 4, share: Data(bad))])
            }
            try h.server.receive(r)
        }
        #expect { try h.server.finish() } throws: { ($0 as? FederationError)?.code == .inconsistentShares }
    }

    @Test func stageOrderAndDuplicatesAreEnforced() throws {
        var h = try Harness(n: 3, threshold: 2)
        let ads = try h.advertise()
        try h.server.receive(ads[1]!)
        #expect { try h.server.receive(ads[1]!) } throws: { ($0 as? FederationError)?.code == .protocolViolation }
        #expect { try h.server.closeShareKeys() } throws: { ($0 as? FederationError)?.code == .wrongStage }
        #expect { try h.server.closeAdvertiseKeys() } throws: { ($0 as? FederationError)?.code == .tooFewParticipants }
        #expect { try h.clients[1]!.advertiseKeys(using: &h.rngs[1]!) } throws: { ($0 as? FederationError)?.code == .wrongStage }
    }

    @Test func messagesRoundTripThroughJSON() throws {
        let m = MaskedInput(round: 1, sender: 2, vector: [0, 1, .max, 0x01020304])
        let data = try JSONEncoder().encode(m)
        #expect(String(decoding: data, as: UTF8.self).contains("\"words\":\"AAAAAAEAAAD\\/\\/\\/\\/\\/BAMCAQ==\""))
        #expect(try JSONDecoder().decode(MaskedInput.self, from: data).vector == [0, 1, .max, 0x01020304])
    }
}
