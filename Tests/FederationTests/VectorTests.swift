import Testing
import Foundation
import Federation
import Seal

// Each vector file is computed here from fixed seeds; the tests check that the stored file says
// exactly the same. `PLLM_WRITE_VECTORS=1 swift test --filter VectorTests` rewrites the files.

struct MaskExpansionVector: Codable, Equatable {
    var description = "X25519 agreement → pairwise seed → ChaCha20 mask words; see PROTOCOL.md §Cryptographic encodings"
    var round: UInt64
    var lowID: ParticipantID
    var lowSecret: String
    var lowPublic: String
    var highID: ParticipantID
    var highSecret: String
    var highPublic: String
    var sharedSecret: String
    var maskSeed: String
    var shareKey: String
    var maskFirstWords: [UInt32]
    var chunkBoundaryFirstIndex: Int
    var maskChunkBoundaryWords: [UInt32]
    var selfMaskSeed: String
    var selfMaskFirstWords: [UInt32]

    static func compute() throws -> Self {
        let round: UInt64 = 7
        let lowSecret = seed("vector.mask.low"), highSecret = seed("vector.mask.high")
        let lo = SecretBytes(copying: lowSecret), hi = SecretBytes(copying: highSecret)
        let loPK = X25519.publicKey(secret: lo), hiPK = X25519.publicKey(secret: hi)
        let maskSeed = try X25519.pairwiseMaskSeed(secret: lo, ownID: 2, ownPublic: loPK, peerID: 5, peerPublic: hiPK, round: round)
        let shareKey = try X25519.pairwiseShareKey(secret: hi, ownID: 5, ownPublic: hiPK, peerID: 2, peerPublic: loPK, round: round)
        let boundary = MaskExpansion.chunkWords - 2
        let words = MaskExpansion.expand(seed: maskSeed, round: round, count: boundary + 4)
        let selfSeed = seed("vector.mask.self")
        return Self(round: round, lowID: 2, lowSecret: Hex.encode(lowSecret), lowPublic: Hex.encode(loPK),
                    highID: 5, highSecret: Hex.encode(highSecret), highPublic: Hex.encode(hiPK),
                    sharedSecret: Hex.encode(try X25519.sharedSecret(secret: lo, peer: hiPK)),
                    maskSeed: Hex.encode(bytes(of: maskSeed)), shareKey: Hex.encode(bytes(of: shareKey)),
                    maskFirstWords: Array(words.prefix(8)), chunkBoundaryFirstIndex: boundary,
                    maskChunkBoundaryWords: Array(words.suffix(4)), selfMaskSeed: Hex.encode(selfSeed),
                    selfMaskFirstWords: MaskExpansion.expand(seed: SecretBytes(copying: selfSeed), round: round, count: 8))
    }
}

struct FixedPointVector: Codable, Equatable {
    struct Client: Codable, Equatable {
        var rngSeed: String
        var input: [Float]
        var encoded: [UInt32]
    }
    var description = "Stochastic fixed-point encoding mod 2^32 with ChaChaRandom(rngSeed); sum and exact decoding"
    var range: Double
    var scaleBits: Int
    var maxSummands: Int
    var clients: [Client]
    var sum: [UInt32]
    var decodedSum: [Double]
    var outOfRange: [Float]

    static func compute() throws -> Self {
        let codec = try FixedPointCodec(range: 4, scaleBits: 16, maxSummands: 3)
        let inputs: [[Float]] = [[0, 1, -1, 0.3, -0.3, 3.99, -4, 1e-6],
                                 [0.5, -2.25, 2.5, 0.1, 3.5, -3.75, 0.0001, -0.0001],
                                 [-0.5, 1.25, -1.5, 0.6, -3, 0.125, 1.999, -1e-5]]
        var sum = [UInt32](repeating: 0, count: 8)
        var clients: [Client] = []
        for (i, input) in inputs.enumerated() {
            let s = seed("vector.fixed.\(i)")
            var rng = ChaChaRandom(seed: s)
            let encoded = try codec.encode(input, using: &rng)
            try RingVector.add(encoded, into: &sum)
            clients.append(Client(rngSeed: Hex.encode(s), input: input, encoded: encoded))
        }
        return Self(range: codec.range, scaleBits: codec.scaleBits, maxSummands: codec.maxSummands, clients: clients,
                    sum: sum, decodedSum: codec.decode(sum), outOfRange: [4, -4.0001, 100])
    }
}

struct ShamirVector: Codable, Equatable {
    struct Share: Codable, Equatable { var x: UInt16; var y: String }
    struct Recovery: Codable, Equatable { var xs: [UInt16]; var secret: String }
    var description = "Shamir 3-of-5 over GF(2^16) mod x^16+x^12+x^3+x+1, elements little endian; fixed coefficients"
    var secret: String
    var threshold: Int
    var coefficients: [String]
    var shares: [Share]
    var recoveries: [Recovery]

    static func compute() throws -> Self {
        let secret = seed("vector.shamir.secret")
        let coefficients = [seed("vector.shamir.a1"), seed("vector.shamir.a2")]
        let xs: [UInt16] = [1, 2, 3, 4, 300]
        let shares = try Shamir.split(secret: secret, xs: xs, coefficients: coefficients)
        let subsets: [[Int]] = [[0, 1, 2], [4, 2, 0], [1, 3, 4], [0, 1, 2, 3, 4]]
        let recoveries = try subsets.map { idx in
            Recovery(xs: idx.map { xs[$0] }, secret: Hex.encode(try Shamir.combine(idx.map { shares[$0] }, threshold: 3)))
        }
        return Self(secret: Hex.encode(secret), threshold: 3, coefficients: coefficients.map { Hex.encode($0) },
                    shares: shares.map { Share(x: $0.x, y: Hex.encode($0.y)) }, recoveries: recoveries)
    }
}

struct SecAggRoundVector: Codable, Equatable {
    struct Keys: Codable, Equatable { var id: ParticipantID; var encryptionKey: String; var maskingKey: String }
    struct Words: Codable, Equatable {
        var id: ParticipantID; var words: [UInt32]
        struct Signature: Codable, Equatable { var id: ParticipantID; var signature: String }
    }
    struct Round: Codable, Equatable {
        var description: String
        var parameters: SecAggParameters
        var clients: [ClientSetup]
        /// Stage number (1 ShareKeys … 4 Unmasking) → participants that send nothing from it on.
        var dropBefore: [String: [ParticipantID]]
        var advertisedKeys: [Keys]
        var maskedInputs: [Words]
        var survivors: [ParticipantID]
        /// H(U1) = BLAKE2b-256 of the v2 roster transcript (PROTOCOL.md §1.7 stage 3), hex.
        var rosterHash: String
        /// Each signer's Ed25519 signature (deterministic) of the v2 survivor transcript, hex.
        var consistencySignatures: [Words.Signature]
        var sum: [UInt32]
    }
    var description = "Full SecAgg rounds, 3 clients, t = 2, every random draw from ChaChaRandom(rngSeed) in the order PROTOCOL.md gives"

    /// The roster hash and the survivor transcript, written out from PROTOCOL.md independently of `Federation`.
    static func rosterHash(_ keys: [Keys]) throws -> [UInt8] {
        var t = lengthPrefixed(Array("pllm.secagg.v2.roster".utf8)) + be(UInt32(keys.count))
        for k in keys.sorted(by: { $0.id < $1.id }) {
            t += be(k.id) + lengthPrefixed(try Hex.decode(k.encryptionKey)) + lengthPrefixed(try Hex.decode(k.maskingKey))
        }
        return Blake2b.hash(t, outputByteCount: 32)
    }

    static func survivorTranscript(_ p: SecAggParameters, rosterHash: [UInt8], survivors: [ParticipantID]) -> [UInt8] {
        lengthPrefixed(Array("pllm.secagg.v2.survivors".utf8)) + be(p.round) + be(UInt32(p.threshold)) + be(UInt32(p.vectorLength))
            + be(UInt32(p.graph?.degree ?? 0)) + lengthPrefixed(p.graph?.seed ?? []) + be(UInt32(p.graph?.threshold ?? 0))
            + lengthPrefixed(rosterHash) + be(UInt32(survivors.count)) + survivors.flatMap { be($0) }
    }

    static func be<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func lengthPrefixed(_ b: [UInt8]) -> [UInt8] { be(UInt32(b.count)) + b }
    var rounds: [Round]

    static func compute() throws -> Self {
        let inputs: [[UInt32]] = [[1, 2, 3, 4, 5, 6, 7, 8],
                                  [100, 200, 300, 400, 500, 600, 700, 800],
                                  [0xFFFF_FFFF, 0xFFFF_FFFE, 0, 0, 10, 20, 30, 40]]
        func round(_ description: String, _ scenario: String, _ dropBefore: [Int: Set<ParticipantID>]) throws -> Round {
            let clients = (1...3).map { ClientSetup.make(id: ParticipantID($0), scenario: "vector.\(scenario)", input: inputs[$0 - 1]) }
            let parameters = SecAggParameters(round: 42, threshold: 2, vectorLength: 8)
            let outcome = try runRound(parameters: parameters, clients: clients, dropBefore: dropBefore)
            precondition(outcome.sum == plainSum(clients, of: outcome.included))
            let keys = outcome.advertisements.keys.sorted().map {
                Keys(id: $0, encryptionKey: Hex.encode(outcome.advertisements[$0]!.encryptionKey),
                     maskingKey: Hex.encode(outcome.advertisements[$0]!.maskingKey))
            }
            return Round(description: description, parameters: parameters, clients: clients,
                         dropBefore: Dictionary(uniqueKeysWithValues: dropBefore.map { (String($0.key), $0.value.sorted()) }),
                         advertisedKeys: keys,
                         maskedInputs: outcome.maskedInputs.keys.sorted().map { Words(id: $0, words: outcome.maskedInputs[$0]!) },
                         survivors: outcome.included, rosterHash: Hex.encode(try rosterHash(keys)),
                         consistencySignatures: outcome.signatures.map { Words.Signature(id: $0.sender, signature: Hex.encode($0.signature)) },
                         sum: outcome.sum)
        }
        return Self(rounds: [
            try round("Client 3 vanishes after sending its masked input: its input counts, its self mask is rebuilt from the shares of 1 and 2.",
                      "after", [3: [3]]),
            try round("Client 3 vanishes before sending its masked input: its pairwise masks are removed with its masking key rebuilt from the shares of 1 and 2.",
                      "before", [2: [3]]),
        ])
    }
}

@Suite struct VectorTests {
    static let files: [(String, @Sendable () throws -> Data)] = [
        ("mask-expansion.json", { try prettyEncoder.encode(MaskExpansionVector.compute()) }),
        ("fixed-point.json", { try prettyEncoder.encode(FixedPointVector.compute()) }),
        ("shamir.json", { try prettyEncoder.encode(ShamirVector.compute()) }),
        ("secagg-round.json", { try prettyEncoder.encode(SecAggRoundVector.compute()) }),
    ]

    @Test(.enabled(if: writeVectors)) func regenerateVectorFiles() throws {
        try FileManager.default.createDirectory(at: vectorsDirectory(), withIntermediateDirectories: true)
        for (name, make) in Self.files {
            var data = try make()
            data.append(0x0a)
            try data.write(to: vectorsDirectory().appendingPathComponent(name))
        }
    }

    func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: vectorsDirectory().appendingPathComponent(name)))
    }

    @Test func maskExpansion() throws {
        let stored = try load(MaskExpansionVector.self, "mask-expansion.json")
        #expect(try MaskExpansionVector.compute() == stored)
        // Independently of the generator: the public keys follow from the secrets.
        #expect(Hex.encode(X25519.publicKey(secret: SecretBytes(copying: try Hex.decode(stored.highSecret)))) == stored.highPublic)
    }

    @Test func fixedPoint() throws {
        let stored = try load(FixedPointVector.self, "fixed-point.json")
        #expect(try FixedPointVector.compute() == stored)
        let codec = try FixedPointCodec(range: stored.range, scaleBits: stored.scaleBits, maxSummands: stored.maxSummands)
        for client in stored.clients {
            var rng = ChaChaRandom(seed: try Hex.decode(client.rngSeed))
            #expect(try codec.encode(client.input, using: &rng) == client.encoded)
        }
        for x in stored.outOfRange {
            var rng = ChaChaRandom(seed: seed("unused"))
            #expect(throws: FederationError.self) { try codec.encode([x], using: &rng) }
        }
    }

    @Test func shamir() throws {
        let stored = try load(ShamirVector.self, "shamir.json")
        #expect(try ShamirVector.compute() == stored)
        let shares = try stored.shares.map { ShamirShare(x: $0.x, y: try Hex.decode($0.y)) }
        for r in stored.recoveries {
            #expect(r.secret == stored.secret)
            let subset = shares.filter { r.xs.contains($0.x) }
            #expect(Hex.encode(try Shamir.combine(subset, threshold: stored.threshold)) == stored.secret)
        }
    }

    @Test func secAggRound() throws {
        let stored = try load(SecAggRoundVector.self, "secagg-round.json")
        #expect(try SecAggRoundVector.compute() == stored)
        // Replay from the stored inputs alone.
        for round in stored.rounds {
            let drops = Dictionary(uniqueKeysWithValues: round.dropBefore.map { (Int($0.key)!, Set($0.value)) })
            let outcome = try runRound(parameters: round.parameters, clients: round.clients, dropBefore: drops)
            #expect(outcome.sum == round.sum)
            #expect(round.sum == plainSum(round.clients, of: round.survivors))
            #expect(round.maskedInputs.allSatisfy { outcome.maskedInputs[$0.id] == $0.words })
            // The v2 survivor signatures verify over the transcript written out independently.
            #expect(round.rosterHash == Hex.encode(try SecAggRoundVector.rosterHash(round.advertisedKeys)))
            let transcript = SecAggRoundVector.survivorTranscript(round.parameters, rosterHash: try Hex.decode(round.rosterHash), survivors: round.survivors)
            #expect(!round.consistencySignatures.isEmpty)
            for s in round.consistencySignatures {
                let identity = try round.clients.first { $0.id == s.id }!.identity()
                #expect(identity.publicKeys.verify(signature: Data(try Hex.decode(s.signature)), for: transcript))
            }
        }
    }
}
