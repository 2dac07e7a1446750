public import Federation
public import Foundation
public import Seal
public import Transport
public import Vault

/// How one round ended for this client.
public struct RoundOutcome: Sendable, CustomStringConvertible {
    public let round: UInt64
    /// True when this client's masked input is in the published sum.
    public var included: Bool
    /// The shared version the round produced (nil when it aborted or the client left it).
    public var resultVersion: Int?
    /// Why the client left the round or the round aborted; nil on success.
    public var reason: String?
    public var bytesSent: Int
    /// The last stage this client completed ("advertise-keys", …, "unmasking").
    public var lastStage: String?
    /// Wall seconds of local training (on its own thread) and of this client's secure-aggregation
    /// work (keys, shares, clipping, noise, encoding, masking, signing, revealing; waits excluded).
    public var trainingSeconds: Double?
    public var secAggSeconds: Double = 0

    public var description: String {
        if let reason { return "round \(round): left the round (\(reason))" }
        return "round \(round): \(included ? "included" : "not included")" + (resultVersion.map { ", produced shared version \($0)" } ?? "")
    }
}

/// One client's side of federated rounds over a `CoordinatorAPI`: keeps the shared adapter current
/// (manifests verified under the pinned key, blobs verified by SHA-256), waits to be sampled, then
/// drives `SecAggClient` through advertise-keys → share-keys → masked-input → consistency-check →
/// unmasking, trains (through its `UpdateProvider`), clips and noises (distributed DP), encodes
/// in fixed point and masks, and finally installs the version the round produced.
///
/// Dropping out: a stage whose deadline passes, a refusal by the coordinator, a roster or a message
/// that fails SecAgg's checks, or a local failure ends this client's part in the round (the
/// coordinator's threshold covers dropouts) and it waits for the next round. `SecAggClient` keeps its
/// round secrets in memory only and is not persisted: a client restarted mid-round has left that round.
public final class FederatedParticipant {
    public let api: any CoordinatorAPI
    public let home: ClientHome
    public let identity: Identity
    public private(set) var link: CoordinatorLink
    public let provider: any UpdateProvider
    /// Seconds between polls while waiting for a stage or to be sampled.
    public var pollInterval: Double = 1
    /// Extra seconds past a stage's deadline before this client gives the stage up.
    public var deadlineGrace: Double = 5
    public var now: () -> Date = Date.init
    public var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    /// Progress lines (stage reached, training loss, bytes sent). Never user content.
    public var log: (String) -> Void

    private var skippedRound: UInt64?
    /// The current stage's deadline as last reported, so a coordinator restart can be waited out.
    private var stageDeadline: Date?

    public init(api: any CoordinatorAPI, home: ClientHome, identity: Identity, link: CoordinatorLink,
                provider: any UpdateProvider, log: @escaping (String) -> Void = { _ in }) {
        self.api = api
        self.home = home
        self.identity = identity
        self.link = link
        self.provider = provider
        self.log = log
    }

    // MARK: Manifest

    /// Fetches the manifest, checks it under the pinned key (and that it is not older than the last
    /// one), downloads a newer shared version, and saves the link. Returns the manifest.
    @discardableResult
    public func refreshManifest() throws -> Manifest {
        let signed = try api.manifest()
        var updated = link
        let manifest = try updated.accept(signed)
        if try SharedAdapterStore.install(signed, manifest: manifest, home: home, api: api, log: log) {
            log("shared adapter: now version \(manifest.sharedAdapterVersion)")
        }
        link = updated
        try link.save(home)
        return manifest
    }

    // MARK: Rounds

    /// Waits until this client is sampled into a round that is still at advertise-keys, then takes
    /// part. Returns nil when `deadline` passes first.
    public func participateInNextRound(deadline: Date) throws -> RoundOutcome? {
        var manifest = try refreshManifest()
        var waitingSaid = false
        while now() < deadline {
            let status = try api.roundStatus()
            if status.manifestSequence > link.lastManifestSequence { manifest = try refreshManifest() }
            if let round = status.round, status.participant != nil, round != skippedRound {
                if status.stage == .advertiseKeys && !status.submitted {
                    let outcome = takePart(status, round: round, manifest: manifest)
                    skippedRound = round
                    record(outcome)
                    return outcome
                }
                log("round \(round): sampled, but the round is already at \(status.stage?.rawValue ?? "?"); waiting for the next one")
                skippedRound = round
            } else if !waitingSaid {
                log(status.round.map { status.participant == nil ? "round \($0) is open without this client; waiting to be sampled"
                                                                 : "waiting for round \($0) to end" } ?? "no round open; waiting")
                waitingSaid = true
            }
            sleep(min(pollInterval, max(0, deadline.timeIntervalSince(now()))))
        }
        return nil
    }

    private func record(_ outcome: RoundOutcome) {
        link.lastRound = outcome.round
        link.lastRoundResult = outcome.description
        try? link.save(home)
    }

    private struct Dropout: Error { let reason: String }

    /// One round from advertise-keys on; every failure becomes a dropout with its reason.
    private func takePart(_ status: RoundStatus, round: UInt64, manifest: Manifest) -> RoundOutcome {
        var outcome = RoundOutcome(round: round, included: false, resultVersion: nil, reason: nil, bytesSent: 0, lastStage: nil)
        do {
            try run(status, round: round, manifest: manifest, outcome: &outcome)
        } catch let d as Dropout {
            outcome.reason = d.reason
        } catch {
            outcome.reason = "\(error)"
        }
        if let reason = outcome.reason { log("round \(round): dropped out: \(reason)") }
        return outcome
    }

    private func run(_ status: RoundStatus, round: UInt64, manifest: Manifest, outcome: inout RoundOutcome) throws {
        /// Runs one piece of this client's secure-aggregation work and adds its wall time to the outcome.
        func secAgg<T>(_ body: () throws -> T) rethrows -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            defer { outcome.secAggSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            return try body()
        }
        // Everything the coordinator says about the round is signed under the pinned key.
        let pinned = link.coordinatorKey
        try status.verify(coordinatorKey: pinned, client: identity.publicKeys.signing)
        guard let me = status.participant, let parameters = status.parameters, let entries = status.participants else {
            throw Dropout(reason: "the round status lacks the participant id, parameters or roster")
        }
        guard let shared = try SharedAdapterStore.current(home) else {
            throw Dropout(reason: "no shared adapter is installed (the coordinator has no base published)")
        }
        guard status.adapterVersion == nil || status.adapterVersion == shared.version else {
            throw Dropout(reason: "the round starts from shared version \(status.adapterVersion ?? -1), this client holds \(shared.version)")
        }
        guard parameters.round == round, parameters.vectorLength == shared.vector.count else {
            throw Dropout(reason: "the round expects \(parameters.vectorLength) values; the shared adapter has \(shared.vector.count)")
        }
        // The parameters come from the round status, the coordinator's word: they must agree with
        // the signed manifest and this client's own policy before anything is sent.
        let policy = link.effectivePolicy
        try manifest.round.check(parameters, sampled: entries.count)
        try policy.check(manifest.round, parameters: parameters, sampled: entries.count, ledger: link.ledger ?? PrivacyLedger())
        stageDeadline = status.deadline
        var identities: [ParticipantID: IdentityPublicKeys] = [:]
        for e in entries { identities[e.id] = e.identity }
        var client = try SecAggClient(parameters: parameters, id: me, identity: identity, identities: identities)
        client.maskingWorkers = ProcessInfo.processInfo.activeProcessorCount
        client.minimumCohort = max(policy.minimumCohort, manifest.round.minimumClients)
        var rng = SodiumRandom()
        log("round \(round): sampled as participant \(me) of \(entries.count)")

        // Local training needs nothing from secure aggregation: it runs while the first two stages
        // go on, so the masked-input stage only waits for what is left of it. Whatever happens to
        // the round, this returns only once training has stopped (no training outlives its round).
        let context = UpdateContext(round: round, spec: shared.spec, dimensions: shared.dimensions, version: shared.version,
                                    shared: shared.vector, config: manifest.round)
        let job = UpdateJob(provider: provider, context: context, log: log, prefix: "round \(round): ")
        defer { _ = try? job.result() }

        let advertisement = try secAgg { try client.advertiseKeys(using: &rng) }
        try send("advertising keys") { try api.advertiseKeys(advertisement) }
        outcome.lastStage = RoundStage.advertiseKeys.rawValue
        log("round \(round): advertised keys")

        let roster = try wait("the key roster", round: round) { try api.fetchRoster(round: round) }
        try roster.verify(coordinatorKey: pinned)
        let shareKeys = try secAgg { try client.shareKeys(roster: roster, using: &rng) }
        try send("sharing keys") { try api.shareKeys(shareKeys) }
        outcome.lastStage = RoundStage.shareKeys.rawValue
        log("round \(round): shared keys with \(roster.advertisements.count - 1) participants")

        let shares = try wait("the shares", round: round) { try api.fetchShares(round: round) }
        let local = try job.result()
        outcome.trainingSeconds = job.seconds
        var update = local.delta
        if let first = local.firstLoss, let last = local.lastLoss {
            log(String(format: "round %llu: trained %d steps on %d examples, loss %.4f → %.4f", round, local.steps, local.examples, first, last))
        }
        guard update.count == parameters.vectorLength else {
            throw Dropout(reason: "the local update has \(update.count) values, the round \(parameters.vectorLength)")
        }
        let (norm, masked) = try secAgg {
            let norm = DistributedGaussian.clip(&update, to: manifest.round.dp.clipNorm)
            // Millions of secret draws (noise, stochastic rounding): a ChaCha20 stream keyed from the OS.
            var bulk = ChaChaRandom.keyedFromSystem()
            manifest.round.dp.privatize(&update, using: &bulk)
            let words = try manifest.round.codec.encode(update, using: &bulk)
            return (norm, try client.maskedInput(shares: shares, input: words))
        }
        outcome.bytesSent = masked.words.count
        try send("sending the masked update") { _ = try api.maskedInput(masked) }
        outcome.lastStage = RoundStage.maskedInput.rawValue
        log(String(format: "round %llu: sent the masked update (%d bytes; norm %.4g before clipping to %.4g)",
                   round, outcome.bytesSent, norm, manifest.round.dp.clipNorm))

        let survivors = try wait("the survivor list", round: round) { try api.fetchSurvivors(round: round) }
        try survivors.verify(coordinatorKey: pinned)
        let signature = try secAgg { try client.consistencyCheck(survivors) }
        try send("signing the survivor list") { try api.consistency(signature) }
        outcome.lastStage = RoundStage.consistencyCheck.rawValue
        log("round \(round): signed the survivor list (\(survivors.survivors.count) survivors)")

        let request = try wait("the unmasking request", round: round) { try api.fetchUnmaskRequest(round: round) }
        try request.verify(coordinatorKey: pinned)
        let response = try secAgg { try client.unmask(request) }
        // Charged (and saved) before the shares leave: revealed shares spend privacy whether or
        // not the round completes.
        var ledger = link.ledger ?? PrivacyLedger()
        ledger.charge(round: round, config: manifest.round, parameters: parameters)
        link.ledger = ledger
        try link.save(home)
        try send("revealing shares") { try api.unmask(response) }
        outcome.lastStage = RoundStage.unmasking.rawValue
        log("round \(round): revealed shares for unmasking")

        let summary = try waitForSummary(round: round, timeout: max(30, 2 * manifest.round.stageTimeout + deadlineGrace))
        if summary.stage == .aborted {
            throw Dropout(reason: "the coordinator aborted the round: \(summary.abortReason ?? "no reason given")")
        }
        outcome.included = true
        outcome.resultVersion = summary.resultVersion
        log("round \(round): completed with \(summary.included ?? 0) of \(summary.sampled) updates"
            + (summary.privacy.map { String(format: "; privacy spent ε = %.3g at δ = %.1g", $0.epsilonSpent, $0.delta) } ?? ""))
        if let training = outcome.trainingSeconds, training > 0 {
            log(String(format: "round %llu: secure aggregation took %.3f s of this client's time, %.1f%% of its local training (%.2f s)",
                       round, outcome.secAggSeconds, 100 * outcome.secAggSeconds / training, training))
        }
        try refreshManifest()
    }

    /// Polls `fetch` until it has an answer. Gives up (drops out) when the round moves on without
    /// this client, aborts, or the current stage's deadline (plus grace) passes.
    private func wait<T>(_ what: String, round: UInt64, _ fetch: () throws -> T?) throws -> T {
        while true {
            if let value = try tolerant(what, fetch) { return value }
            let status = try tolerant(what) { try api.roundStatus() }
            stageDeadline = status.deadline ?? stageDeadline
            guard status.round == round, status.participant != nil else {
                throw Dropout(reason: "the round ended or moved on while waiting for \(what)")
            }
            if status.stage == .aborted { throw Dropout(reason: "the coordinator aborted the round while this client waited for \(what)") }
            if let deadline = status.deadline, now() > deadline.addingTimeInterval(deadlineGrace) {
                throw Dropout(reason: "the stage deadline passed while waiting for \(what)")
            }
            sleep(pollInterval)
        }
    }

    /// Retries `body` through connection errors and 5xx (a coordinator restarting: its state is
    /// durable, so the round resumes) until the current stage's deadline plus grace has passed.
    private func tolerant<T>(_ what: String, _ body: () throws -> T) throws -> T {
        var said = false
        while true {
            do {
                return try body()
            } catch let e as HTTPError where e.isConnectionError || (e.status ?? 0) >= 500 {
                guard let deadline = stageDeadline, now() < deadline.addingTimeInterval(deadlineGrace) else { throw e }
                if !said { log("coordinator unreachable while \(what); retrying until the stage deadline"); said = true }
                sleep(max(pollInterval, 1))
            }
        }
    }

    /// Sends a stage message, tolerating a restart; a `duplicate_message` refusal means an earlier
    /// attempt was stored before the answer was lost, which is success.
    private func send(_ what: String, _ body: () throws -> Void) throws {
        do {
            try tolerant(what, body)
        } catch let e as HTTPError where e.code == "duplicate_message" {
            return
        }
    }

    private func waitForSummary(round: UInt64, timeout: Double) throws -> RoundSummary {
        let limit = now().addingTimeInterval(timeout)
        while true {
            let summary = try tolerant("waiting for the round's result") { try api.summary(round: round) }
            if summary.stage == .completed || summary.stage == .aborted { return summary }
            guard now() < limit else { throw Dropout(reason: "the round did not finish within \(Int(timeout)) s of unmasking") }
            sleep(pollInterval)
        }
    }
}

/// Runs an `UpdateProvider` on its own thread; `result()` waits for it (and may be called again).
private final class UpdateJob: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var outcome: Result<LocalUpdate, any Error>?
    private var elapsed: Double = 0

    init(provider: any UpdateProvider, context: UpdateContext, log: @escaping (String) -> Void, prefix: String) {
        nonisolated(unsafe) let provider = provider
        nonisolated(unsafe) let log = log
        let thread = Thread { [self] in
            let start = DispatchTime.now().uptimeNanoseconds
            let r = Result { try provider.update(context, log: { log(prefix + $0) }) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.withLock { outcome = r; elapsed = seconds }
            finished.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func result() throws -> LocalUpdate {
        finished.wait()
        finished.signal()
        return try lock.withLock { outcome! }.get()
    }

    /// Wall seconds the provider ran (valid once `result()` returned).
    var seconds: Double { lock.withLock { elapsed } }
}
