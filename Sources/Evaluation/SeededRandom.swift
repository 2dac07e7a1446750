import Randomness

/// A SplitMix64 stream with its own uniform draw and shuffle, so synthetic data depends only on
/// the seed — not on the standard library's sampling algorithms, which may change.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var base: SplitMix64

    public init(seed: UInt64) { base = SplitMix64(seed: seed) }

    /// An independent stream for one part of the data (a user), so adding users leaves the
    /// existing ones unchanged.
    public init(seed: UInt64, stream: UInt64) {
        base = SplitMix64(seed: SplitMix64.mix(seed &+ SplitMix64.mix(stream &+ SplitMix64.increment)))
    }

    public mutating func next() -> UInt64 { base.next() }

    /// Uniform in 0..<n (rejection sampling, no modulo bias).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "below(n) needs n > 0")
        let bound = UInt64(n)
        let limit = UInt64.max - UInt64.max % bound
        while true {
            let x = next()
            if x < limit { return Int(x % bound) }
        }
    }

    /// Uniform in the closed range.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    public mutating func pick<T>(_ values: [T]) -> T {
        values[below(values.count)]
    }

    /// Fisher–Yates.
    public mutating func shuffled<T>(_ values: [T]) -> [T] {
        var a = values
        guard a.count > 1 else { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1))
        }
        return a
    }
}
