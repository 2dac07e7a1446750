internal import CSodium
internal import CMask
internal import Foundation

/// libsodium must be initialised before use; `sodium_init` is idempotent and a static `let` runs once.
enum SodiumInit {
    private static let initialised: Bool = sodium_init() >= 0

    @inline(__always)
    static func ensure() {
        precondition(initialised, "libsodium failed to initialise: no secure random source is available.")
    }
}

/// A deterministic generator for reproducible runs and test vectors: the ChaCha20-IETF keystream
/// (`crypto_stream_chacha20_ietf`, key = the 32-byte seed, nonce = 12 zero bytes; computed by the
/// CMask kernels, which MaskKernelTests holds to libsodium's) read as
/// consecutive little-endian UInt64 words. Other implementations reproduce it exactly.
///
/// Secrets in production come from `SodiumRandom`; this one is for tests, vectors and for the
/// non-secret randomness that must be replayable (stochastic rounding in a vector, a graph seed).
public struct ChaChaRandom: RandomNumberGenerator, Sendable {
    /// 64-byte ChaCha20 blocks generated per refill (the stream is the same whatever this is).
    private static let blocksPerRefill = 16
    private static let wordsPerRefill = blocksPerRefill * 8
    private let key: [UInt8]
    private var buffer = [UInt64](repeating: 0, count: ChaChaRandom.wordsPerRefill)
    private var blockIndex: UInt32 = 0
    private var position = ChaChaRandom.wordsPerRefill

    public init(seed: [UInt8]) {
        precondition(seed.count == 32, "ChaChaRandom needs a 32-byte seed")
        SodiumInit.ensure()
        key = seed
    }

    /// A generator keyed with 32 bytes from the operating system (`randombytes_buf`): a CSPRNG for bulk
    /// secret draws (DP noise, stochastic rounding of millions of coordinates) at the speed of ChaCha20
    /// rather than one `getrandom` system call per word as `SodiumRandom` makes. Copies of one instance
    /// repeat each other's draws: create one per use and pass it `inout`.
    public static func keyedFromSystem() -> ChaChaRandom {
        var system = SodiumRandom()
        return ChaChaRandom(seed: system.bytes(count: 32))
    }

    public mutating func next() -> UInt64 {
        if position == Self.wordsPerRefill { refill() }
        defer { position += 1 }
        return UInt64(littleEndian: buffer[position])
    }

    private mutating func refill() {
        precondition(blockIndex <= UInt32.max - UInt32(Self.blocksPerRefill), "ChaChaRandom exhausted its 256 GiB stream")
        let nonce = [UInt8](repeating: 0, count: 12)
        let counter = blockIndex
        let key = self.key
        buffer.withUnsafeMutableBytes { out in
            // Consecutive blocks from `counter` on: the keystream itself, added to zero words
            // (the mask kernel; one refill is one 16-block batch of its AVX-512 path).
            memset(out.baseAddress!, 0, out.count)
            let words = out.baseAddress!.assumingMemoryBound(to: UInt32.self)
            cmask_chacha20_accumulate(words, out.count / 4, key, nonce, counter, 0)
            #if _endian(big)
            for i in 0..<out.count / 4 { words[i] = words[i].littleEndian }
            #endif
        }
        blockIndex += UInt32(Self.blocksPerRefill)
        position = 0
    }
}

/// Cryptographically secure randomness from libsodium (`randombytes_buf`).
public struct SodiumRandom: RandomNumberGenerator, Sendable {
    public init() { SodiumInit.ensure() }

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { randombytes_buf($0.baseAddress!, 8) }
        return value
    }
}

/// The draws every implementation must reproduce bit for bit, defined on `next()` only (Swift's own
/// `random(in:using:)` algorithms are not part of any contract).
extension RandomNumberGenerator {
    /// `count` bytes: ceil(count/8) words, each written little endian, the last one truncated.
    public mutating func bytes(count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: next().littleEndian) { out.append(contentsOf: $0) }
        }
        out.removeLast(out.count - count)
        return out
    }

    /// Uniform in [0, 1) with 53 bits: `(next() >> 11) · 2⁻⁵³`.
    public mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Standard normal by Box–Muller from two draws, u1 in (0, 1] so the logarithm is finite.
    /// (Not bit-reproducible across libm implementations; only used for noise, never in vectors.)
    public mutating func standardNormal() -> Double {
        let u1 = Double((next() >> 11) + 1) * 0x1p-53
        let u2 = unitInterval()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
