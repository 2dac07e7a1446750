import Diagnostics
import FederatedClient
import Federation
import Foundation
import Seal
import Testing
import Transport
import Vault

enum FederatedTestFixtures {
    /// z = 1e-7: noise far below the 2^-16 rounding the tests allow for, but not zero (a client's
    /// policy refuses rounds without noise; `permissivePolicy` accepts this one).
    static func roundConfig(stageTimeout: Double = 30, noise: Double = 1e-7) throws -> RoundConfig {
        RoundConfig(clientsPerRound: 4, minimumClients: 2, stageTimeout: stageTimeout, localSteps: 1, learningRate: 1e-3,
                    maxSequence: 64, dp: try DistributedGaussian(clipNorm: 10, noiseMultiplier: noise, minimumClients: 2),
                    codec: try FixedPointCodec(range: 16, scaleBits: 16, maxSummands: 8), strategy: "fedavg", serverLearningRate: 1)
    }

    static let permissivePolicy = try! ClientPrivacyPolicy(minimumNoiseMultiplier: 1e-7, maximumRoundEpsilon: 1e300,
                                                           maximumEpsilon: 1e300, minimumCohort: 2)

    static func manifest(sequence: Int64, spec: SharedAdapterSpec, dims: BaseDimensions, version: Int, blob: BlobRef?,
                         stageTimeout: Double = 30, noise: Double = 1e-7) throws -> Manifest {
        Manifest(sequence: sequence, issuedAt: Date(timeIntervalSince1970: 1_800_000_000), base: nil, baseName: "tiny",
                 baseDimensions: dims, sharedAdapter: spec, sharedAdapterVersion: version, sharedAdapterBlob: blob,
                 round: try roundConfig(stageTimeout: stageTimeout, noise: noise),
                 privacy: PrivacyReport(epsilonSpent: 0, delta: 1e-5, epsilonBudget: 8, roundsAccounted: 0))
    }
}

/// A coordinator in process, for the participant's round logic without HTTP: it runs the real
/// `SecAggServer`, closes a stage when every expected participant has sent its message or when the
/// stage's timeout passes (then the silent ones are dropouts), and publishes the averaged update.
final class LocalCoordinator: @unchecked Sendable {
    let key = Identity.generate()
    let spec: SharedAdapterSpec
    let dims = BaseDimensions(blocks: 2, embedding: 16, keyValue: 8, feedForward: 24)
    let stageTimeout: Double
    let round: UInt64 = 1

    private let lock = NSLock()
    private(set) var sequence: Int64 = 1
    private(set) var version = 0
    private(set) var vector: [Float]
    private var blobs: [String: Data] = [:]
    private var signed: SignedManifest
    private var ids: [Data: ParticipantID] = [:]
    private let entries: [ParticipantEntry]
    private var server: SecAggServer
    private var stage: RoundStage = .advertiseKeys
    private var opened = Date()
    private var expected: Set<ParticipantID>
    private var submitted = Set<ParticipantID>()
    private var roster: KeyRoster?
    private var shares: [ParticipantID: SharesForYou] = [:]
    private var survivorList: SurvivorList?
    private var unmaskRequest: UnmaskRequest?
    private var summary: RoundSummary?
    private var parameters: SecAggParameters

    let noise: Double
    /// The key round statements are signed with: the pinned `key`, or another one to play a
    /// network attacker who rewrites them.
    private let statementKeyOverride: Identity?
    var statementKey: Identity { statementKeyOverride ?? key }

    init(participants: [Identity], stageTimeout: Double, noise: Double = 1e-7, statementKey: Identity? = nil) throws {
        statementKeyOverride = statementKey
        spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q", "v"], seed: 11)
        self.stageTimeout = stageTimeout
        self.noise = noise
        vector = [Float](repeating: 0, count: spec.vectorLength(dims))
        signed = try SignedManifest.sign(FederatedTestFixtures.manifest(sequence: 1, spec: spec, dims: dims, version: 0, blob: nil,
                                                                        stageTimeout: stageTimeout, noise: noise), with: key)
        var list: [ParticipantEntry] = []
        for (i, p) in participants.enumerated() {
            let id = ParticipantID(i + 1)
            ids[p.publicKeys.signing] = id
            list.append(ParticipantEntry(id: id, identity: p.publicKeys))
        }
        entries = list
        expected = Set(list.map(\.id))
        // A strict majority, as pcoord chooses it (clients refuse 2t ≤ |U1|).
        parameters = SecAggParameters(round: round, threshold: max(2, list.count / 2 + 1), vectorLength: vector.count)
        server = try SecAggServer(parameters: parameters, identities: Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0.identity) }))
    }

    var outcome: RoundSummary? { lock.withLock { summary } }

    func view(_ identity: Identity) -> View { View(coordinator: self, identity: identity) }

    private func id(_ identity: Identity) throws -> ParticipantID {
        guard let id = ids[identity.publicKeys.signing] else { throw APIErrorBody(code: "unknown_client", message: "not enrolled", remedy: "join") }
        return id
    }

    /// Closes the current stage when everyone expected has sent, or its timeout passed.
    private func advance() {
        guard ![.completed, .aborted].contains(stage) else { return }
        guard submitted.isSuperset(of: expected) || Date().timeIntervalSince(opened) > stageTimeout else { return }
        do {
            switch stage {
            case .advertiseKeys: roster = try server.closeAdvertiseKeys(); stage = .shareKeys
            case .shareKeys:
                for s in try server.closeShareKeys() { shares[s.recipient] = s }
                stage = .maskedInput
            case .maskedInput:
                let list = try server.closeMaskedInput()
                survivorList = list
                stage = .consistencyCheck
            case .consistencyCheck: unmaskRequest = try server.closeConsistencyCheck(); stage = .unmasking
            case .unmasking:
                let included = server.includedParticipants.count
                let sum = try server.finish()
                let codec = try FederatedTestFixtures.roundConfig().codec
                for (i, x) in codec.decode(sum).enumerated() { vector[i] += Float(x / Double(included)) }
                version += 1
                sequence += 1
                let blob = SharedAdapterStore.encodeVector(vector)
                let ref = BlobRef(sha256: SHA256.hex(blob), size: Int64(blob.count))
                blobs[ref.sha256] = blob
                signed = try SignedManifest.sign(FederatedTestFixtures.manifest(sequence: sequence, spec: spec, dims: dims, version: version,
                                                                                blob: ref, stageTimeout: stageTimeout, noise: noise), with: key)
                stage = .completed
                summary = RoundSummary(round: round, stage: .completed, sampled: entries.count, included: included,
                                       resultVersion: version, abortReason: nil, privacy: nil)
                return
            default: return
            }
        } catch {
            stage = .aborted
            summary = RoundSummary(round: round, stage: .aborted, sampled: entries.count, included: nil, resultVersion: nil,
                                   abortReason: "\(error)", privacy: nil)
            return
        }
        expected = submitted
        submitted = []
        opened = Date()
    }

    struct View: CoordinatorAPI {
        let coordinator: LocalCoordinator
        let identity: Identity

        private func locked<T>(_ body: (LocalCoordinator) throws -> T) throws -> T {
            try coordinator.lock.withLock {
                coordinator.advance()
                return try body(coordinator)
            }
        }

        private func submit(_ stage: RoundStage, _ body: (inout SecAggServer, ParticipantID) throws -> Void) throws {
            try locked { c in
                let id = try c.id(identity)
                guard c.stage == stage, c.expected.contains(id) else {
                    throw APIErrorBody(code: "stage_closed", message: "\(stage) is closed", remedy: "wait for the next round")
                }
                try body(&c.server, id)
                c.submitted.insert(id)
                c.advance()
            }
        }

        func manifest() throws -> SignedManifest { try locked { $0.signed } }

        func roundStatus() throws -> RoundStatus {
            try locked { c in
                RoundStatus(round: c.round, stage: c.stage, deadline: c.opened.addingTimeInterval(c.stageTimeout),
                            participant: try c.id(identity), parameters: c.parameters, adapterVersion: 0,
                            submitted: c.submitted.contains(try c.id(identity)), participants: c.entries, manifestSequence: c.sequence)
                    .signed(by: c.statementKey, client: identity.publicKeys.signing)
            }
        }

        func advertiseKeys(_ m: AdvertiseKeys) throws { try submit(.advertiseKeys) { s, _ in try s.receive(m) } }
        func fetchRoster(round: UInt64) throws -> KeyRoster? { try locked { $0.stage == .shareKeys ? $0.roster?.signed(by: $0.statementKey) : nil } }
        func shareKeys(_ m: ShareKeys) throws { try submit(.shareKeys) { s, _ in try s.receive(m) } }
        func fetchShares(round: UInt64) throws -> SharesForYou? {
            try locked { c in
                let id = try c.id(identity)
                guard c.stage == .maskedInput else { return nil }
                return c.shares[id] ?? SharesForYou(round: c.round, recipient: id, shares: [])
            }
        }
        func maskedInput(_ m: MaskedInput) throws -> Int { try submit(.maskedInput) { s, _ in try s.receive(m) }; return m.words.count }
        func fetchSurvivors(round: UInt64) throws -> SurvivorList? {
            try locked { $0.stage == .consistencyCheck ? $0.survivorList?.signed(by: $0.statementKey) : nil }
        }
        func consistency(_ m: ConsistencySignature) throws { try submit(.consistencyCheck) { s, _ in try s.receive(m) } }
        func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest? {
            try locked { $0.stage == .unmasking ? $0.unmaskRequest?.signed(by: $0.statementKey) : nil }
        }
        func unmask(_ m: UnmaskResponse) throws { try submit(.unmasking) { s, _ in try s.receive(m) } }
        func summary(round: UInt64) throws -> RoundSummary {
            try locked { c in
                c.summary ?? RoundSummary(round: c.round, stage: c.stage, sampled: c.entries.count, included: nil,
                                          resultVersion: nil, abortReason: nil, privacy: nil)
            }
        }
        func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws {
            let data = try locked { c in c.blobs[blob.sha256] }
            guard let data else { throw APIErrorBody(code: "not_found", message: "no blob", remedy: "") }
            try data.write(to: URL(fileURLWithPath: destination))
        }
    }
}

/// A deterministic contribution: participant k sends delta[j] = 0.01·k·sin(j + 1). Not a stub of
/// the product: the round logic clips, encodes and masks it exactly as a trained update.
struct FixedUpdate: UpdateProvider {
    let k: Int
    var fails = false

    static func delta(_ k: Int, count: Int) -> [Float] { (0..<count).map { Float(0.01 * Double(k) * sin(Double($0 + 1))) } }

    func update(_ context: UpdateContext, log: (String) -> Void) throws -> LocalUpdate {
        if fails { throw ClientError(.badInput, "training failed on purpose") }
        return LocalUpdate(delta: Self.delta(k, count: context.shared.count), examples: 1, steps: 1)
    }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int: RoundOutcome] = [:]
    func set(_ k: Int, _ o: RoundOutcome) { lock.withLock { items[k] = o } }
    var all: [Int: RoundOutcome] { lock.withLock { items } }
}

struct FederatedParticipantTests {
    /// Runs `count` participants on their own threads against one in-process coordinator.
    func runRound(count: Int, failing: Set<Int> = [], stageTimeout: Double, noise: Double = 1e-7,
                  policy: ClientPrivacyPolicy? = FederatedTestFixtures.permissivePolicy,
                  statementKey: Identity? = nil) throws -> (LocalCoordinator, [Int: RoundOutcome], [ClientHome]) {
        let identities = (0..<count).map { _ in Identity.generate() }
        let coordinator = try LocalCoordinator(participants: identities, stageTimeout: stageTimeout, noise: noise, statementKey: statementKey)
        let homes = (0..<count).map { _ in ClientHome(path: temporaryFolder("fed")) }
        for home in homes {
            try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
            var link = CoordinatorLink(url: "http://127.0.0.1:1", clientID: "c", coordinatorKey: coordinator.key.publicKeys.signing,
                                       lastManifestSequence: 0)
            link.policy = policy
            try link.save(home)
        }
        let results = Collected()
        let group = DispatchGroup()
        for k in 0..<count {
            group.enter()
            let identity = identities[k], home = homes[k], fails = failing.contains(k + 1)
            Thread {
                defer { group.leave() }
                do {
                    let link = try CoordinatorLink.require(home)
                    let p = FederatedParticipant(api: coordinator.view(identity), home: home, identity: identity, link: link,
                                                 provider: FixedUpdate(k: k + 1, fails: fails))
                    p.pollInterval = 0.01
                    p.deadlineGrace = 0.5
                    if let o = try p.participateInNextRound(deadline: Date().addingTimeInterval(20)) { results.set(k + 1, o) }
                } catch {
                    Issue.record("participant \(k + 1): \(error)")
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        return (coordinator, results.all, homes)
    }

    /// Issue 16, item 2: the manifest's noise is the coordinator's word. A coordinator that sets
    /// z = 0.01 against the clients' default policy (z ≥ 1, cohort ≥ 5) gets no message at all:
    /// every client drops out before advertising keys, with the policy named in its reason.
    @Test func clientPolicyRefusesWeakNoiseBeforeRevealingAnything() throws {
        let (coordinator, outcomes, homes) = try runRound(count: 3, stageTimeout: 1, noise: 0.01, policy: nil)
        defer { for h in homes { try? FileManager.default.removeItem(atPath: h.path) } }
        #expect(coordinator.outcome?.stage != .completed)
        for k in 1...3 {
            let o = try #require(outcomes[k])
            #expect(!o.included && o.lastStage == nil)
            #expect(o.reason?.contains("privacy policy refuses the round: noise multiplier 0.01 below the minimum 1.0") == true)
        }
        for home in homes { #expect(try CoordinatorLink.require(home).ledger == nil) }
    }

    /// Issue 16, item 7 (signing): round statuses signed by a key other than the pinned one (a
    /// network attacker rewriting the parameters, or a coordinator whose key changed) are refused
    /// before the client sends anything.
    @Test func roundStatementsMustBeSignedByThePinnedKey() throws {
        let (coordinator, outcomes, homes) = try runRound(count: 3, stageTimeout: 1, statementKey: Identity.generate())
        defer { for h in homes { try? FileManager.default.removeItem(atPath: h.path) } }
        #expect(coordinator.outcome?.stage != .completed)
        for k in 1...3 {
            let o = try #require(outcomes[k])
            #expect(o.lastStage == nil)
            #expect(o.reason?.contains("round status does not verify under the pinned key") == true, "\(o.reason ?? "")")
        }
    }

    /// Issue 16, items 2 and 3: each client charges its own accountant at q = 1 before it reveals
    /// its shares, and keeps it in the link.
    @Test func clientChargesItsOwnLedgerAtQOne() throws {
        let (coordinator, outcomes, homes) = try runRound(count: 3, stageTimeout: 20)
        defer { for h in homes { try? FileManager.default.removeItem(atPath: h.path) } }
        #expect(coordinator.outcome?.stage == .completed)
        #expect(outcomes.values.allSatisfy { $0.included })
        var expected = RDPAccountant()
        // t = 2 of n_min = 2: the sum carries z at the least.
        expected.record(samplingRate: 1, noiseMultiplier: 1e-7)
        for home in homes {
            let ledger = try #require(try CoordinatorLink.require(home).ledger)
            #expect(ledger.roundsCharged == 1 && ledger.lastRound == 1)
            #expect(ledger.accountant == expected)
        }
    }

    @Test func threeParticipantsCompleteARoundAndInstallTheAverage() throws {
        let (coordinator, outcomes, homes) = try runRound(count: 3, stageTimeout: 20)
        defer { for h in homes { try? FileManager.default.removeItem(atPath: h.path) } }
        #expect(coordinator.outcome?.stage == .completed)
        let n = coordinator.spec.vectorLength(coordinator.dims)
        for k in 1...3 {
            let o = try #require(outcomes[k])
            #expect(o.included && o.reason == nil && o.resultVersion == 1)
            #expect(o.bytesSent == 4 * n)
        }
        let mean = (0..<n).map { j in (1...3).map { FixedUpdate.delta($0, count: n)[j] }.reduce(0, +) / 3 }
        for home in homes {
            let shared = try #require(try SharedAdapterStore.current(home))
            #expect(shared.version == 1)
            let worst = zip(shared.vector, mean).map { abs($0 - $1) }.max() ?? 1
            #expect(worst <= 2e-5, "stochastic rounding at 2^-16 moves the mean by at most 2^-16")
            let link = try CoordinatorLink.require(home)
            #expect(link.lastManifestSequence == 2)
            #expect(link.lastRound == 1)
        }
    }

    @Test func aParticipantThatFailsToTrainDropsOutAndTheOthersStillFinish() throws {
        let (coordinator, outcomes, homes) = try runRound(count: 4, failing: [2], stageTimeout: 1.5)
        defer { for h in homes { try? FileManager.default.removeItem(atPath: h.path) } }
        #expect(coordinator.outcome?.stage == .completed)
        #expect(coordinator.outcome?.included == 3)
        let dropped = try #require(outcomes[2])
        #expect(!dropped.included)
        #expect(dropped.reason?.contains("training failed on purpose") == true)
        #expect(dropped.lastStage == RoundStage.shareKeys.rawValue)
        let n = coordinator.spec.vectorLength(coordinator.dims)
        let mean = (0..<n).map { j in [1, 3, 4].map { FixedUpdate.delta($0, count: n)[j] }.reduce(0, +) / 3 }
        let shared = try #require(try SharedAdapterStore.current(homes[0]))
        #expect(zip(shared.vector, mean).map { abs($0 - $1) }.max() ?? 1 <= 2e-5)
    }

    @Test func manifestsMustVerifyUnderThePinnedKeyAndNeverGoBack() throws {
        let key = Identity.generate()
        let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q"], seed: 1)
        let dims = BaseDimensions(blocks: 1, embedding: 8, keyValue: 4, feedForward: 16)
        var link = CoordinatorLink(url: "http://127.0.0.1:1", clientID: "c", coordinatorKey: key.publicKeys.signing, lastManifestSequence: 5)
        let newer = try SignedManifest.sign(FederatedTestFixtures.manifest(sequence: 6, spec: spec, dims: dims, version: 1, blob: nil), with: key)
        #expect(try link.accept(newer).sequence == 6)
        #expect(link.lastManifestSequence == 6)
        let older = try SignedManifest.sign(FederatedTestFixtures.manifest(sequence: 5, spec: spec, dims: dims, version: 0, blob: nil), with: key)
        #expect(throws: FederationError.self) { try link.accept(older) }
        let forged = try SignedManifest.sign(FederatedTestFixtures.manifest(sequence: 9, spec: spec, dims: dims, version: 2, blob: nil),
                                             with: Identity.generate())
        #expect(throws: FederationError.self) { try link.accept(forged) }
        #expect(link.lastManifestSequence == 6)
        #expect(link.keyFingerprint.count == 39)
    }

    /// Issue 16, item 8: a coordinator (signing with the pinned key) serves manifests whose numbers
    /// used to crash the client after being saved: scaleBits = 62 (overflows 1 << k), a rank or
    /// dimensions whose product traps in `vectorLength`, a vector of 2^40 values, a negative
    /// timeout. Each is refused with an error naming the field, and the saved link is byte for byte
    /// what it was.
    @Test func manifestsWithOutOfBoundNumbersAreRefusedAndTheLinkIsUnchanged() throws {
        let key = Identity.generate()
        let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q"], seed: 1)
        let dims = BaseDimensions(blocks: 1, embedding: 8, keyValue: 4, feedForward: 16)
        let good = try FederatedTestFixtures.manifest(sequence: 6, spec: spec, dims: dims, version: 0, blob: nil)
        let home = ClientHome(path: temporaryFolder("manifest-bounds"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
        try CoordinatorLink(url: "http://127.0.0.1:1", clientID: "c", coordinatorKey: key.publicKeys.signing, lastManifestSequence: 5).save(home)
        let saved = try Data(contentsOf: URL(fileURLWithPath: CoordinatorLink.path(home)))

        /// The good manifest with one JSON field replaced, signed by the pinned key.
        func tampered(_ edit: (inout [String: Any]) -> Void) throws -> SignedManifest {
            var json = try JSONSerialization.jsonObject(with: WireCoding.encoder().encode(good)) as! [String: Any]
            edit(&json)
            let bytes = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            return SignedManifest(manifest: bytes, signature: Data(key.sign(SignedManifest.signedBytes(bytes))))
        }
        func nested(_ json: inout [String: Any], _ path: [String], _ value: Any) {
            if path.count == 1 { json[path[0]] = value; return }
            var inner = json[path[0]] as! [String: Any]
            nested(&inner, Array(path.dropFirst()), value)
            json[path[0]] = inner
        }
        let cases: [([String], Any, String)] = [
            (["round", "codec", "scaleBits"], 62, "fixed-point scale"),
            (["sharedAdapter", "rank"], 1_000_000_000, "rank"),
            (["baseDimensions", "embedding"], Int.max / 2, "embedding width"),
            (["baseDimensions", "blocks"], 1_000, "values, over"),
            (["round", "stageTimeout"], -1, "stage timeout"),
            (["round", "clientsPerRound"], 1_000_000, "clients per round"),
            (["round", "dp", "noiseMultiplier"], -1, "noise multiplier"),
        ]
        for (path, value, words) in cases {
            var mutated = try tampered { nested(&$0, path, value) }
            if path == ["baseDimensions", "blocks"] {   // 1000 blocks × 2^17 wide × rank 256: 2^35 values
                mutated = try tampered {
                    nested(&$0, ["baseDimensions", "embedding"], 1 << 17)
                    nested(&$0, ["sharedAdapter", "rank"], 256)
                    nested(&$0, path, value)
                }
            }
            let participant = FederatedParticipant(api: ManifestOnlyAPI(signed: mutated), home: home, identity: Identity.generate(),
                                                   link: try CoordinatorLink.require(home), provider: FixedUpdate(k: 1))
            #expect(throws: FederationError.self, "\(path) = \(value)") { try participant.refreshManifest() }
            do { try participant.refreshManifest() } catch let e as FederationError {
                #expect(e.code == .invalidArgument && e.message.contains(words) && e.message.contains("Nothing was saved"), "\(e.message)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: CoordinatorLink.path(home))) == saved)
        }
        // The untouched manifest passes.
        let participant = FederatedParticipant(api: ManifestOnlyAPI(signed: try tampered { _ in }), home: home, identity: Identity.generate(),
                                               link: try CoordinatorLink.require(home), provider: FixedUpdate(k: 1))
        #expect(try participant.refreshManifest().sequence == 6)
    }
}

/// A coordinator that only serves one signed manifest.
struct ManifestOnlyAPI: CoordinatorAPI {
    let signed: SignedManifest
    struct Unsupported: Error {}
    func manifest() throws -> SignedManifest { signed }
    func roundStatus() throws -> RoundStatus { throw Unsupported() }
    func advertiseKeys(_ m: AdvertiseKeys) throws { throw Unsupported() }
    func fetchRoster(round: UInt64) throws -> KeyRoster? { throw Unsupported() }
    func shareKeys(_ m: ShareKeys) throws { throw Unsupported() }
    func fetchShares(round: UInt64) throws -> SharesForYou? { throw Unsupported() }
    func maskedInput(_ m: MaskedInput) throws -> Int { throw Unsupported() }
    func fetchSurvivors(round: UInt64) throws -> SurvivorList? { throw Unsupported() }
    func consistency(_ m: ConsistencySignature) throws { throw Unsupported() }
    func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest? { throw Unsupported() }
    func unmask(_ m: UnmaskResponse) throws { throw Unsupported() }
    func summary(round: UInt64) throws -> RoundSummary { throw Unsupported() }
    func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws { throw Unsupported() }
}
