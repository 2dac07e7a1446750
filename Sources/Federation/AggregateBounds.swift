import Diagnostics
internal import Foundation

/// What the decoded sum of |U3| honest inputs can be, checked before anything is published.
///
/// A participant can mask any 32-bit words, so the codec's range check binds honest clients only.
/// Each honest input is clipped to ‖x‖ ≤ C, noised with N(0, σ²/n_min) per coordinate (σ = z·C)
/// and encoded within [−R, R] with rounding error below 2^-k per coordinate. So the sum S of
/// m = |U3| honest inputs has
///
///     |S_i| ≤ m·R                                   for every coordinate (deterministic), and
///     ‖S‖ ≤ m·C + σ_m·(√d + √(2 ln(1/p))) + m·√d·2^-k   with probability ≥ 1 − p,
///
/// σ_m = σ·√(m/n_min) the sum's noise per coordinate, d the vector length (the Gaussian norm bound
/// of Laurent and Massart 2000). With p = 1e-9 an honest round is refused once in a billion. A
/// round whose sum breaks either bound is aborted: nothing is published. What a poisoner can still
/// do is stated in docs/threat-model.md ("Poisoning"): move the sum anywhere inside these bounds.
public struct AggregateBounds: Sendable, Hashable {
    public let coordinateBound: Double
    public let normBound: Double

    public static let failureProbability = 1e-9

    public init(codec: FixedPointCodec, dp: DistributedGaussian, included m: Int, length d: Int) {
        let sigma = dp.sumStandardDeviation * (Double(m) / Double(dp.minimumClients)).squareRoot()
        let rootD = Double(d).squareRoot()
        coordinateBound = Double(m) * codec.range
        normBound = Double(m) * dp.clipNorm + sigma * (rootD + (2 * log(1 / Self.failureProbability)).squareRoot())
            + Double(m) * rootD / Double(1 << codec.scaleBits)
    }

    /// Throws `valueOutOfRange` naming the bound the decoded sum breaks.
    public func check(encodedSum sum: [UInt32], codec: FixedPointCodec) throws {
        let scale = 1 / Double(1 << codec.scaleBits)
        var squares = 0.0, worst = 0.0
        for w in sum {
            let x = Double(Int32(bitPattern: w)) * scale
            squares += x * x
            worst = max(worst, abs(x))
        }
        guard worst <= coordinateBound else {
            throw FederationError(.valueOutOfRange, String(format: "A coordinate of the decoded sum is %.4g, beyond |U3|·R = %.4g: an input was not an encoded, clipped update, or an unmasking share was wrong.", worst, coordinateBound))
        }
        let norm = squares.squareRoot()
        guard norm <= normBound else {
            throw FederationError(.valueOutOfRange, String(format: "The decoded sum has L2 norm %.4g, beyond |U3|·C plus the noise bound, %.4g: an input exceeded the clip norm.", norm, normBound))
        }
    }
}
