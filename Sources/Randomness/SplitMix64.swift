/// SplitMix64 (Steele, Lea and Flood 2014): a small seeded generator whose stream depends only on
/// the seed, the same on every platform and in every release, for synthetic data, benchmarks,
/// tests and seeding larger generators. Not for keys or masks: those come from `Seal`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The seed is the initial state: the first output is `mix(seed &+ increment)`.
    private var state: UInt64

    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        return Self.mix(state)
    }

    /// The output function (a finaliser of MurmurHash3's kind, Stafford's variant 13).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits of one draw.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [0, 1) from the top 24 bits of one draw.
    public mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
