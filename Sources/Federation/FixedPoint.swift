/// Fixed-point encoding of real vectors into the ring Z/2^32, so that masked sums are exact.
///
/// A value x in [-R, R) is scaled by 2^k and rounded stochastically to an integer v (unbiased:
/// E[v] = x·2^k), then stored as the 32-bit two's-complement word of v. Sums of N encoded vectors
/// are taken with wrapping addition; they decode exactly as long as every coordinate of the true
/// integer sum stays inside Int32, which `init` guarantees by requiring
///
///     N · R · 2^k ≤ 2^31 − 1        (N = maxSummands)
///
/// because each |v| ≤ R·2^k (rounding up at x just below R reaches R·2^k at most).
/// Values outside [-R, R), NaN and infinities are refused with `.valueOutOfRange` — never saturated,
/// so a bug or an unclipped update is an error instead of a silently biased sum.

import Diagnostics
public struct FixedPointCodec: Codable, Sendable, Hashable {
    /// R: inputs must lie in [-range, range). Must be a multiple of 2^-k.
    public let range: Double
    /// k: the scale is 2^k, so the resolution is 2^-k.
    public let scaleBits: Int
    /// N: how many encoded vectors may be summed and still decode exactly.
    public let maxSummands: Int

    public init(range: Double, scaleBits: Int, maxSummands: Int) throws {
        guard (0...30).contains(scaleBits) else {
            throw FederationError(.invalidArgument, "The fixed-point scale must be 2^0…2^30, got 2^\(scaleBits).")
        }
        guard range.isFinite, range > 0, maxSummands >= 1 else {
            throw FederationError(.invalidArgument, "The fixed-point range must be positive and at least one summand allowed.")
        }
        let bound = range * Double(1 << scaleBits)
        guard bound == bound.rounded() else {
            throw FederationError(.invalidArgument, "The fixed-point range \(range) is not a multiple of 2^-\(scaleBits); choose R·2^k integral.")
        }
        guard Double(maxSummands) * bound <= Double(Int32.max) else {
            throw FederationError(.invalidArgument,
                "N·R·2^k = \(maxSummands)·\(range)·2^\(scaleBits) exceeds 2^31−1, so sums could wrap. Lower the range, the scale or the number of clients.")
        }
        self.range = range
        self.scaleBits = scaleBits
        self.maxSummands = maxSummands
    }

    /// The largest |v| of one encoded coordinate: R·2^k.
    public var integerBound: Int64 { Int64(range * Double(1 << scaleBits)) }

    /// Encodes with stochastic rounding: v = ⌊x·2^k⌋ + (u < frac ? 1 : 0), u = `unitInterval()` drawn
    /// once per coordinate, in order, whether or not the fraction is zero (so streams stay aligned).
    public func encode(_ values: [Float], using rng: inout some RandomNumberGenerator) throws -> [UInt32] {
        let scale = Double(1 << scaleBits)
        let bound = integerBound
        var out = [UInt32](repeating: 0, count: values.count)
        for (i, x) in values.enumerated() {
            guard x.isFinite, Double(x) >= -range, Double(x) < range else {
                throw FederationError(.valueOutOfRange,
                    "Coordinate \(i) is outside the fixed-point range [-\(range), \(range)). Clip the update first or widen the range.")
            }
            let f = Double(x) * scale          // exact: a Float times a power of two
            let floor = f.rounded(.down)
            let u = rng.unitInterval()
            let v = Int64(floor) + (u < f - floor ? 1 : 0)
            assert(abs(v) <= bound)
            out[i] = UInt32(truncatingIfNeeded: v)
        }
        return out
    }

    /// Decodes a sum of at most `maxSummands` encoded vectors: each word read as Int32, divided by 2^k.
    public func decode(_ words: [UInt32]) -> [Double] {
        let inverse = 1 / Double(1 << scaleBits)
        return words.map { Double(Int32(bitPattern: $0)) * inverse }
    }
}

/// Wrapping vector arithmetic over Z/2^32, the inner loops of masking and aggregation.
public enum RingVector {
    /// accumulator[i] = accumulator[i] + addend[i] (mod 2^32).
    public static func add(_ addend: [UInt32], into accumulator: inout [UInt32]) throws {
        guard addend.count == accumulator.count else {
            throw FederationError(.lengthMismatch, "Cannot add a vector of \(addend.count) words to one of \(accumulator.count).")
        }
        accumulator.withUnsafeMutableBufferPointer { acc in
            addend.withUnsafeBufferPointer { add in addWords(add, into: acc) }
        }
    }

    @inline(__always)
    static func addWords(_ addend: UnsafeBufferPointer<UInt32>, into acc: UnsafeMutableBufferPointer<UInt32>) {
        for i in 0..<acc.count { acc[i] &+= addend[i] }
    }
}
