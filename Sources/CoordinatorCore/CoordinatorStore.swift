public import Federation
public import Foundation

/// One change to the coordinator's durable state. A list of them is applied atomically, so a
/// round's stage change, the message that caused it and its outcome land together or not at all.
public enum StoreChange: Sendable {
    case saveState(CoordinatorState)
    case saveRound(RoundRecord)
    case appendMessage(round: UInt64, stage: RoundStage, participant: ParticipantID, payload: Data, at: Date)
    case addAdapterVersion(AdapterVersion)
    case addBlob(BlobRef, kind: String, at: Date)
    /// Deletes the stored messages of one stage of a finished round (the masked inputs, 4 bytes
    /// per parameter each, are needed only to rebuild an open round after a restart).
    case pruneMessages(round: UInt64, stage: RoundStage)
}

/// The outcome of presenting an enrollment token.
public enum TokenCheck: Sendable, Equatable {
    case valid
    case unknown
    case used
    case expired
    /// The identity was enrolled already: the token is consumed and the enrollment kept (rejoin).
    case rejoined
}

/// The coordinator's durable state behind a narrow interface, so that a PostgreSQL implementation
/// can replace SQLite without touching the round logic. Every method is one transaction.
public protocol CoordinatorStore: Sendable {
    func loadSettings() throws -> CoordinatorSettings?
    func saveSettings(_ settings: CoordinatorSettings) throws
    /// The coordinator's identity, sealed (see `CoordinatorKeys`).
    func loadSealedIdentity() throws -> Data?
    func saveSealedIdentity(_ sealed: Data) throws

    func loadState() throws -> CoordinatorState
    /// Applies `changes` in order in one transaction.
    func apply(_ changes: [StoreChange]) throws

    func addEnrollmentToken(hash: String, name: String?, createdAt: Date, expiresAt: Date) throws
    func enrollmentTokens() throws -> [EnrollmentToken]
    /// Checks the token and, when valid, marks it used and records the client, atomically.
    func enroll(tokenHash: String, client: EnrolledClient, now: Date) throws -> TokenCheck
    func client(id: String) throws -> EnrolledClient?
    func clients() throws -> [EnrolledClient]
    /// True when `client` already used `nonce` since `after` (a read: the check before a body is read).
    func nonceSeen(client: String, nonce: String, after: Date) throws -> Bool
    /// Records a nonce of `client` and its last-seen time; false when the nonce was already seen.
    /// Nonces older than `pruneBefore` are forgotten.
    func recordRequest(client: String, nonce: String, at: Date, pruneBefore: Date) throws -> Bool

    func blob(sha256: String) throws -> BlobRef?
    func adapterVersions() throws -> [AdapterVersion]
    func rounds() throws -> [RoundRecord]
    func round(_ number: UInt64) throws -> RoundRecord?
    /// The messages of `round` in the order they were accepted.
    func messages(round: UInt64) throws -> [StoredMessage]
}
