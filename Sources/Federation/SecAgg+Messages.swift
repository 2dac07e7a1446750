public import Diagnostics
public import Foundation
import Seal

/// A participant's index in one round, assigned by the coordinator: 1…65535. It is also the x
/// coordinate of the participant's Shamir shares, so it is never 0.
public typealias ParticipantID = UInt16

/// The parameters every party of one SecAgg round agrees on (published by the coordinator when it
/// opens the round, before AdvertiseKeys).
public struct SecAggParameters: Codable, Sendable, Hashable {
    public var round: UInt64
    /// t: the minimum number of participants at every stage and of signatures in the consistency
    /// check; without a graph also the shares needed to reconstruct (with one, `graph.threshold`).
    public var threshold: Int
    /// Words (coordinates) in each input vector.
    public var vectorLength: Int
    /// SecAgg+: the neighbour graph, or nil for the complete graph (Bonawitz 2017).
    public var graph: NeighbourGraph?

    public init(round: UInt64, threshold: Int, vectorLength: Int, graph: NeighbourGraph? = nil) {
        self.round = round
        self.threshold = threshold
        self.vectorLength = vectorLength
        self.graph = graph
    }

    func validate() throws {
        guard threshold >= 2, vectorLength >= 1 else {
            throw FederationError(.invalidArgument, "SecAgg needs a threshold of at least 2 and a non-empty vector.")
        }
        if let graph, graph.threshold > graph.degree + 1 {
            throw FederationError(.invalidArgument, "A neighbour degree of \(graph.degree) cannot reach a threshold of \(graph.threshold): each participant's shares go to its neighbours and itself.")
        }
        // Each holder reveals one kind of share of a neighbour; with 2·t_k ≤ k + 1 holders a
        // coordinator showing two survivor lists to two halves gets t_k of each kind.
        if let graph, 2 * graph.threshold <= graph.degree + 1 {
            throw FederationError(.unsafeParameters, "A neighbourhood threshold of \(graph.threshold) is not a majority of the \(graph.degree + 1) holders (k + 1): a coordinator could collect both shares of a participant from two halves. Use t_k ≥ \(graph.degree / 2 + 1).")
        }
    }

    /// Refuses a round in which a coordinator could rebuild both the self-mask seed and the
    /// masking key of this client (`holders`: the participants holding its shares, itself included)
    /// by showing disjoint survivor lists to two groups: every honest holder reveals one kind only,
    /// so two kinds need 2·(share threshold) holders. Without a graph also 2t > |U1|, so no two
    /// disjoint groups of t signers can exist.
    ///
    /// With a neighbour graph only the second matters (a client's secrets live in its
    /// neighbourhood), so SecAgg+ keeps its tolerance of dropouts across a large round.
    func checkMajority(cohort: Int, holders: Int) throws {
        guard graph != nil || 2 * threshold > cohort else {
            throw FederationError(.unsafeParameters, "The threshold t = \(threshold) is not a majority of the \(cohort) participants that advertised keys (2t ≤ |U1|): two disjoint groups of t could each confirm a different survivor list and together unmask one participant. Refusing the round.")
        }
        guard 2 * shareThreshold > holders else {
            throw FederationError(.unsafeParameters, "The share threshold \(shareThreshold) is not a majority of the \(holders) holders of this client's shares: the coordinator could collect both kinds. Refusing the round.")
        }
    }

    /// Shares needed to rebuild one participant's secret: t_k with a graph, t without.
    public var shareThreshold: Int { graph?.threshold ?? threshold }

    /// The participants u shares with and masks against (never u itself).
    func neighbours(of u: ParticipantID, among everyone: [ParticipantID]) -> [ParticipantID] {
        guard let graph else { return everyone.filter { $0 != u } }
        return graph.neighbours(of: u, among: everyone)
    }
}

// MARK: Stage 0, AdvertiseKeys

/// Client → server: two fresh X25519 public keys, c (to encrypt shares) and s (to agree masks),
/// signed with the client's Ed25519 identity over
/// T("pllm.secagg.v1.advertise") ‖ round ‖ sender ‖ T(c_pk) ‖ T(s_pk).
public struct AdvertiseKeys: Codable, Sendable, Hashable {
    public let round: UInt64
    public let sender: ParticipantID
    public let encryptionKey: Data
    public let maskingKey: Data
    public let signature: Data

    public init(round: UInt64, sender: ParticipantID, encryptionKey: Data, maskingKey: Data, signature: Data) {
        self.round = round
        self.sender = sender
        self.encryptionKey = encryptionKey
        self.maskingKey = maskingKey
        self.signature = signature
    }

    static func signedBytes(round: UInt64, sender: ParticipantID, encryptionKey: Data, maskingKey: Data) -> [UInt8] {
        var t = Transcript(label: Label.advertise)
        t.append(round)
        t.append(sender)
        t.appendBytes(encryptionKey)
        t.appendBytes(maskingKey)
        return t.bytes
    }
}

/// Server → every client in U1: all advertisements it accepted.
public struct KeyRoster: Codable, Sendable, Hashable {
    public let round: UInt64
    public let advertisements: [AdvertiseKeys]
    /// The coordinator's signature as served (`CoordinatorStatements.swift`); nil inside SecAgg.
    public internal(set) var coordinatorSignature: Data?

    public init(round: UInt64, advertisements: [AdvertiseKeys]) {
        self.round = round
        self.advertisements = advertisements
    }

    /// H(U1) = BLAKE2b-256(T("pllm.secagg.v2.roster") ‖ BE32(|U1|) ‖ (BE16(id) ‖ T(c_pk) ‖ T(s_pk)) by ascending id):
    /// what a signed survivor list binds, so signatures from clients that saw another U1 do not count.
    static func hash(_ advertisements: [ParticipantID: AdvertiseKeys]) -> [UInt8] {
        var t = Transcript(label: Label.roster)
        t.append(UInt32(advertisements.count))
        for id in advertisements.keys.sorted() {
            let ad = advertisements[id]!
            t.append(id)
            t.appendBytes(ad.encryptionKey)
            t.appendBytes(ad.maskingKey)
        }
        return Blake2b.hash(t.bytes, outputByteCount: 32)
    }
}

// MARK: Stage 1, ShareKeys

/// One share pair sealed from `sender` to `recipient`:
/// nonce (24) ‖ XChaCha20-Poly1305(share of s_sk (32) ‖ share of b (32)), key = the pair's share key,
/// associated data T("pllm.secagg.v1.share") ‖ round ‖ sender ‖ recipient.
public struct EncryptedShare: Codable, Sendable, Hashable {
    public let sender: ParticipantID
    public let recipient: ParticipantID
    public let ciphertext: Data

    public init(sender: ParticipantID, recipient: ParticipantID, ciphertext: Data) {
        self.sender = sender
        self.recipient = recipient
        self.ciphertext = ciphertext
    }
}

/// Client → server: one encrypted share pair for each neighbour.
public struct ShareKeys: Codable, Sendable, Hashable {
    public let round: UInt64
    public let sender: ParticipantID
    public let shares: [EncryptedShare]

    public init(round: UInt64, sender: ParticipantID, shares: [EncryptedShare]) {
        self.round = round
        self.sender = sender
        self.shares = shares
    }
}

/// Server → each client in U2: the encrypted shares addressed to it, from senders in U2.
public struct SharesForYou: Codable, Sendable, Hashable {
    public let round: UInt64
    public let recipient: ParticipantID
    public let shares: [EncryptedShare]

    public init(round: UInt64, recipient: ParticipantID, shares: [EncryptedShare]) {
        self.round = round
        self.recipient = recipient
        self.shares = shares
    }
}

// MARK: Stage 2, MaskedInput

/// Client → server: y = x + PRG(b) + Σ_v ±PRG(s_uv) mod 2^32. `words` is the vector as
/// little-endian UInt32 bytes (4 per coordinate), base64 in JSON.
public struct MaskedInput: Codable, Sendable, Hashable {
    public let round: UInt64
    public let sender: ParticipantID
    public let words: Data

    public init(round: UInt64, sender: ParticipantID, vector: [UInt32]) {
        self.round = round
        self.sender = sender
        #if _endian(little)
        self.words = vector.withUnsafeBytes { Data($0) }
        #else
        var data = Data(count: vector.count * 4)
        data.withUnsafeMutableBytes { out in
            for (i, w) in vector.enumerated() { out.storeBytes(of: w.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        self.words = data
        #endif
    }

    /// The words as they arrive on the wire (little-endian, 4 bytes each), kept as they are.
    public init(round: UInt64, sender: ParticipantID, words: Data) throws(FederationError) {
        guard words.count % 4 == 0 else {
            throw FederationError(.protocolViolation, "A masked input must be a whole number of 4-byte words; got \(words.count) bytes.")
        }
        self.round = round
        self.sender = sender
        self.words = words
    }

    public var vector: [UInt32] {
        words.withUnsafeBytes { raw in
            [UInt32](unsafeUninitializedCapacity: raw.count / 4) { out, initialized in
                for i in 0..<raw.count / 4 { out[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                initialized = raw.count / 4
            }
        }
    }
}

// MARK: Stage 3, ConsistencyCheck

/// Server → clients in U3: the survivors whose masked inputs it holds, ascending.
public struct SurvivorList: Codable, Sendable, Hashable {
    public let round: UInt64
    public let survivors: [ParticipantID]
    /// The coordinator's signature as served (`CoordinatorStatements.swift`); nil inside SecAgg.
    public internal(set) var coordinatorSignature: Data?

    public init(round: UInt64, survivors: [ParticipantID]) {
        self.round = round
        self.survivors = survivors
    }

    /// T("pllm.secagg.v2.survivors") ‖ BE64(round) ‖ BE32(t) ‖ BE32(n) ‖ BE32(k) ‖ T(graph seed) ‖ BE32(t_k)
    /// ‖ T(H(U1)) ‖ BE32(|U3|) ‖ BE16(id)…, with k = t_k = 0 and an empty seed without a graph.
    static func signedBytes(parameters p: SecAggParameters, rosterHash: [UInt8], survivors: [ParticipantID]) -> [UInt8] {
        var t = Transcript(label: Label.consistency)
        t.append(p.round)
        t.append(UInt32(p.threshold))
        t.append(UInt32(p.vectorLength))
        t.append(UInt32(p.graph?.degree ?? 0))
        t.appendBytes(p.graph?.seed ?? [])
        t.append(UInt32(p.graph?.threshold ?? 0))
        t.appendBytes(rosterHash)
        t.append(UInt32(survivors.count))
        for id in survivors { t.append(id) }
        return t.bytes
    }
}

/// Client → server: Ed25519 signature over the v2 survivor transcript (`SurvivorList.signedBytes`):
/// the round's parameters, H(U1) and the ids.
public struct ConsistencySignature: Codable, Sendable, Hashable {
    public let round: UInt64
    public let sender: ParticipantID
    public let signature: Data

    public init(round: UInt64, sender: ParticipantID, signature: Data) {
        self.round = round
        self.sender = sender
        self.signature = signature
    }
}

// MARK: Stage 4, Unmasking

/// Server → clients in U4: the survivor list and every signature on it, so each client checks
/// that all of U4 saw the same U3 before revealing anything.
public struct UnmaskRequest: Codable, Sendable, Hashable {
    public let round: UInt64
    public let survivors: [ParticipantID]
    public let signatures: [ConsistencySignature]
    /// The coordinator's signature as served (`CoordinatorStatements.swift`); nil inside SecAgg.
    public internal(set) var coordinatorSignature: Data?

    public init(round: UInt64, survivors: [ParticipantID], signatures: [ConsistencySignature]) {
        self.round = round
        self.survivors = survivors
        self.signatures = signatures
    }
}

/// A share the client reveals, of participant `owner`'s secret.
public struct RevealedShare: Codable, Sendable, Hashable {
    public let owner: ParticipantID
    public let share: Data

    public init(owner: ParticipantID, share: Data) {
        self.owner = owner
        self.share = share
    }
}

/// Client → server: self-mask shares (b) of survivors, key shares (s_sk) of dropouts; never both
/// for one owner.
public struct UnmaskResponse: Codable, Sendable, Hashable {
    public let round: UInt64
    public let sender: ParticipantID
    public let selfMaskShares: [RevealedShare]
    public let keyShares: [RevealedShare]

    public init(round: UInt64, sender: ParticipantID, selfMaskShares: [RevealedShare], keyShares: [RevealedShare]) {
        self.round = round
        self.sender = sender
        self.selfMaskShares = selfMaskShares
        self.keyShares = keyShares
    }
}
