public import Federation
public import Foundation
public import Logging
public import Seal

/// The coordinator: the round machine, the store and the blob store behind one actor. Every call
/// takes `now`, so tests drive time; the server passes the wall clock.
///
/// Durability: an event's actions are written in one store transaction (a new version's blob is
/// written first, content-addressed) and only then does the actor keep the machine's new value and
/// answer. A crash before the commit loses nothing that was acknowledged; after a restart the open
/// round is rebuilt by replaying its stored messages.
///
/// The jobs live in their own files: opening a directory (`Coordinator+Directory.swift`), the round
/// driver (`+Rounds`), what rounds produce (`+RoundOutputs`), enrollment (`+Enrollment`), request
/// authentication (`RequestAuthenticator`) and the manifest and bases (`+Publishing`).
public actor Coordinator {
    public nonisolated let settings: CoordinatorSettings
    public nonisolated let store: any CoordinatorStore
    public nonisolated let blobs: any BlobStore
    /// The coordinator's Ed25519 key, which clients pin at enrollment.
    public nonisolated let publicKey: Data
    let identity: Identity
    let authenticator: RequestAuthenticator
    let logger: Logger
    var machine: RoundMachine
    var state: CoordinatorState
    var adapter: AdapterVersion?
    var rng = SodiumRandom()
    var observer: (@Sendable (Observation) -> Void)?

    /// What an observer (the server's metrics) hears after a change is durable.
    public enum Observation: Sendable {
        case stageClosed(RoundStage, seconds: Double)
        case roundFinished(RoundStage)
    }

    public func setObserver(_ observer: @escaping @Sendable (Observation) -> Void) { self.observer = observer }

    /// Opens the coordinator whose settings and state `store` holds, with its blobs in `blobs` and
    /// its unsealed `identity`, and rebuilds the open round, if any. `init(directory:)` opens the
    /// default: SQLite and files in one directory.
    /// `roundsLimit`: open at most this many rounds from now on.
    public init(store: any CoordinatorStore, blobs: any BlobStore, identity: Identity, roundsLimit: Int? = nil,
                logger: Logger = Logger(label: "pcoord")) throws {
        guard let settings = try store.loadSettings() else {
            throw CoordinatorError(.notInitialised, "The coordinator store holds no settings.", remedy: "Initialise a new coordinator with `pcoord init`.")
        }
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.identity = identity
        self.publicKey = identity.publicKeys.signing
        self.authenticator = RequestAuthenticator(store: store, skewWindow: settings.skewWindow)
        self.logger = logger
        (machine, state, adapter) = try Self.restore(settings: settings, store: store, blobs: blobs, roundsLimit: roundsLimit, logger: logger)
    }

    // MARK: Inspection

    public var currentAdapter: AdapterVersion? { adapter }
    public var currentVector: [Float]? { machine.vector }
    public var openRound: RoundRecord? { machine.openRound?.record }
    public var lastRound: RoundRecord? { machine.current?.record }
    public var epsilonSpent: Double { machine.epsilonSpent }
    /// Client id → rounds it was excluded from for a refused message; suspended at K.
    public var exclusions: [String: Int] { machine.exclusions }
    public func isSuspended(_ clientID: String) -> Bool { machine.isSuspended(clientID) }
    public var manifestSequence: Int64 { state.manifestSequence }
    public var budgetExhausted: Bool { machine.budgetExhausted }
    public var roundsLeft: Int? { machine.roundsLeft }
}
