/// Aggregation strategies as pure functions of (sum or updates, counts, state).

import Diagnostics
public enum FedAvg {
    /// The unweighted mean from a decoded SecAgg sum of `count` clients: the DP-compatible choice,
    /// since each client's influence on the result is bounded by C/count alone.
    public static func mean(sum: [Double], count: Int) throws -> [Float] {
        guard count >= 1 else { throw FederationError(.invalidArgument, "Cannot average over zero clients.") }
        let inverse = 1 / Double(count)
        return sum.map { Float($0 * inverse) }
    }

    /// The mean of `count` fixed-point encoded updates from their sum (mod 2^32): the same numbers as
    /// `mean(sum: codec.decode(sum), count:)`, in one pass without the intermediate Double vector
    /// (the coordinator does this for every completed round, on vectors of millions of words).
    public static func mean(encodedSum sum: [UInt32], codec: FixedPointCodec, count: Int) throws -> [Float] {
        guard count >= 1 else { throw FederationError(.invalidArgument, "Cannot average over zero clients.") }
        let inverse = 1 / Double(1 << codec.scaleBits), countInverse = 1 / Double(count)
        return [Float](unsafeUninitializedCapacity: sum.count) { out, initialized in
            sum.withUnsafeBufferPointer { words in
                for i in 0..<words.count { out[i] = Float(Double(Int32(bitPattern: words[i])) * inverse * countInverse) }
            }
            initialized = sum.count
        }
    }

    /// The unweighted mean of plain updates (no secure aggregation).
    public static func mean(of updates: [[Float]]) throws -> [Float] {
        guard let first = updates.first else { throw FederationError(.invalidArgument, "Cannot average zero updates.") }
        var sum = [Double](repeating: 0, count: first.count)
        for u in updates {
            guard u.count == sum.count else { throw FederationError(.lengthMismatch, "Updates differ in length (\(u.count) vs \(sum.count)).") }
            for i in u.indices { sum[i] += Double(u[i]) }
        }
        return try mean(sum: sum, count: updates.count)
    }

    /// The example-count weighted mean (McMahan et al. 2017's original FedAvg).
    ///
    /// BREAKS THE DP BOUND: a client that claims many examples gets a weight that can exceed
    /// 1/n, so its influence is no longer bounded by C/n and the accountant's ε is wrong. It also
    /// needs each client's weight in clear, outside SecAgg. Use only for non-private rounds.
    public static func weightedMeanBreakingDP(of updates: [[Float]], weights: [Double]) throws -> [Float] {
        guard !updates.isEmpty, updates.count == weights.count else {
            throw FederationError(.invalidArgument, "Give one weight per update, and at least one update.")
        }
        let total = weights.reduce(0, +)
        guard total > 0, weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw FederationError(.invalidArgument, "Weights must be non-negative and sum to a positive number.")
        }
        var sum = [Double](repeating: 0, count: updates[0].count)
        for (u, w) in zip(updates, weights) {
            guard u.count == sum.count else { throw FederationError(.lengthMismatch, "Updates differ in length.") }
            for i in u.indices { sum[i] += w * Double(u[i]) }
        }
        return sum.map { Float($0 / total) }
    }
}

/// FedAdam (Reddi et al. 2021, "Adaptive Federated Optimization", Algorithm 2): the server treats
/// the averaged client update Δ as a pseudo-gradient and takes an Adam step on the global
/// parameters. Its moments are Codable so the coordinator can persist them across restarts.
///
///     m ← β1·m + (1−β1)·Δ
///     v ← β2·v + (1−β2)·Δ²
///     x ← x + η·m/(√v + τ)
///
/// (No bias correction, as in the paper; τ controls adaptivity.) As post-processing of the noised
/// average it costs no privacy.
public struct FedAdam: Codable, Sendable, Hashable {
    public var learningRate: Double      // η, e.g. 1e-2
    public var beta1: Double             // β1, 0.9
    public var beta2: Double             // β2, 0.99
    public var tau: Double               // τ, 1e-3
    public private(set) var m: [Float]
    public private(set) var v: [Float]
    public private(set) var steps: Int = 0

    public init(parameterCount: Int, learningRate: Double = 1e-2, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
    }

    /// Applies one server step to `parameters` with the averaged update `delta`.
    public mutating func step(parameters: inout [Float], delta: [Float]) throws {
        guard parameters.count == m.count, delta.count == m.count else {
            throw FederationError(.lengthMismatch, "FedAdam holds \(m.count) parameters; got \(parameters.count) parameters and \(delta.count) update values.")
        }
        let b1 = Float(beta1), b2 = Float(beta2), eta = Float(learningRate), t = Float(tau)
        for i in parameters.indices {
            let d = delta[i]
            m[i] = b1 * m[i] + (1 - b1) * d
            v[i] = b2 * v[i] + (1 - b2) * d * d
            parameters[i] += eta * m[i] / (v[i].squareRoot() + t)
        }
        steps += 1
    }
}
