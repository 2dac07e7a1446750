public import Federation
public import Foundation
import Logging
import Seal

// The round driver: events go to a copy of the round machine, its actions are made durable in one
// store transaction, and only then does the actor keep the copy. Also the rebuilding of the open
// round at start-up, and the endpoints that feed the machine events.
extension Coordinator {
    /// The machine, state and current adapter version as `store` and `blobs` hold them, with the
    /// open round, if any, rebuilt by replaying its stored messages.
    static func restore(settings: CoordinatorSettings, store: any CoordinatorStore, blobs: any BlobStore, roundsLimit: Int?,
                        logger: Logger) throws -> (machine: RoundMachine, state: CoordinatorState, adapter: AdapterVersion?) {
        let loadedState = try store.loadState()
        let loadedAdapter = try store.adapterVersions().last
        let shared = try loadedAdapter.map { (version: $0.version, vector: try blobs.readFloats($0.blob)) }
        var m = RoundMachine(settings: settings, state: loadedState, enrolledCount: try store.clients().count, shared: shared, roundsLeft: roundsLimit)
        let rounds = try store.rounds()
        m.countExclusions(in: rounds)
        if let last = rounds.last {
            if last.isFinished {
                try m.restoreFinished(last)
            } else {
                try m.restore(round: last, messages: try store.messages(round: last.round))
                logger.info("replayed open round", metadata: ["round": "\(last.round)", "stage": "\(last.stage.rawValue)"])
            }
        }
        return (m, loadedState, loadedAdapter)
    }

    // MARK: Applying events

    /// Runs `event` on a copy of the machine, makes its actions durable, then keeps the copy.
    @discardableResult
    func run(_ event: RoundMachine.Event, now: Date) throws -> RoundMachine.Outcome {
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


    /// Checks deadlines and opens a round when enough clients are available. The server calls it
    /// every second, so deadlines fire without client traffic.
    public func tick(now: Date) throws {
        try run(.tick(now: now), now: now)
    }

    // MARK: Rounds

    /// GET /v1/round: marks the client available and says what it should do now.
    public func roundStatus(for client: EnrolledClient, now: Date) throws -> RoundStatus {
        try run(.polled(.init(clientID: client.id, identity: client.identity), now: now), now: now)
        guard let open = machine.openRound else {
            return RoundStatus(round: nil, stage: nil, deadline: nil, participant: nil, parameters: nil, adapterVersion: nil,
                               submitted: false, participants: nil, manifestSequence: state.manifestSequence)
                .signed(by: identity, client: client.identity.signing)
        }
        let r = open.record
        let p = open.participant(clientID: client.id)
        return RoundStatus(round: r.round, stage: r.stage, deadline: Date(timeIntervalSince1970: r.deadline.timeIntervalSince1970.rounded(.up)),
                           participant: p?.id, parameters: p == nil ? nil : r.parameters, adapterVersion: r.adapterVersion,
                           submitted: p.map { open.hasSubmitted($0.id, r.stage) } ?? false,
                           participants: p == nil ? nil : r.participants.map { ParticipantEntry(id: $0.id, identity: $0.identity) },
                           manifestSequence: state.manifestSequence)
            .signed(by: identity, client: client.identity.signing)
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
}
