public import Diagnostics
public import Foundation

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

    public init(round: UInt64, advertisements: [AdvertiseKeys]) {
        self.round = round
        self.advertisements = advertisements
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

    public init(round: UInt64, survivors: [ParticipantID]) {
        self.round = round
        self.survivors = survivors
    }

    static func signedBytes(round: UInt64, survivors: [ParticipantID]) -> [UInt8] {
        var t = Transcript(label: Label.consistency)
        t.append(round)
        t.append(UInt32(survivors.count))
        for id in survivors { t.append(id) }
        return t.bytes
    }
}

/// Client → server: Ed25519 signature over T("pllm.secagg.v1.survivors") ‖ round ‖ count ‖ ids.
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
