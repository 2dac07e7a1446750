import Testing
import Federation
import Seal

@Suite struct MaskingTests {
    @Test func bothSidesDeriveTheSameSeedAndOrderMatters() throws {
        var rng = ChaChaRandom(seed: seed("mask.keys"))
        let a = X25519.keyPair(using: &rng), b = X25519.keyPair(using: &rng)
        let ab = try X25519.pairwiseMaskSeed(secret: a.secret, ownID: 3, ownPublic: a.publicKey, peerID: 9, peerPublic: b.publicKey, round: 1)
        let ba = try X25519.pairwiseMaskSeed(secret: b.secret, ownID: 9, ownPublic: b.publicKey, peerID: 3, peerPublic: a.publicKey, round: 1)
        #expect(ab == ba)
        let otherRound = try X25519.pairwiseMaskSeed(secret: a.secret, ownID: 3, ownPublic: a.publicKey, peerID: 9, peerPublic: b.publicKey, round: 2)
        let shareKey = try X25519.pairwiseShareKey(secret: a.secret, ownID: 3, ownPublic: a.publicKey, peerID: 9, peerPublic: b.publicKey, round: 1)
        let raw = try X25519.sharedSecret(secret: a.secret, peer: b.publicKey)
        #expect(ab != otherRound)
        #expect(ab != shareKey)
        #expect(bytes(of: ab) != raw)
    }

    @Test func lowOrderPublicKeysAreRefused() throws {
        var rng = ChaChaRandom(seed: seed("mask.low"))
        let a = X25519.keyPair(using: &rng)
        #expect(throws: FederationError.self) { try X25519.sharedSecret(secret: a.secret, peer: [UInt8](repeating: 0, count: 32)) }
    }

    @Test func expansionIsChunkedAndPrefixStable() throws {
        let s = SecretBytes(copying: seed("mask.seed"))
        let long = MaskExpansion.expand(seed: s, round: 5, count: MaskExpansion.chunkWords + 10)
        let short = MaskExpansion.expand(seed: s, round: 5, count: 10)
        #expect(Array(long.prefix(10)) == short)
        // Chunk 1 restarts under a new nonce, so it is not the continuation of chunk 0's stream...
        let twoChunksAsOne = MaskExpansion.expand(seed: s, round: 5, count: 2 * MaskExpansion.chunkWords)
        #expect(Array(twoChunksAsOne.prefix(MaskExpansion.chunkWords + 10)) == long)
        // ...and a different round gives a different mask.
        #expect(MaskExpansion.expand(seed: s, round: 6, count: 10) != short)
        var v = long
        MaskExpansion.apply(seed: s, round: 5, sign: .subtract, to: &v)
        #expect(v.allSatisfy { $0 == 0 })
    }

    @Test func manyMasksInParallelEqualOneByOne() {
        let seeds = (0..<5).map { SecretBytes(copying: seed("mask.many.\($0)")) }
        let count = 3 * MaskExpansion.chunkWords + 123
        var oneByOne = randomWords(count, "mask.many.start")
        var parallel = oneByOne
        for (i, s) in seeds.enumerated() { MaskExpansion.apply(seed: s, round: 8, sign: i % 2 == 0 ? .add : .subtract, to: &oneByOne) }
        MaskExpansion.apply(seeds.enumerated().map { ($0.element, $0.offset % 2 == 0 ? .add : .subtract) }, round: 8, to: &parallel, workers: 3)
        #expect(parallel == oneByOne)
    }

    @Test func neighbourGraphIsSymmetricRegularAndSeeded() throws {
        let ids = (1...40).map(ParticipantID.init)
        let graph = try NeighbourGraph(degree: 6, seed: seed("graph"))
        let params = SecAggParameters(round: 1, threshold: 4, vectorLength: 1, graph: graph)
        var edges = 0
        for u in ids {
            let n = neighbours(params, u, ids)
            #expect(n.count == 6)
            #expect(!n.contains(u))
            for v in n { #expect(neighbours(params, v, ids).contains(u)) }
            edges += n.count
        }
        #expect(edges == 40 * 6)
        let other = SecAggParameters(round: 1, threshold: 4, vectorLength: 1, graph: try NeighbourGraph(degree: 6, seed: seed("graph2")))
        #expect(ids.map { neighbours(params, $0, ids) } != ids.map { neighbours(other, $0, ids) })
    }

    private func neighbours(_ p: SecAggParameters, _ u: ParticipantID, _ ids: [ParticipantID]) -> [ParticipantID] {
        p.graph!.neighbourList(of: u, among: ids)
    }
}
