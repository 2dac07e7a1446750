public import Federation
public import Foundation
public import Seal

/// An enrolled client: its id is the lower-case hex of its Ed25519 key.
public struct EnrolledClient: Codable, Sendable, Hashable {
    public let id: String
    public let identity: IdentityPublicKeys
    public let name: String?
    public let enrolledAt: Date
    public var lastSeen: Date?

    public init(id: String, identity: IdentityPublicKeys, name: String?, enrolledAt: Date, lastSeen: Date?) {
        self.id = id
        self.identity = identity
        self.name = name
        self.enrolledAt = enrolledAt
        self.lastSeen = lastSeen
    }
}

/// One sampled client of a round.
public struct RoundParticipant: Codable, Sendable, Hashable {
    public let id: ParticipantID
    public let clientID: String
    public let identity: IdentityPublicKeys

    public init(id: ParticipantID, clientID: String, identity: IdentityPublicKeys) {
        self.id = id
        self.clientID = clientID
        self.identity = identity
    }
}

/// A round as stored: its sample, its parameters, the stage it is in and, once over, its outcome.
public struct RoundRecord: Codable, Sendable, Hashable {
    public let round: UInt64
    public var stage: RoundStage
    public let openedAt: Date
    /// When the current stage closes at the latest (for a finished round: when it finished).
    public var deadline: Date
    public let participants: [RoundParticipant]
    public let parameters: SecAggParameters
    public let adapterVersion: Int
    /// Enrolled clients when the round opened (the sampling rate is participants / enrolled).
    public let enrolled: Int
    public var included: Int?
    public var resultVersion: Int?
    public var abortReason: String?
    public var epsilonAfter: Double?
    public var roundsAccounted: Int?
    /// Participants whose message broke the protocol (a bad signature, shares they do not hold);
    /// nothing more is accepted from them in this round.
    public var excluded: [ParticipantID] = []

    public init(round: UInt64, stage: RoundStage, openedAt: Date, deadline: Date, participants: [RoundParticipant],
                parameters: SecAggParameters, adapterVersion: Int, enrolled: Int) {
        self.round = round
        self.stage = stage
        self.openedAt = openedAt
        self.deadline = deadline
        self.participants = participants
        self.parameters = parameters
        self.adapterVersion = adapterVersion
        self.enrolled = enrolled
    }

    public var isFinished: Bool { stage == .completed || stage == .aborted }
}

/// A round message the coordinator accepted, in arrival order (`sequence`). Masked inputs are the
/// raw words (4 bytes per parameter, little endian); every other message is its JSON.
public struct StoredMessage: Sendable, Hashable {
    public let round: UInt64
    public let sequence: Int
    public let stage: RoundStage
    public let participant: ParticipantID
    public let payload: Data

    public init(round: UInt64, sequence: Int, stage: RoundStage, participant: ParticipantID, payload: Data) {
        self.round = round
        self.sequence = sequence
        self.stage = stage
        self.participant = participant
        self.payload = payload
    }
}

/// A published shared-adapter version.
public struct AdapterVersion: Sendable, Hashable, Codable {
    public let version: Int
    public let blob: BlobRef
    public let createdAt: Date
    /// The round that produced it (nil for version 0).
    public let round: UInt64?

    public init(version: Int, blob: BlobRef, createdAt: Date, round: UInt64?) {
        self.version = version
        self.blob = blob
        self.createdAt = createdAt
        self.round = round
    }
}

/// What changes as rounds finish and bases are published, kept as one row.
public struct CoordinatorState: Codable, Sendable, Hashable {
    public var manifestSequence: Int64
    public var manifest: SignedManifest?
    public var base: BlobRef?
    public var baseName: String?
    public var baseDimensions: BaseDimensions?
    public var accountant: RDPAccountant
    public var fedAdam: FedAdam?
    public var nextRound: UInt64

    public init() {
        manifestSequence = 0
        accountant = RDPAccountant()
        nextRound = 1
    }
}

/// An enrollment token as stored: only the SHA-256 of the token.
public struct EnrollmentToken: Sendable, Hashable {
    public let hash: String
    public let name: String?
    public let createdAt: Date
    public let expiresAt: Date
    public let usedAt: Date?
    public let usedBy: String?
}
