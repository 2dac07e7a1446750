import Diagnostics
public import Foundation
public import Seal

// The HTTP contract between pclient and pcoord (protocol/PROTOCOL.md §2, protocol/openapi.yaml):
// the types both sides encode and decode, and the signed-request transcript. Pure: no I/O.

/// Protocol version carried in every manifest; a client refuses a manifest of another major version.
public let federationProtocolVersion = 1

// MARK: Signed requests

/// Every client request after enrollment carries four headers:
///
///     PLLM-Client:    lower-case hex of the client's Ed25519 public key (its client id)
///     PLLM-Timestamp: Unix time in seconds (decimal)
///     PLLM-Nonce:     32 lower-case hex digits (16 random bytes), never reused
///     PLLM-Signature: base64 of the Ed25519 signature of
///                     T("pllm.request.v1") ‖ T(method) ‖ T(path with query) ‖ T(SHA-256(body)) ‖ timestamp(u64) ‖ T(nonce)
///
/// (T(x) = UInt32 big-endian length ‖ x; the timestamp is a big-endian UInt64.) The server refuses a
/// timestamp outside its skew window, a nonce it has seen inside that window, an unknown client and
/// a signature that does not verify.
public enum RequestSigning {
    public static let clientHeader = "PLLM-Client"
    public static let timestampHeader = "PLLM-Timestamp"
    public static let nonceHeader = "PLLM-Nonce"
    public static let signatureHeader = "PLLM-Signature"

    public static func signedBytes(method: String, path: String, bodySHA256: [UInt8], timestamp: UInt64, nonce: String) -> [UInt8] {
        var t = Transcript(label: "pllm.request.v1")
        t.appendBytes(Array(method.uppercased().utf8))
        t.appendBytes(Array(path.utf8))
        t.appendBytes(bodySHA256)
        t.append(timestamp)
        t.appendBytes(Array(nonce.utf8))
        return t.bytes
    }

    /// The four header values for one request.
    public static func headers(identity: Identity, method: String, path: String, body: Data,
                               timestamp: UInt64, nonce: String) -> [(String, String)] {
        let signed = signedBytes(method: method, path: path, bodySHA256: SHA256.hash(body), timestamp: timestamp, nonce: nonce)
        let signature = Data(identity.sign(signed)).base64EncodedString()
        return [
            (clientHeader, Hex.encode(identity.publicKeys.signing)),
            (timestampHeader, String(timestamp)),
            (nonceHeader, nonce),
            (signatureHeader, signature),
        ]
    }

    /// A fresh nonce: 16 random bytes from libsodium, as 32 hex digits.
    public static func freshNonce() -> String {
        var rng = SodiumRandom()
        return Hex.encode(rng.bytes(count: 16))
    }

    public static func verify(signing publicKey: IdentityPublicKeys, signature: Data, method: String, path: String,
                              bodySHA256: [UInt8], timestamp: UInt64, nonce: String) -> Bool {
        publicKey.verify(signature: signature, for: signedBytes(method: method, path: path, bodySHA256: bodySHA256,
                                                                timestamp: timestamp, nonce: nonce))
    }
}

// MARK: Enrollment

/// POST /v1/enroll (not signed with headers: the client is not known yet). `proof` is the
/// client's Ed25519 signature of T("pllm.enroll.v1") ‖ T(token) ‖ T(signing key) ‖ T(agreement key),
/// which shows it holds the identity it enrolls.
public struct EnrollRequest: Codable, Sendable, Hashable {
    public let token: String
    public let identity: IdentityPublicKeys
    public let proof: Data
    public let name: String?

    public init(token: String, identity: Identity, name: String? = nil) {
        self.token = token
        self.identity = identity.publicKeys
        self.proof = Data(identity.sign(Self.signedBytes(token: token, identity: identity.publicKeys)))
        self.name = name
    }

    public static func signedBytes(token: String, identity: IdentityPublicKeys) -> [UInt8] {
        var t = Transcript(label: "pllm.enroll.v1")
        t.appendBytes(Array(token.utf8))
        t.appendBytes(identity.signing)
        t.appendBytes(identity.agreement)
        return t.bytes
    }

    public var proofIsValid: Bool { identity.verify(signature: proof, for: Self.signedBytes(token: token, identity: identity)) }
}

/// The answer to an enrollment: the client's id and the coordinator's signing key, which the client
/// pins (every later manifest must verify under it), and the current manifest.
public struct EnrollResponse: Codable, Sendable, Hashable {
    public let clientID: String
    public let coordinatorKey: Data
    public let manifest: SignedManifest

    public init(clientID: String, coordinatorKey: Data, manifest: SignedManifest) {
        self.clientID = clientID
        self.coordinatorKey = coordinatorKey
        self.manifest = manifest
    }
}

// MARK: Manifest

/// Dimensions of the base model that fix the shared adapter's layout; read from the GGUF metadata
/// when the operator publishes a base.
public struct BaseDimensions: Codable, Sendable, Hashable {
    public let blocks: Int
    public let embedding: Int
    /// Key/value width: kv heads × head dimension.
    public let keyValue: Int
    public let feedForward: Int

    public init(blocks: Int, embedding: Int, keyValue: Int, feedForward: Int) {
        self.blocks = blocks
        self.embedding = embedding
        self.keyValue = keyValue
        self.feedForward = feedForward
    }
}

/// The shared adapter, FFA-LoRA style: A generated from `seed` (Tuning's `LoRAAdapter.fillA`), only
/// B trained and aggregated. Its blob is B flattened: for each block in order, for each target in
/// the order q, k, v, o, gate, up, down (those present), the row-major [out, rank] matrix as
/// little-endian Float32. No header; the manifest's hash and size identify it.
public struct SharedAdapterSpec: Codable, Sendable, Hashable {
    public static let targetOrder = ["q", "k", "v", "o", "gate", "up", "down"]

    public let rank: Int
    public let alpha: Double
    /// Short target names, in `targetOrder`.
    public let targets: [String]
    public let seed: UInt64

    public init(rank: Int, alpha: Double, targets: [String], seed: UInt64) throws {
        let unknown = targets.filter { !Self.targetOrder.contains($0) }
        guard rank >= 1, rank <= 256, alpha > 0, !targets.isEmpty, unknown.isEmpty, Set(targets).count == targets.count else {
            throw FederationError(.invalidArgument, "A shared adapter needs rank 1…256, alpha > 0 and distinct targets among \(Self.targetOrder.joined(separator: ",")).")
        }
        self.rank = rank
        self.alpha = alpha
        self.targets = Self.targetOrder.filter { targets.contains($0) }
        self.seed = seed
    }

    /// Output width of one target's weight.
    public static func outFeatures(_ target: String, _ d: BaseDimensions) -> Int {
        switch target {
        case "k", "v": d.keyValue
        case "gate", "up": d.feedForward
        default: d.embedding
        }
    }

    /// Number of Float32 values in B for a base of these dimensions.
    public func vectorLength(_ d: BaseDimensions) -> Int {
        d.blocks * targets.reduce(0) { $0 + Self.outFeatures($1, d) * rank }
    }
}

/// What a client does in a round, published with it.
public struct RoundConfig: Codable, Sendable, Hashable {
    /// Clients sampled per round (n); a round opens once this many are available, or `minimumClients` after the wait.
    public var clientsPerRound: Int
    /// t: the SecAgg threshold and the minimum survivors of every stage.
    public var minimumClients: Int
    /// Seconds each stage stays open at most.
    public var stageTimeout: Double
    /// Local training steps on the shared adapter's B.
    public var localSteps: Int
    public var learningRate: Double
    public var maxSequence: Int
    public var dp: DistributedGaussian
    public var codec: FixedPointCodec
    /// The server step's name, "fedavg" or "fedadam" (`serverStrategy` reads it with the rate below).
    public var strategy: String
    public var serverLearningRate: Double
    /// SecAgg+: the neighbour degree k (even) of each round's graph; nil or 0 = the complete graph.
    /// A round of n ≤ k + 1 participants uses the complete graph.
    public var neighbours: Int?
    /// SecAgg+: t_k, shares needed within a neighbourhood; nil = ⌊k/2⌋ + 1.
    public var neighbourThreshold: Int?

    public init(clientsPerRound: Int, minimumClients: Int, stageTimeout: Double, localSteps: Int, learningRate: Double,
                maxSequence: Int, dp: DistributedGaussian, codec: FixedPointCodec, strategy: String, serverLearningRate: Double,
                neighbours: Int? = nil, neighbourThreshold: Int? = nil) {
        self.neighbours = neighbours
        self.neighbourThreshold = neighbourThreshold
        self.clientsPerRound = clientsPerRound
        self.minimumClients = minimumClients
        self.stageTimeout = stageTimeout
        self.localSteps = localSteps
        self.learningRate = learningRate
        self.maxSequence = maxSequence
        self.dp = dp
        self.codec = codec
        self.strategy = strategy
        self.serverLearningRate = serverLearningRate
    }
}

public struct BlobRef: Codable, Sendable, Hashable {
    /// Lower-case hex SHA-256 of the content; the blob's URL is /v1/blobs/{sha256}.
    public let sha256: String
    public let size: Int64

    public init(sha256: String, size: Int64) {
        self.sha256 = sha256
        self.size = size
    }
}

public struct PrivacyReport: Codable, Sendable, Hashable {
    public let epsilonSpent: Double
    public let delta: Double
    public let epsilonBudget: Double
    public let roundsAccounted: Int

    public init(epsilonSpent: Double, delta: Double, epsilonBudget: Double, roundsAccounted: Int) {
        self.epsilonSpent = epsilonSpent
        self.delta = delta
        self.epsilonBudget = epsilonBudget
        self.roundsAccounted = roundsAccounted
    }
}

public struct Manifest: Codable, Sendable, Hashable {
    public let protocolVersion: Int
    /// Increases with every change (a base published, a round finished).
    public let sequence: Int64
    public let issuedAt: Date
    public let base: BlobRef?
    public let baseName: String?
    public let baseDimensions: BaseDimensions?
    public let sharedAdapter: SharedAdapterSpec
    /// 0 before the first round; the blob is nil while no base is published (its length depends on it).
    public let sharedAdapterVersion: Int
    public let sharedAdapterBlob: BlobRef?
    public let round: RoundConfig
    public let privacy: PrivacyReport

    public init(protocolVersion: Int = federationProtocolVersion, sequence: Int64, issuedAt: Date, base: BlobRef?,
                baseName: String?, baseDimensions: BaseDimensions?, sharedAdapter: SharedAdapterSpec,
                sharedAdapterVersion: Int, sharedAdapterBlob: BlobRef?, round: RoundConfig, privacy: PrivacyReport) {
        self.protocolVersion = protocolVersion
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.base = base
        self.baseName = baseName
        self.baseDimensions = baseDimensions
        self.sharedAdapter = sharedAdapter
        self.sharedAdapterVersion = sharedAdapterVersion
        self.sharedAdapterBlob = sharedAdapterBlob
        self.round = round
        self.privacy = privacy
    }
}

/// GET /v1/manifest: the manifest's exact JSON bytes (base64) and the coordinator's Ed25519
/// signature of T("pllm.manifest.v1") ‖ T(bytes). The client verifies before decoding.
public struct SignedManifest: Codable, Sendable, Hashable {
    public let manifest: Data
    public let signature: Data

    public init(manifest: Data, signature: Data) {
        self.manifest = manifest
        self.signature = signature
    }

    public static func signedBytes(_ manifest: Data) -> [UInt8] {
        var t = Transcript(label: "pllm.manifest.v1")
        t.appendBytes(manifest)
        return t.bytes
    }

    public static func sign(_ manifest: Manifest, with identity: Identity) throws -> SignedManifest {
        let bytes = try WireCoding.encoder().encode(manifest)
        return SignedManifest(manifest: bytes, signature: Data(identity.sign(signedBytes(bytes))))
    }

    /// Verifies under the pinned coordinator key, then decodes.
    public func open(coordinatorKey: Data) throws -> Manifest {
        let keys = try IdentityPublicKeys(signing: coordinatorKey, agreement: Data(repeating: 9, count: 32))
        guard keys.verify(signature: signature, for: Self.signedBytes(manifest)) else {
            throw FederationError(.badSignature, "The manifest's signature does not verify under the pinned coordinator key: the coordinator changed its key or the manifest was altered. Re-enroll only if the operator confirms a key change.")
        }
        let m = try WireCoding.decoder().decode(Manifest.self, from: manifest)
        guard m.protocolVersion == federationProtocolVersion else {
            throw FederationError(.protocolViolation, "The coordinator speaks protocol version \(m.protocolVersion); this client speaks \(federationProtocolVersion).")
        }
        try m.validate()
        return m
    }
}

// MARK: Rounds

public enum RoundStage: String, Codable, Sendable, CaseIterable {
    case advertiseKeys = "advertise-keys"
    case shareKeys = "share-keys"
    case maskedInput = "masked-input"
    case consistencyCheck = "consistency-check"
    case unmasking
    case completed
    case aborted
}

/// GET /v1/round: what the calling client should do now. Polling also marks the client available
/// for the next round's sample.
public struct RoundStatus: Codable, Sendable, Hashable {
    /// Nil when no round is open (then `stage`, `participant` and `parameters` are nil too).
    public let round: UInt64?
    public let stage: RoundStage?
    /// When the current stage closes, at the latest.
    public let deadline: Date?
    /// The caller's participant id in this round, nil when it was not sampled.
    public let participant: ParticipantID?
    public let parameters: SecAggParameters?
    /// The shared-adapter version the round's updates start from.
    public let adapterVersion: Int?
    /// True when the caller has already sent its message for the current stage.
    public let submitted: Bool
    /// Everyone sampled, with their identity keys (needed to verify advertisements and signatures).
    public let participants: [ParticipantEntry]?
    public let manifestSequence: Int64
    /// The coordinator's Ed25519 signature of `signedBytes(client:)` (`CoordinatorStatements.swift`).
    public internal(set) var coordinatorSignature: Data?

    public init(round: UInt64?, stage: RoundStage?, deadline: Date?, participant: ParticipantID?,
                parameters: SecAggParameters?, adapterVersion: Int?, submitted: Bool,
                participants: [ParticipantEntry]?, manifestSequence: Int64) {
        self.round = round
        self.stage = stage
        self.deadline = deadline
        self.participant = participant
        self.parameters = parameters
        self.adapterVersion = adapterVersion
        self.submitted = submitted
        self.participants = participants
        self.manifestSequence = manifestSequence
    }
}

public struct ParticipantEntry: Codable, Sendable, Hashable {
    public let id: ParticipantID
    public let identity: IdentityPublicKeys

    public init(id: ParticipantID, identity: IdentityPublicKeys) {
        self.id = id
        self.identity = identity
    }
}

/// GET /v1/rounds/{round}: a round's outcome.
public struct RoundSummary: Codable, Sendable, Hashable {
    public let round: UInt64
    public let stage: RoundStage
    public let sampled: Int
    /// Participants whose inputs are in the sum (nil until unmasking finishes).
    public let included: Int?
    /// The shared-adapter version the round produced.
    public let resultVersion: Int?
    public let abortReason: String?
    public let privacy: PrivacyReport?

    public init(round: UInt64, stage: RoundStage, sampled: Int, included: Int?, resultVersion: Int?,
                abortReason: String?, privacy: PrivacyReport?) {
        self.round = round
        self.stage = stage
        self.sampled = sampled
        self.included = included
        self.resultVersion = resultVersion
        self.abortReason = abortReason
        self.privacy = privacy
    }
}

// MARK: Errors

/// Every 4xx/5xx body: `{"error": {"code": …, "message": …, "remedy": …}}`.
public struct APIErrorBody: Codable, Sendable, Hashable, Error {
    public struct Detail: Codable, Sendable, Hashable {
        public let code: String
        public let message: String
        public let remedy: String
    }

    public let error: Detail

    public init(code: String, message: String, remedy: String) {
        self.error = Detail(code: code, message: message, remedy: remedy)
    }
}

/// JSON settings both sides use: ISO 8601 dates (whole seconds), base64 `Data`, sorted keys.
public enum WireCoding {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
