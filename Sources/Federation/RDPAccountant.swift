import Diagnostics
internal import Foundation

/// A privacy budget (ε, δ).
public struct PrivacyBudget: Codable, Sendable, Hashable {
    public let epsilon: Double
    public let delta: Double

    public init(epsilon: Double, delta: Double) throws {
        guard epsilon > 0, delta > 0, delta < 1 else {
            throw FederationError(.invalidArgument, "A privacy budget needs ε > 0 and 0 < δ < 1.")
        }
        self.epsilon = epsilon
        self.delta = delta
    }
}

/// Rényi-DP accountant for the sampled Gaussian mechanism (Mironov 2017; Mironov, Talwar and
/// Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", §3.3), composed
/// over rounds by adding RDP at each order α and converted to (ε, δ) at the best order.
///
/// log A_α is computed in log space: for integer α the binomial sum
/// A_α = Σ_i C(α,i) (1−q)^(α−i) q^i exp((i²−i)/(2z²)); for fractional α the two-sided series with
/// erfc terms, summed until terms fall below e^-30. Codable, so the coordinator persists it.
public struct RDPAccountant: Codable, Sendable, Hashable {
    /// 1.25 … 256: TF-Privacy's default list up to 256 (its 512 adds nothing at the noise levels used here).
    public static let defaultOrders: [Double] = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5]
        + (5...64).map(Double.init) + [128, 256]

    /// How RDP becomes (ε, δ).
    public enum Conversion: String, Codable, Sendable {
        /// Mironov 2017, Prop. 3: ε = rdp + log(1/δ)/(α−1).
        case mironov2017
        /// Balle et al. 2020, Thm. 21 (what Opacus uses): ε = rdp + log((α−1)/α) − (log δ + log α)/(α−1). Tighter.
        case balle2020
    }

    public let orders: [Double]
    public private(set) var rdp: [Double]
    public private(set) var rounds: Int = 0
    public var conversion: Conversion

    public init(orders: [Double] = RDPAccountant.defaultOrders, conversion: Conversion = .balle2020) {
        precondition(orders.allSatisfy { $0 > 1 }, "RDP orders must exceed 1")
        self.orders = orders
        self.rdp = [Double](repeating: 0, count: orders.count)
        self.conversion = conversion
    }

    /// RDP at each order of `steps` sampled Gaussian mechanisms with rate q and multiplier z.
    public func rdpOfSampledGaussian(samplingRate q: Double, noiseMultiplier z: Double, steps: Int) -> [Double] {
        orders.map { Self.rdp(q: q, sigma: z, alpha: $0) * Double(steps) }
    }

    /// Charges `steps` rounds.
    public mutating func record(samplingRate q: Double, noiseMultiplier z: Double, steps: Int = 1) {
        let step = rdpOfSampledGaussian(samplingRate: q, noiseMultiplier: z, steps: steps)
        for i in rdp.indices { rdp[i] += step[i] }
        rounds += steps
    }

    /// The smallest ε over the orders at `delta`, and the order that achieves it.
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        Self.epsilon(orders: orders, rdp: rdp, delta: delta, conversion: conversion)
    }

    /// ε after one more round with (q, z), without charging it.
    public func epsilonAfterAnotherRound(samplingRate q: Double, noiseMultiplier z: Double, delta: Double) -> Double {
        var next = self
        next.record(samplingRate: q, noiseMultiplier: z)
        return next.epsilon(delta: delta).epsilon
    }

    /// True when one more round with (q, z) keeps ε within `budget` at its δ. A coordinator starts
    /// no round for which this is false.
    public func canRunAnotherRound(samplingRate q: Double, noiseMultiplier z: Double, budget: PrivacyBudget) -> Bool {
        epsilonAfterAnotherRound(samplingRate: q, noiseMultiplier: z, delta: budget.delta) <= budget.epsilon
    }

    static func epsilon(orders: [Double], rdp: [Double], delta: Double, conversion: Conversion) -> (epsilon: Double, order: Double) {
        var best = (epsilon: Double.infinity, order: Double.nan)
        for (a, r) in zip(orders, rdp) {
            let eps: Double
            switch conversion {
            case .mironov2017: eps = r - log(delta) / (a - 1)
            case .balle2020: eps = r - (log(delta) + log(a)) / (a - 1) + log((a - 1) / a)
            }
            if eps < best.epsilon { best = (eps, a) }
        }
        return (max(0, best.epsilon), best.order)
    }

    // MARK: The sampled Gaussian mechanism

    static func rdp(q: Double, sigma: Double, alpha: Double) -> Double {
        if q == 0 { return 0 }
        if sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        if alpha.isInfinite { return .infinity }
        return logA(q: q, sigma: sigma, alpha: alpha) / (alpha - 1)
    }

    static func logA(q: Double, sigma: Double, alpha: Double) -> Double {
        alpha == alpha.rounded() ? logAInteger(q: q, sigma: sigma, alpha: Int(alpha)) : logAFractional(q: q, sigma: sigma, alpha: alpha)
    }

    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var result = -Double.infinity
        let a = Double(alpha)
        for i in 0...alpha {
            let k = Double(i)
            let logBinomial = lgamma(a + 1) - lgamma(k + 1) - lgamma(a - k + 1)
            let term = logBinomial + k * log(q) + (a - k) * log1p(-q) + (k * k - k) / (2 * sigma * sigma)
            result = logAdd(result, term)
        }
        return result
    }

    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        // A_α splits at z0 into integrals over (−∞, z0] and [z0, ∞); each is a series in i.
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        var coefficient = 1.0      // C(α, i), built by the recurrence C(α, i+1) = C(α, i)(α − i)/(i + 1)
        var i = 0.0
        while true {
            let logCoefficient = log(abs(coefficient))
            let j = alpha - i
            let logT0 = logCoefficient + i * log(q) + j * log1p(-q)
            let logT1 = logCoefficient + j * log(q) + i * log1p(-q)
            let logE0 = log(0.5) + logErfc((i - z0) / (2.0.squareRoot() * sigma))
            let logE1 = log(0.5) + logErfc((z0 - j) / (2.0.squareRoot() * sigma))
            let logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1
            if coefficient > 0 {
                logA0 = logAdd(logA0, logS0)
                logA1 = logAdd(logA1, logS1)
            } else {
                logA0 = logSub(logA0, logS0)
                logA1 = logSub(logA1, logS1)
            }
            coefficient *= (alpha - i) / (i + 1)
            i += 1
            if max(logS0, logS1) < -30 { break }
        }
        return logAdd(logA0, logA1)
    }

    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    static func logSub(_ x: Double, _ y: Double) -> Double {
        if y == -.infinity { return x }
        if x <= y { return -.infinity }   // the series' partial sums stay positive; guard rounding
        let d = x - y
        return d > 700 ? x : log(expm1(d)) + y
    }

    /// log(erfc(x)), accurate where erfc underflows (x > ~26) by the asymptotic series.
    static func logErfc(_ x: Double) -> Double {
        if x < 20 { return log(erfc(x)) }
        let x2 = x * x
        let series = 1 - 1 / (2 * x2) + 3 / (4 * x2 * x2) - 15 / (8 * x2 * x2 * x2) + 105 / (16 * x2 * x2 * x2 * x2)
        return -x2 - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
