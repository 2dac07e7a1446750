public import Federation
public import Foundation
public import Logging
import Seal

/// The coordinator: the round machine, the store and the blob store behind one actor. Every call
/// takes `now`, so tests drive time; the server passes the wall clock.
///
/// Durability: an event's actions are written in one store transaction (a new version's blob is
/// written first, content-addressed) and only then does the actor keep the machine's new value and
/// answer. A crash before the commit loses nothing that was acknowledged; after a restart the open
/// round is rebuilt by replaying its stored messages.
public actor Coordinator {
    public static let databaseName = "coordinator.sqlite"
    public static let keyFileName = "coordinator.key"

    public nonisolated let directory: String
    public nonisolated let settings: CoordinatorSettings
    public nonisolated let store: any CoordinatorStore
    public nonisolated let blobs: any BlobStore
    let identity: Identity
    private var machine: RoundMachine
    private var state: CoordinatorState
    private var adapter: AdapterVersion?
    private let logger: Logger
    private var rng = SodiumRandom()
    private var observer: (@Sendable (Observation) -> Void)?

    /// What an observer (the server's metrics) hears after a change is durable.
    public enum Observation: Sendable {
        case stageClosed(RoundStage, seconds: Double)
        case roundFinished(RoundStage)
    }

    public func setObserver(_ observer: @escaping @Sendable (Observation) -> Void) { self.observer = observer }

    /// The coordinator's Ed25519 key, which clients pin at enrollment.
    public nonisolated let publicKey: Data

    // MARK: Setting up and opening

    /// Creates a coordinator directory: the database with `settings`, a fresh identity sealed in it
    /// under a 32-byte key in `coordinator.key` (mode 0600, the operator's machine), and `blobs/`.
    public static func initialise(directory: String, settings: CoordinatorSettings) throws {
        try settings.validate()
        let keyPath = directory + "/" + keyFileName
        let dbPath = directory + "/" + databaseName
        guard !FileManager.default.fileExists(atPath: dbPath), !FileManager.default.fileExists(atPath: keyPath) else {
            throw CoordinatorError(.configuration, "\(directory) already holds a coordinator.", remedy: "Choose another --dir, or use the existing one.")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let key = KeyFile.generate()
            try KeyFile.write(key, to: keyPath)
            let store = try SQLiteCoordinatorStore(path: dbPath)
            try store.saveSettings(settings)
            try store.saveSealedIdentity(Data(Identity.generate().sealed(with: key)))
            _ = try FileBlobStore(directory: directory + "/blobs")
        } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.storage, "Cannot initialise \(directory): \(error).", remedy: "Check that the directory is writable.", cause: error)
        }
    }

    /// Opens an initialised directory and rebuilds the open round, if any.
    /// `roundsLimit`: open at most this many rounds from now on.
    public init(directory: String, roundsLimit: Int? = nil, logger: Logger = Logger(label: "pcoord")) throws {
        let dbPath = directory + "/" + Self.databaseName
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw CoordinatorError(.notInitialised, "\(directory) holds no coordinator.", remedy: "Run `pcoord init --dir \(directory)` first.")
        }
        let store = try SQLiteCoordinatorStore(path: dbPath)
        guard let settings = try store.loadSettings(), let sealed = try store.loadSealedIdentity() else {
            throw CoordinatorError(.notInitialised, "The coordinator database in \(directory) has no settings or identity.", remedy: "Initialise a new directory with `pcoord init`.")
        }
        do {
            let key = try KeyFile.read(from: directory + "/" + Self.keyFileName)
            identity = try Identity(sealed: sealed, key: key)
        } catch {
            throw CoordinatorError(.configuration, "The coordinator identity does not open with \(directory)/\(Self.keyFileName): \(error).",
                                   remedy: "Restore the key file that belongs to this database (mode 0600).", cause: error)
        }
        self.directory = directory
        self.settings = settings
        self.store = store
        self.blobs = try FileBlobStore(directory: directory + "/blobs")
        self.logger = logger
        self.publicKey = identity.publicKeys.signing
        let loadedState = try store.loadState()
        let loadedAdapter = try store.adapterVersions().last
        let blobStore = self.blobs
        let shared = try loadedAdapter.map { (version: $0.version, vector: try blobStore.readFloats($0.blob)) }
        var m = RoundMachine(settings: settings, state: loadedState, enrolledCount: try store.clients().count, shared: shared, roundsLeft: roundsLimit)
        if let last = try store.rounds().last {
            if last.isFinished {
                try m.restoreFinished(last)
            } else {
                try m.restore(round: last, messages: try store.messages(round: last.round))
                logger.info("replayed open round", metadata: ["round": "\(last.round)", "stage": "\(last.stage.rawValue)"])
            }
        }
        state = loadedState
        adapter = loadedAdapter
        machine = m
    }

    // MARK: Applying events

    /// Runs `event` on a copy of the machine, makes its actions durable, then keeps the copy.
    @discardableResult
    private func run(_ event: RoundMachine.Event, now: Date) throws -> RoundMachine.Outcome {
        var next = machine
        let outcome = next.handle(event, using: &rng)
        var changes: [StoreChange] = []
        var newState = state
        var newAdapter = adapter
        var stateChanged = false
        for action in outcome.actions {
            switch action {
            case .saveRound(let r):
                changes.append(.saveRound(r))
            case .storeMessage(let round, let stage, let participant, let payload):
                changes.append(.appendMessage(round: round, stage: stage, participant: participant, payload: payload, at: now))
            case .publish(let version, let vector, let round):
                let ref = try blobs.write(BlobFormat.encode(vector))
                let v = AdapterVersion(version: version, blob: ref, createdAt: now, round: round)
                changes += [.addBlob(ref, kind: "adapter", at: now), .addAdapterVersion(v)]
                newAdapter = v
                stateChanged = true
            case .saveState:
                stateChanged = true
            case .roundFinished:
                // The round is final in this very transaction: its masked inputs go with it.
                if let r = next.current?.round { changes.append(.pruneMessages(round: r, stage: .maskedInput)) }
            case .stageClosed:
                break
            case .note(let text):
                logger.info("\(text)")
            }
        }
        if stateChanged {
            newState.accountant = next.accountant
            newState.fedAdam = next.fedAdam
            newState.nextRound = next.nextRound
            if newAdapter != adapter { try bumpManifest(&newState, adapter: newAdapter, now: now) }
            changes.append(.saveState(newState))
        }
        if !changes.isEmpty { try store.apply(changes) }
        machine = next
        state = newState
        adapter = newAdapter
        if let observer {
            for action in outcome.actions {
                switch action {
                case .stageClosed(let stage, let seconds): observer(.stageClosed(stage, seconds: seconds))
                case .roundFinished(let stage): observer(.roundFinished(stage))
                default: break
                }
            }
        }
        return outcome
    }

    private func bumpManifest(_ s: inout CoordinatorState, adapter: AdapterVersion?, now: Date) throws {
        s.manifestSequence += 1
        let epsilon = s.accountant.rounds == 0 ? 0 : s.accountant.epsilon(delta: settings.delta).epsilon
        let m = Manifest(sequence: s.manifestSequence, issuedAt: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)),
                         base: s.base, baseName: s.baseName, baseDimensions: s.baseDimensions,
                         sharedAdapter: settings.sharedAdapter, sharedAdapterVersion: adapter?.version ?? 0,
                         sharedAdapterBlob: adapter?.blob, round: settings.round,
                         privacy: PrivacyReport(epsilonSpent: epsilon, delta: settings.delta, epsilonBudget: settings.epsilonBudget,
                                                roundsAccounted: s.accountant.rounds))
        s.manifest = try SignedManifest.sign(m, with: identity)
    }

    /// Checks deadlines and opens a round when enough clients are available. The server calls it
    /// every second, so deadlines fire without client traffic.
    public func tick(now: Date) throws {
        try run(.tick(now: now), now: now)
    }

    // MARK: Manifest and blobs

    public func signedManifest(now: Date) throws -> SignedManifest {
        if let m = state.manifest { return m }
        var s = state
        try bumpManifest(&s, adapter: adapter, now: now)
        try store.apply([.saveState(s)])
        state = s
        return s.manifest!
    }

    /// The file of a blob the manifest lists (bases and adapter versions only).
    public func blobFile(sha256: String) throws -> (path: String, ref: BlobRef) {
        guard BlobFormat.isValidName(sha256), let ref = try store.blob(sha256: sha256) else {
            throw CoordinatorError(.blobNotFound, "No blob \(sha256) is published here.", remedy: "Take blob hashes from GET /v1/manifest.")
        }
        return (blobs.path(sha256), ref)
    }

    /// Copies a GGUF base into the blob store, reads its dimensions and, when they change the
    /// adapter's layout (or there is no adapter yet), publishes a new version of zeros.
    public func publishBase(file path: String, now: Date) throws -> (base: BlobRef, dimensions: BaseDimensions, adapterVersion: Int) {
        guard machine.openRound == nil else {
            throw CoordinatorError(.configuration, "A round is open.", remedy: "Publish a new base between rounds.")
        }
        let dims = try BaseModel.dimensions(ofGGUFAt: path)
        let ref = try blobs.importFile(at: path)
        var s = state
        var changes: [StoreChange] = [.addBlob(ref, kind: "base", at: now)]
        var newAdapter = adapter
        if adapter == nil || s.baseDimensions != dims {
            let zeros = [Float](repeating: 0, count: settings.sharedAdapter.vectorLength(dims))
            let vref = try blobs.write(BlobFormat.encode(zeros))
            let v = AdapterVersion(version: adapter.map { $0.version + 1 } ?? 0, blob: vref, createdAt: now, round: nil)
            changes += [.addBlob(vref, kind: "adapter", at: now), .addAdapterVersion(v)]
            newAdapter = v
        }
        s.base = ref
        s.baseName = URL(fileURLWithPath: path).lastPathComponent
        s.baseDimensions = dims
        try bumpManifest(&s, adapter: newAdapter, now: now)
        changes.append(.saveState(s))
        try store.apply(changes)
        state = s
        if let v = newAdapter, v != adapter {
            machine.setShared(version: v.version, vector: [Float](repeating: 0, count: settings.sharedAdapter.vectorLength(dims)))
        }
        adapter = newAdapter
        return (ref, dims, newAdapter?.version ?? 0)
    }

    // MARK: Enrollment and authentication

    /// Creates a one-time token; only its SHA-256 is stored.
    public func createEnrollmentToken(name: String?, validFor seconds: Double, now: Date) throws -> String {
        var r = SodiumRandom()
        let token = Hex.encode(r.bytes(count: 32))
        try store.addEnrollmentToken(hash: SHA256.hex(Array(token.utf8)), name: name, createdAt: now, expiresAt: now.addingTimeInterval(seconds))
        return token
    }

    public func enroll(_ request: EnrollRequest, now: Date) throws -> EnrollResponse {
        guard request.proofIsValid else {
            throw CoordinatorError(.badProof, "The enrollment proof does not verify under the identity sent with it.",
                                   remedy: "Sign T(\"pllm.enroll.v1\") ‖ T(token) ‖ T(signing key) ‖ T(agreement key) with the identity being enrolled.")
        }
        let id = Hex.encode(request.identity.signing)
        let client = EnrolledClient(id: id, identity: request.identity, name: request.name.map { String($0.prefix(100)) }, enrolledAt: now, lastSeen: nil)
        switch try store.enroll(tokenHash: SHA256.hex(Array(request.token.utf8)), client: client, now: now) {
        case .valid: break
        case .rejoined:
            logger.info("client rejoined", metadata: ["client": "\(id.prefix(16))"])
            return EnrollResponse(clientID: id, coordinatorKey: publicKey, manifest: try signedManifest(now: now))
        case .unknown: throw CoordinatorError(.invalidToken, "The enrollment token is not known here.", remedy: "Ask the operator for a token (`pcoord enroll`).")
        case .used: throw CoordinatorError(.tokenUsed, "The enrollment token was already used.", remedy: "Tokens are one-time; ask the operator for a new one.")
        case .expired: throw CoordinatorError(.tokenExpired, "The enrollment token has expired.", remedy: "Ask the operator for a new one.")
        }
        machine.enrolledCount += 1
        logger.info("client enrolled", metadata: ["client": "\(id.prefix(16))"])
        return EnrollResponse(clientID: id, coordinatorKey: publicKey, manifest: try signedManifest(now: now))
    }

    /// Verifies a signed request's headers; returns the client. Refuses unknown clients, a
    /// timestamp outside the skew window, a reused nonce and a signature that does not verify.
    public func authenticate(method: String, path: String, bodySHA256: [UInt8], clientID: String?, timestamp: String?,
                             nonce: String?, signature: String?, now: Date) throws -> EnrolledClient {
        guard let clientID, let timestamp, let nonce, let signature else {
            throw CoordinatorError(.missingSignature, "The request lacks one of the headers \(RequestSigning.clientHeader), \(RequestSigning.timestampHeader), \(RequestSigning.nonceHeader), \(RequestSigning.signatureHeader).",
                                   remedy: "Sign every request after enrollment as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard let t = UInt64(timestamp), nonce.utf8.count == 32, nonce.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              let sig = Data(base64Encoded: signature) else {
            throw CoordinatorError(.missingSignature, "A signing header is malformed (timestamp: decimal seconds; nonce: 32 lower-case hex digits; signature: base64).",
                                   remedy: "Format the headers as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard abs(Double(t) - now.timeIntervalSince1970) <= settings.skewWindow else {
            throw CoordinatorError(.clockSkew, "The request's timestamp is more than \(Int(settings.skewWindow)) s from the coordinator's clock.",
                                   remedy: "Synchronise the client's clock (NTP) and retry.")
        }
        guard let client = try store.client(id: clientID) else {
            throw CoordinatorError(.unknownClient, "No client with this key is enrolled.", remedy: "Enroll with a token from the operator first.")
        }
        guard RequestSigning.verify(signing: client.identity, signature: sig, method: method, path: path, bodySHA256: bodySHA256,
                                    timestamp: t, nonce: nonce) else {
            throw CoordinatorError(.badSignature, "The request signature does not verify.",
                                   remedy: "Sign method, path with query, SHA-256 of the body, timestamp and nonce with the enrolled identity.")
        }
        guard try store.recordRequest(client: clientID, nonce: nonce, at: now, pruneBefore: now.addingTimeInterval(-2 * settings.skewWindow)) else {
            throw CoordinatorError(.replayedNonce, "This nonce was already used.", remedy: "Use a fresh random nonce for every request.")
        }
        return client
    }

    // MARK: Rounds

    /// GET /v1/round: marks the client available and says what it should do now.
    public func roundStatus(for client: EnrolledClient, now: Date) throws -> RoundStatus {
        try run(.polled(.init(clientID: client.id, identity: client.identity), now: now), now: now)
        guard let open = machine.openRound else {
            return RoundStatus(round: nil, stage: nil, deadline: nil, participant: nil, parameters: nil, adapterVersion: nil,
                               submitted: false, participants: nil, manifestSequence: state.manifestSequence)
        }
        let r = open.record
        let p = open.participant(clientID: client.id)
        return RoundStatus(round: r.round, stage: r.stage, deadline: Date(timeIntervalSince1970: r.deadline.timeIntervalSince1970.rounded(.up)),
                           participant: p?.id, parameters: p == nil ? nil : r.parameters, adapterVersion: r.adapterVersion,
                           submitted: p.map { open.hasSubmitted($0.id, r.stage) } ?? false,
                           participants: p == nil ? nil : r.participants.map { ParticipantEntry(id: $0.id, identity: $0.identity) },
                           manifestSequence: state.manifestSequence)
    }

    /// A stage message from `client`; returns once it is stored (or throws why it was refused).
    public func submit(_ message: RoundMessage, from client: EnrolledClient, now: Date) throws {
        let outcome = try run(.message(message, clientID: client.id, now: now), now: now)
        if let rejection = outcome.rejection { throw rejection }
    }

    /// POST …/masked-input: the body is the masked words; the sender is the caller's participant id.
    public func submitMaskedInput(round: UInt64, words: Data, from client: EnrolledClient, now: Date) throws {
        let (r, p) = try roundFor(round, client: client)
        guard words.count == r.record.parameters.vectorLength * 4 else {
            throw CoordinatorError(.malformedBody, "The masked input has \(words.count) bytes; round \(round) expects \(r.record.parameters.vectorLength * 4) (4 per parameter).",
                                   remedy: "Send the masked vector as little-endian UInt32 words, one per parameter of the shared adapter.")
        }
        let message = try RoundMessage(stage: .maskedInput, round: round, sender: p.id, payload: words)
        try submit(message, from: client, now: now)
    }

    /// Bytes a masked input of the open round has (for the server's body limit).
    public var maskedInputBytes: Int? { machine.openRound.map { $0.record.parameters.vectorLength * 4 } }

    /// The round `round` as seen by `client`, for the GET endpoints of stage outputs.
    private func roundFor(_ round: UInt64, client: EnrolledClient) throws -> (ActiveRound, RoundParticipant) {
        guard let current = machine.current, current.round == round else {
            if round >= machine.nextRound {
                throw CoordinatorError(.roundNotFound, "Round \(round) does not exist.", remedy: "Poll GET /v1/round for the open round.")
            }
            throw CoordinatorError(.wrongRound, "Round \(round) is over.", remedy: "Poll GET /v1/round for the open round.")
        }
        guard let p = current.participant(clientID: client.id) else {
            throw CoordinatorError(.notParticipant, "This client was not sampled for round \(round).", remedy: "Keep polling GET /v1/round.")
        }
        return (current, p)
    }

    private func notReady(_ what: String, _ round: UInt64) -> CoordinatorError {
        CoordinatorError(.stageNotReady, "The \(what) of round \(round) does not exist yet.", remedy: "Poll GET /v1/round until the stage that produces it has closed.")
    }

    public func roster(round: UInt64, for client: EnrolledClient) throws -> KeyRoster {
        let (r, _) = try roundFor(round, client: client)
        guard let roster = r.roster else { throw notReady("key roster", round) }
        return roster
    }

    public func shares(round: UInt64, for client: EnrolledClient) throws -> SharesForYou {
        let (r, p) = try roundFor(round, client: client)
        guard r.hasForwardedShares else { throw notReady("forwarded shares", round) }
        guard let s = r.sharesFor(p.id) else {
            throw CoordinatorError(.notParticipant, "Participant \(p.id) did not share keys in round \(round), so nothing is forwarded to it.", remedy: "Wait for the next round.")
        }
        return s
    }

    public func survivors(round: UInt64, for client: EnrolledClient) throws -> SurvivorList {
        let (r, _) = try roundFor(round, client: client)
        guard let list = r.survivorList else { throw notReady("survivor list", round) }
        return list
    }

    public func unmaskRequest(round: UInt64, for client: EnrolledClient) throws -> UnmaskRequest {
        let (r, _) = try roundFor(round, client: client)
        guard let request = r.unmaskRequest else { throw notReady("unmasking request", round) }
        return request
    }

    public func summary(round: UInt64) throws -> RoundSummary {
        guard let r = try store.round(round) else {
            throw CoordinatorError(.roundNotFound, "Round \(round) does not exist.", remedy: "Take round numbers from GET /v1/round.")
        }
        return RoundSummary(round: r.round, stage: r.stage, sampled: r.participants.count, included: r.included, resultVersion: r.resultVersion,
                            abortReason: r.abortReason,
                            privacy: r.epsilonAfter.map { PrivacyReport(epsilonSpent: $0, delta: settings.delta, epsilonBudget: settings.epsilonBudget,
                                                                       roundsAccounted: r.roundsAccounted ?? 0) })
    }

    // MARK: Inspection

    public var currentAdapter: AdapterVersion? { adapter }
    public var currentVector: [Float]? { machine.vector }
    public var openRound: RoundRecord? { machine.openRound?.record }
    public var lastRound: RoundRecord? { machine.current?.record }
    public var epsilonSpent: Double { machine.epsilonSpent }
    public var manifestSequence: Int64 { state.manifestSequence }
    public var budgetExhausted: Bool { machine.budgetExhausted }
    public var roundsLeft: Int? { machine.roundsLeft }
}
