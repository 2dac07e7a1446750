import CMask
import CSodium
import Federation
import Testing

/// Every ChaCha20 mask kernel this CPU can run, against libsodium's `crypto_stream_chacha20_ietf`
/// (the definition in PROTOCOL.md), on lengths around each kernel's batch (8 or 16 blocks) and
/// with block counters other than 0.
@Suite(.serialized) struct MaskKernelTests {
    static let kernels = ["avx512", "avx2", "portable"]

    @Test func everyKernelAddsAndSubtractsLibsodiumsKeystream() throws {
        #expect(sodium_init() >= 0)
        let original = String(cString: cmask_kernel_name())
        defer { _ = cmask_select_kernel(original) }
        var rng = ChaChaRandom(seed: [UInt8](repeating: 7, count: 32))
        var ran: [String] = []
        for name in Self.kernels where cmask_select_kernel(name) == 0 {
            ran.append(name)
            for words in [0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 257, 1000, 4096 + 3] {
                let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
                let nonce = (0..<12).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
                let counter = UInt32.random(in: 0...1000, using: &rng)
                // libsodium: keystream from block `counter`, as XOR over zeros.
                var stream = [UInt8](repeating: 0, count: 4 * words)
                if words > 0 { _ = crypto_stream_chacha20_ietf_xor_ic(&stream, stream, UInt64(stream.count), nonce, counter, key) }
                let expected: [UInt32] = (0..<words).map { i in
                    var w: UInt32 = 0
                    for b in 0..<4 { w |= UInt32(stream[4 * i + b]) << (8 * b) }
                    return w
                }
                let start = (0..<words).map { _ in UInt32.random(in: .min ... .max, using: &rng) }
                var added = start
                added.withUnsafeMutableBufferPointer { cmask_chacha20_accumulate($0.baseAddress, words, key, nonce, counter, 0) }
                #expect(added == zip(start, expected).map { $0 &+ $1 }, "kernel \(name), \(words) words, add")
                var subtracted = start
                subtracted.withUnsafeMutableBufferPointer { cmask_chacha20_accumulate($0.baseAddress, words, key, nonce, counter, 1) }
                #expect(subtracted == zip(start, expected).map { $0 &- $1 }, "kernel \(name), \(words) words, subtract")
            }
        }
        #expect(ran.contains("portable"))
        #expect(cmask_select_kernel("no-such-kernel") == -1)
    }
}
