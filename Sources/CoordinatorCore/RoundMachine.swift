import Diagnostics
public import Federation
public import Foundation
public import Seal

/// The round lifecycle as a value: events in, actions out, time passed in with every event, no
/// I/O. The coordinator applies the actions to its store and keeps the new value only once they
/// are durable, so a failed write leaves the machine as it was.
///
/// A round opens when `clientsPerRound` clients polled within the availability window, or
/// `minimumClients` after `sampleWait` more seconds, and the privacy budget allows one more round.
/// Each stage closes as soon as every expected participant sent its message, or at its deadline
/// if at least the threshold did; otherwise the round aborts with a reason.
public struct RoundMachine: Sendable {
    public struct Candidate: Sendable, Hashable {
        public let clientID: String
        public let identity: IdentityPublicKeys

        public init(clientID: String, identity: IdentityPublicKeys) {
            self.clientID = clientID
            self.identity = identity
        }
    }

    public enum Event: Sendable {
        /// A client asked GET /v1/round: it is available for sampling.
        case polled(Candidate, now: Date)
        /// A message from the enrolled client `clientID`.
        case message(RoundMessage, clientID: String, now: Date)
        /// Time passed; deadlines are checked.
        case tick(now: Date)
    }

    public enum Action: Sendable {
        case saveRound(RoundRecord)
        case storeMessage(round: UInt64, stage: RoundStage, participant: ParticipantID, payload: Data)
        /// A new shared-adapter version: write its blob, record it, bump the manifest.
        case publish(version: Int, vector: [Float], round: UInt64)
        /// The accountant, FedAdam state or round counter changed.
        case saveState
        /// For metrics: a stage closed after `seconds`.
        case stageClosed(RoundStage, seconds: Double)
        /// For metrics: the round ended in `.completed` or `.aborted`.
        case roundFinished(RoundStage)
        /// For the log only.
        case note(String)
    }

    /// The result of one event: actions to make durable and, for a refused message, why.
    public struct Outcome: Sendable {
        public var actions: [Action] = []
        public var rejection: CoordinatorError?
    }

    public let settings: CoordinatorSettings
    /// Enrolled clients (recorded with each round; the accountant charges q = 1 regardless).
    public var enrolledCount: Int
    /// Rounds this machine may still open (nil: no limit).
    public var roundsLeft: Int?
    public private(set) var version: Int?
    public private(set) var vector: [Float]?
    public private(set) var accountant: RDPAccountant
    public private(set) var fedAdam: FedAdam?
    public private(set) var nextRound: UInt64
    /// The open round, or the last one once it finished (its outputs stay readable).
    public private(set) var current: ActiveRound?
    /// True once no further round fits in the privacy budget.
    public private(set) var budgetExhausted = false
    /// Client id → rounds in which it was excluded for a message SecAgg refused (derived from the
    /// round records, so it survives a restart through `countExclusions`).
    public private(set) var exclusions: [String: Int] = [:]
    private var pool: [String: (candidate: Candidate, lastPoll: Date)] = [:]
    private var poolSince: Date?

    public init(settings: CoordinatorSettings, state: CoordinatorState, enrolledCount: Int,
                shared: (version: Int, vector: [Float])?, roundsLeft: Int? = nil) {
        self.settings = settings
        self.enrolledCount = enrolledCount
        self.version = shared?.version
        self.vector = shared?.vector
        self.accountant = state.accountant
        self.fedAdam = state.fedAdam
        self.nextRound = state.nextRound
        self.roundsLeft = roundsLeft
    }

    /// Sets the shared adapter (when a base is published: version 0, zeros).
    public mutating func setShared(version: Int, vector: [Float]) {
        self.version = version
        self.vector = vector
    }

    /// True once `clientID` was excluded in K rounds (`CoordinatorSettings.suspensionThreshold`).
    public func isSuspended(_ clientID: String) -> Bool {
        let k = settings.suspensionThreshold
        return k > 0 && exclusions[clientID, default: 0] >= k
    }

    /// Rebuilds the exclusion counts from stored rounds (at start-up).
    public mutating func countExclusions(in rounds: [RoundRecord]) {
        exclusions = [:]
        for r in rounds {
            for p in r.participants where r.excluded.contains(p.id) { exclusions[p.clientID, default: 0] += 1 }
        }
    }

    public var epsilonSpent: Double { accountant.rounds == 0 ? 0 : accountant.epsilon(delta: settings.delta).epsilon }

    public var openRound: ActiveRound? {
        guard let current, !current.record.isFinished else { return nil }
        return current
    }

    // MARK: Events

    public mutating func handle(_ event: Event, using rng: inout some RandomNumberGenerator) -> Outcome {
        var out = Outcome()
        switch event {
        case .polled(let c, let now):
            pool[c.clientID] = (c, now)
            checkDeadline(now: now, into: &out)
            tryOpen(now: now, using: &rng, into: &out)
        case .message(let m, let clientID, let now):
            checkDeadline(now: now, into: &out)
            receive(m, clientID: clientID, now: now, into: &out)
        case .tick(let now):
            checkDeadline(now: now, into: &out)
            tryOpen(now: now, using: &rng, into: &out)
        }
        return out
    }

    // MARK: Opening

    private mutating func tryOpen(now: Date, using rng: inout some RandomNumberGenerator, into out: inout Outcome) {
        guard openRound == nil, let vector, let version, roundsLeft.map({ $0 > 0 }) ?? true else { return }
        let r = settings.round
        pool = pool.filter { now.timeIntervalSince($0.value.lastPoll) <= settings.availabilityWindow && !isSuspended($0.key) }
        guard pool.count >= r.minimumClients else {
            poolSince = nil
            return
        }
        let since = poolSince ?? now
        poolSince = since
        guard pool.count >= r.clientsPerRound || now.timeIntervalSince(since) >= settings.sampleWait else { return }

        let size = min(pool.count, r.clientsPerRound)
        // q = 1: the sample is drawn from the clients online and the coordinator knows who it
        // sampled, so sampling amplifies nothing a client could verify (PROTOCOL.md §1.8).
        guard let budget = try? settings.budget,
              accountant.canRunAnotherRound(samplingRate: 1, noiseMultiplier: r.dp.effectiveNoiseMultiplier(survivors: r.minimumClients),
                                            budget: budget) else {
            if !budgetExhausted { out.actions.append(.note("privacy budget ε=\(settings.epsilonBudget) reached: no further rounds")) }
            budgetExhausted = true
            return
        }
        var candidates = pool.values.map(\.candidate).sorted { $0.clientID < $1.clientID }
        candidates.shuffle(using: &rng)
        let sample = candidates.prefix(size)
        let participants = sample.enumerated().map {
            RoundParticipant(id: ParticipantID($0.offset + 1), clientID: $0.element.clientID, identity: $0.element.identity)
        }
        // SecAgg+ when the round is larger than a neighbourhood: the graph's seed is public
        // randomness drawn now, before any key is advertised, and stored with the round.
        var graph: NeighbourGraph?
        if let k = r.neighbours, k > 0, k < participants.count - 1 {
            graph = try? NeighbourGraph(degree: k, seed: rng.bytes(count: 32), threshold: r.neighbourThreshold)
            if graph == nil { return }
        }
        let t = graph == nil ? Self.threshold(sampled: participants.count, minimum: r.minimumClients) : r.minimumClients
        let parameters = SecAggParameters(round: nextRound, threshold: t, vectorLength: vector.count, graph: graph)
        let record = RoundRecord(round: nextRound, stage: .advertiseKeys, openedAt: now, deadline: now.addingTimeInterval(r.stageTimeout),
                                 participants: participants, parameters: parameters, adapterVersion: version, enrolled: max(enrolledCount, size))
        guard let active = try? ActiveRound(record: record) else { return }
        current = active
        nextRound += 1
        if let left = roundsLeft { roundsLeft = left - 1 }
        for c in sample { pool[c.clientID] = nil }
        poolSince = nil
        out.actions += [.saveRound(record), .saveState, .note("round \(record.round) opened with \(participants.count) participants")]
    }

    /// t = max(minimum, ⌊n/2⌋ + 1): a strict majority of the sampled, which clients require
    /// (2t > |U1|) so that no two disjoint groups of t can confirm different survivor lists. With a
    /// neighbour graph the majority is the neighbourhood's (2·t_k > k + 1) and t stays the minimum.
    public static func threshold(sampled n: Int, minimum: Int) -> Int { max(minimum, n / 2 + 1) }

    // MARK: Messages

    private mutating func receive(_ m: RoundMessage, clientID: String, now: Date, into out: inout Outcome) {
        func reject(_ code: CoordinatorError.Code, _ message: String, _ remedy: String) {
            out.rejection = CoordinatorError(code, message, remedy: remedy)
        }
        guard var active = current, m.round == active.round else {
            let open = openRound.map { "round \($0.round) is open" } ?? "no round is open"
            return reject(.wrongRound, "The message is for round \(m.round) but \(open).", "Poll GET /v1/round and follow the round it names.")
        }
        guard let p = active.participant(clientID: clientID) else {
            return reject(.notParticipant, "This client was not sampled for round \(m.round).", "Wait for a round that samples it; keep polling GET /v1/round.")
        }
        guard m.sender == p.id else {
            return reject(.senderMismatch, "The message claims sender \(m.sender) but this client is participant \(p.id).", "Set sender to the participant id GET /v1/round gave this client.")
        }
        guard !active.record.excluded.contains(p.id) else {
            return reject(.excluded, "Participant \(p.id) was excluded from round \(m.round) after a message that broke the protocol.", "Wait for the next round.")
        }
        // Before the stage check: a message accepted before a restart lost its answer is retried,
        // maybe after its stage closed; the sender must hear that it counts, not that it is late.
        guard !active.hasSubmitted(p.id, m.stage) else {
            return reject(.duplicateMessage, "Participant \(p.id) already sent its \(m.stage.rawValue) message.", "Nothing to do: the first one was kept.")
        }
        guard !active.record.isFinished, m.stage == active.record.stage else {
            return reject(.wrongStage, "Round \(m.round) is in stage \(active.record.stage.rawValue), not \(m.stage.rawValue).",
                          "Poll GET /v1/round and send the message its stage asks for.")
        }
        guard active.expected(m.stage).contains(p.id) else {
            return reject(.notParticipant, "Participant \(p.id) is not among those stage \(m.stage.rawValue) expects: it missed an earlier stage.",
                          "Wait for the next round.")
        }
        let payload: Data
        do { payload = try m.payload() } catch {
            return reject(.malformedBody, "The message could not be encoded for storage.", "Resend a well-formed message.")
        }
        do {
            try active.receive(m)
        } catch {
            // The message breaks the protocol: its sender is out of this round.
            active.record.excluded.append(p.id)
            exclusions[clientID, default: 0] += 1
            if isSuspended(clientID) {
                out.actions.append(.note("client \(clientID.prefix(16))… excluded in \(exclusions[clientID]!) rounds: suspended from sampling"))
            }
            current = active
            out.actions += [.saveRound(active.record), .note("round \(active.round): participant \(p.id) excluded: \(error.code)")]
            reject(.messageRejected, "The \(m.stage.rawValue) message was refused: \(error.message)",
                   "This client is excluded from round \(m.round); check its SecAgg implementation against protocol/PROTOCOL.md §1.7.")
            if active.allExpectedArrived { close(now: now, into: &out) }
            return
        }
        current = active
        out.actions.append(.storeMessage(round: active.round, stage: m.stage, participant: p.id, payload: payload))
        if active.allExpectedArrived { close(now: now, into: &out) }
    }

    // MARK: Closing stages

    private mutating func checkDeadline(now: Date, into out: inout Outcome) {
        guard let active = openRound, now >= active.record.deadline else { return }
        let have = active.submittedCount
        if have >= active.threshold {
            close(now: now, into: &out)
        } else {
            abort("stage \(active.record.stage.rawValue) reached its deadline with \(have) of \(active.expected(active.record.stage).count) messages; the threshold is \(active.threshold)",
                  now: now, into: &out)
        }
    }

    private mutating func abort(_ reason: String, now: Date, into out: inout Outcome) {
        guard var active = current else { return }
        // Once the unmask request went out, shares may have been revealed and the sum learned
        // even though nothing is published: the round is charged as if it completed.
        // (`complete` aborts after the unmasking stage closed, with the stage already past it.)
        if active.record.stage == .unmasking || active.record.stage == .completed {
            let summed = active.survivorList?.survivors.count ?? active.threshold
            accountant.record(samplingRate: 1, noiseMultiplier: settings.round.dp.effectiveNoiseMultiplier(survivors: summed))
            active.record.epsilonAfter = epsilonSpent
            active.record.roundsAccounted = accountant.rounds
            out.actions.append(.saveState)
        }
        active.record.stage = .aborted
        active.record.abortReason = reason
        active.record.deadline = now
        current = active
        out.actions += [.saveRound(active.record), .roundFinished(.aborted), .note("round \(active.round) aborted: \(reason)")]
    }

    private mutating func close(now: Date, into out: inout Outcome) {
        guard var active = current, !active.record.isFinished else { return }
        let stage = active.record.stage
        let sum: [UInt32]?
        do {
            sum = try active.closeSecAggStage()
        } catch {
            current = active
            let reason = error.code == .inconsistentShares
                ? "unmasking failed: a participant revealed a wrong share (\(error.message))"
                : "closing stage \(stage.rawValue) failed: \(error.message)"
            return abort(reason, now: now, into: &out)
        }
        let opened = active.record.deadline.addingTimeInterval(-settings.round.stageTimeout)
        out.actions.append(.stageClosed(stage, seconds: max(0, now.timeIntervalSince(opened))))
        active.record.stage = ActiveRound.next(after: stage)
        active.record.deadline = now.addingTimeInterval(settings.round.stageTimeout)
        current = active
        if let sum {
            complete(sum: sum, now: now, into: &out)
        } else {
            out.actions.append(.saveRound(active.record))
            // A stage whose every expected participant already answered (none can yet) or none is left.
            if active.expected(active.record.stage).count < active.threshold {
                abort("only \(active.expected(active.record.stage).count) participants remain for stage \(active.record.stage.rawValue); the threshold is \(active.threshold)",
                      now: now, into: &out)
            }
        }
    }

    /// Decodes the sum, averages it over the included clients, takes the strategy's server step on
    /// the shared adapter, steps the accountant, and publishes the next version.
    private mutating func complete(sum: [UInt32], now: Date, into out: inout Outcome) {
        guard var active = current, let old = vector, let version else { return }
        let included = active.survivorList?.survivors.count ?? 0
        let r = settings.round
        let next: [Float]
        do {
            try AggregateBounds(codec: r.codec, dp: r.dp, included: included, length: sum.count).check(encodedSum: sum, codec: r.codec)
        } catch {
            return abort("the aggregate is out of bounds, nothing published: \((error as? FederationError)?.message ?? "\(error)")", now: now, into: &out)
        }
        do {
            let mean = try FedAvg.mean(encodedSum: sum, codec: r.codec, count: included)
            let step = try r.serverStrategy.step(shared: old, mean: mean, state: fedAdam)
            next = step.shared
            fedAdam = step.state
        } catch {
            return abort("aggregation failed: \(error)", now: now, into: &out)
        }
        accountant.record(samplingRate: 1, noiseMultiplier: r.dp.effectiveNoiseMultiplier(survivors: included))
        self.version = version + 1
        self.vector = next
        active.record.stage = .completed
        active.record.included = included
        active.record.resultVersion = version + 1
        active.record.epsilonAfter = epsilonSpent
        active.record.roundsAccounted = accountant.rounds
        active.record.deadline = now
        current = active
        out.actions += [.publish(version: version + 1, vector: next, round: active.round), .saveRound(active.record), .saveState, .roundFinished(.completed),
                        .note("round \(active.round) completed with \(included) inputs: version \(version + 1), ε = \(epsilonSpent)")]
    }

    // MARK: Restart

    /// Rebuilds the open round from its record and its stored messages, in the order they were
    /// accepted, closing each stage the record has already passed. Deadlines are the stored ones.
    public mutating func restore(round record: RoundRecord, messages: [StoredMessage]) throws {
        var active = try ActiveRound(record: record)
        active.record.stage = .advertiseKeys
        for stage in ActiveRound.order {
            for s in messages where s.stage == stage {
                let m = try RoundMessage(stage: stage, round: record.round, sender: s.participant, payload: s.payload)
                do { try active.receive(m) } catch {
                    throw CoordinatorError(.storage, "Replaying round \(record.round) failed at a stored \(stage.rawValue) message: \(error).",
                                           remedy: "The database is inconsistent; restore it from a backup.")
                }
            }
            if stage == record.stage { break }
            do { _ = try active.closeSecAggStage() } catch {
                throw CoordinatorError(.storage, "Replaying round \(record.round) could not close stage \(stage.rawValue): \(error).",
                                       remedy: "The database is inconsistent; restore it from a backup.")
            }
            active.record.stage = ActiveRound.next(after: stage)
        }
        active.record = record
        current = active
    }

    /// Keeps a finished round's record as `current` after a restart (its stage outputs are gone).
    public mutating func restoreFinished(_ record: RoundRecord) throws {
        current = try ActiveRound(record: record)
    }
}
