import Diagnostics
internal import Foundation

// Every number of a manifest is the coordinator's word, and a client saves the manifest it accepts:
// one that would overflow (scaleBits 62), trap (rank × dimensions past Int) or exhaust memory
// (a vector of 2^40 values) would crash every later command. `validate` bounds each of them before
// anything is saved; the limits are far above any real configuration.

/// Bounds on what a coordinator may ask of a client (protocol/PROTOCOL.md §2.5, "Limits").
public enum ManifestLimits {
    public static let maxRank = 256
    public static let maxBlocks = 1_024
    public static let maxWidth = 1 << 17                 // embedding, key/value and feed-forward widths
    public static let maxVectorLength = 1 << 26          // values of the shared adapter (256 MiB masked)
    public static let maxClientsPerRound = 65_535
    public static let maxStageTimeout = 86_400.0         // seconds
    public static let maxLocalSteps = 1_000_000
    public static let maxSequence = 1 << 20
    public static let maxBlobSize: Int64 = 1 << 36       // 64 GiB (a base model)
    public static let maxNoiseMultiplier = 1e6
}

extension Manifest {
    /// Throws `invalidArgument` naming the first field out of bounds.
    public func validate() throws {
        func fail(_ what: String) -> FederationError {
            FederationError(.invalidArgument, "The coordinator's manifest is refused: \(what). Nothing was saved; tell the coordinator's operator.")
        }
        guard sequence >= 0, sharedAdapterVersion >= 0 else { throw fail("a negative sequence or adapter version") }
        let a = sharedAdapter
        guard (1...ManifestLimits.maxRank).contains(a.rank) else { throw fail("rank \(a.rank) outside 1…\(ManifestLimits.maxRank)") }
        guard a.alpha.isFinite, a.alpha > 0, a.alpha <= 1e6 else { throw fail("alpha \(a.alpha) outside (0, 1e6]") }
        guard !a.targets.isEmpty, Set(a.targets).count == a.targets.count,
              a.targets.allSatisfy(SharedAdapterSpec.targetOrder.contains) else { throw fail("targets \(a.targets) not distinct names among \(SharedAdapterSpec.targetOrder)") }
        if let d = baseDimensions {
            guard (1...ManifestLimits.maxBlocks).contains(d.blocks) else { throw fail("\(d.blocks) blocks outside 1…\(ManifestLimits.maxBlocks)") }
            for (name, w) in [("embedding", d.embedding), ("key/value", d.keyValue), ("feed-forward", d.feedForward)] {
                guard (1...ManifestLimits.maxWidth).contains(w) else { throw fail("\(name) width \(w) outside 1…\(ManifestLimits.maxWidth)") }
            }
            // Bounded factors, so this cannot overflow: ≤ 2^10 · 7 · 2^17 · 2^8.
            let length = a.vectorLength(d)
            guard length <= ManifestLimits.maxVectorLength else {
                throw fail("a shared adapter of \(length) values, over \(ManifestLimits.maxVectorLength)")
            }
        }
        for (name, blob) in [("base", base), ("shared adapter", sharedAdapterBlob)] {
            guard let blob else { continue }
            guard (0...ManifestLimits.maxBlobSize).contains(blob.size), blob.sha256.count == 64,
                  blob.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw fail("the \(name) blob reference is malformed or too large") }
        }
        try round.validate(fail: fail)
        guard privacy.epsilonSpent.isFinite, privacy.epsilonBudget.isFinite || privacy.epsilonBudget == .infinity,
              privacy.delta.isFinite, privacy.roundsAccounted >= 0 else { throw fail("a malformed privacy report") }
    }
}

extension RoundConfig {
    func validate(fail: (String) -> FederationError) throws {
        guard (2...ManifestLimits.maxClientsPerRound).contains(clientsPerRound), (2...clientsPerRound).contains(minimumClients) else {
            throw fail("clients per round \(clientsPerRound) and minimum \(minimumClients) outside 2 ≤ minimum ≤ per round ≤ \(ManifestLimits.maxClientsPerRound)")
        }
        guard stageTimeout.isFinite, stageTimeout > 0, stageTimeout <= ManifestLimits.maxStageTimeout else { throw fail("stage timeout \(stageTimeout) s") }
        guard (0...ManifestLimits.maxLocalSteps).contains(localSteps), learningRate.isFinite, learningRate >= 0,
              (1...ManifestLimits.maxSequence).contains(maxSequence) else { throw fail("local steps, learning rate or sequence length out of bounds") }
        guard serverLearningRate.isFinite, serverLearningRate > 0, ["fedavg", "fedadam"].contains(strategy) else { throw fail("server strategy or rate") }
        // Through the checking initialisers: the synthesized decoding skips their checks.
        do {
            _ = try FixedPointCodec(range: codec.range, scaleBits: codec.scaleBits, maxSummands: codec.maxSummands)
            _ = try DistributedGaussian(clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, minimumClients: dp.minimumClients)
        } catch let e as FederationError {
            throw fail(e.message)
        }
        guard codec.maxSummands >= clientsPerRound, dp.clipNorm < codec.range, dp.noiseMultiplier <= ManifestLimits.maxNoiseMultiplier,
              dp.minimumClients <= clientsPerRound else { throw fail("DP or codec parameters inconsistent with the round size") }
        if let k = neighbours, k != 0 {
            let tk = neighbourThreshold ?? NeighbourGraph.defaultThreshold(degree: k)
            guard k >= 2, k % 2 == 0, k < ManifestLimits.maxClientsPerRound, tk >= 2, tk <= k + 1 else { throw fail("neighbour degree \(k) / threshold \(tk)") }
        }
    }

    /// Checks a round's SecAgg parameters and cohort (from the round status) against this signed
    /// configuration: the coordinator may not lower the threshold below the minimum (and the DP
    /// n_min) it published, sample more than it said, or swap the neighbour graph.
    public func check(_ p: SecAggParameters, sampled: Int) throws {
        func fail(_ what: String) -> FederationError {
            FederationError(.unsafeParameters, "The round's parameters contradict the signed manifest: \(what). Refusing the round.")
        }
        guard sampled >= minimumClients, sampled <= clientsPerRound else {
            throw fail("\(sampled) participants, outside \(minimumClients)…\(clientsPerRound)")
        }
        guard p.threshold >= minimumClients, p.threshold >= dp.minimumClients, p.threshold <= sampled, p.graph != nil || 2 * p.threshold > sampled else {
            throw fail("threshold \(p.threshold) for \(sampled) participants (needs ≥ \(max(minimumClients, dp.minimumClients)) and a strict majority)")
        }
        let k = neighbours ?? 0
        if k > 0, k < sampled - 1 {
            let tk = neighbourThreshold ?? NeighbourGraph.defaultThreshold(degree: k)
            guard let g = p.graph, g.degree == k, g.threshold == tk else {
                throw fail("a neighbour graph other than degree \(k), threshold \(tk)")
            }
        } else if p.graph != nil {
            throw fail("a neighbour graph the manifest does not ask for")
        }
    }
}
