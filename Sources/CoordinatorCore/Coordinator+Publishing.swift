public import Federation
public import Foundation
import Seal

// What the coordinator publishes: the signed manifest (a new sequence number with every change),
// the blobs it lists, and bases with their shared adapter of zeros.
extension Coordinator {
    /// Signs the next manifest into `s`: its sequence is bumped, ε is the accountant's so far.
    func bumpManifest(_ s: inout CoordinatorState, adapter: AdapterVersion?, now: Date) throws {
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
}
