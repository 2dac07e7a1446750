import Diagnostics
import Testing
import QuantFormat

/// ggml's type table (ggml.c type_traits: blck_size, type_size), written out independently of
/// QuantType so a typo in either shows.
private let ggmlTable: [(QuantType, block: Int, bytes: Int)] = [
    (.f32, 1, 4), (.f16, 1, 2), (.q4_0, 32, 18), (.q4_1, 32, 20), (.q5_0, 32, 22), (.q5_1, 32, 24),
    (.q8_0, 32, 34), (.q8_1, 32, 36), (.q2_K, 256, 84), (.q3_K, 256, 110), (.q4_K, 256, 144),
    (.q5_K, 256, 176), (.q6_K, 256, 210), (.q8_K, 256, 292), (.iq2_xxs, 256, 66), (.iq2_xs, 256, 74),
    (.iq3_xxs, 256, 98), (.iq1_s, 256, 50), (.iq4_nl, 32, 18), (.iq3_s, 256, 110), (.iq2_s, 256, 82),
    (.iq4_xs, 256, 136), (.i8, 1, 1), (.i16, 1, 2), (.i32, 1, 4), (.i64, 1, 8), (.f64, 1, 8),
    (.iq1_m, 256, 56), (.bf16, 1, 2), (.tq1_0, 256, 54), (.tq2_0, 256, 66),
]

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

private func dequantize(_ type: QuantType, _ block: [UInt8], count: Int) throws -> [Float] {
    try block.withUnsafeBytes { try Dequantize.run(type, bytes: $0, count: count) }
}

/// Bit-for-bit equality, so -0 vs 0 and NaN payloads count.
private func same(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0 == $1) }
}

@Suite struct QuantTableTests {
    @Test func tableMatchesGGML() {
        #expect(ggmlTable.count == QuantType.allCases.count)
        for (type, block, size) in ggmlTable {
            #expect(type.blockSize == block, "\(type.name) block size")
            #expect(type.bytesPerBlock == size, "\(type.name) bytes per block")
            if let layout = type.blockLayoutSize {
                #expect(layout == size, "\(type.name) block struct size")
            }
        }
        #expect(QuantType.q4_1.name == "Q4_1" && QuantType.q6_K.name == "Q6_K" && QuantType.bf16.name == "BF16")
        #expect(QuantType(rawValue: 4) == nil && QuantType(rawValue: 31) == nil)
    }

    @Test func byteCountChecksItsInput() throws {
        #expect(try QuantType.q4_1.byteCount(elements: 64) == 40)
        #expect(try QuantType.q6_K.byteCount(elements: 512) == 420)
        #expect(try QuantType.f16.byteCount(elements: 3) == 6)
        #expect(throws: QuantError.self) { try QuantType.q8_0.byteCount(elements: 33) }
        #expect(throws: QuantError.self) { try QuantType.q8_0.byteCount(elements: -32) }
        #expect(throws: QuantError.self) { try QuantType.f32.byteCount(elements: Int.max) }
    }
}

@Suite struct DequantizeTests {
    @Test func halfConversionIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let ours = Half.float(fromBits: bits)
            let swift = Float(Float16(bitPattern: bits))
            if swift.isNaN {
                #expect(ours.isNaN, "bits \(bits)")
            } else {
                #expect(ours.bitPattern == swift.bitPattern, "bits \(bits)")
            }
        }
    }

    @Test func f16HandValues() throws {
        // 1, -2, smallest subnormal, largest subnormal, smallest normal, largest finite, +inf, -inf, -0, 1/3
        let halves: [UInt16] = [0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555]
        let raw = halves.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        let y = try dequantize(.f16, raw, count: halves.count)
        let expected: [Float] = [1, -2, 5.9604645e-08, 6.0975552e-05, 6.1035156e-05, 65504, .infinity, -.infinity, -0.0, 0.33325195]
        #expect(same(y, expected), "\(y)")
        let nan = try dequantize(.f16, [0x00, 0x7e], count: 1)
        #expect(nan[0].isNaN)
    }

    @Test func bf16HandValues() throws {
        // 1, -5, pi truncated, +inf, a float subnormal
        let raw: [UInt8] = [0x80, 0x3f, 0xa0, 0xc0, 0x49, 0x40, 0x80, 0x7f, 0x01, 0x00]
        let y = try dequantize(.bf16, raw, count: 5)
        #expect(same(y, [1, -5, 3.140625, .infinity, Float(bitPattern: 0x0001_0000)]), "\(y)")
        #expect(Half.bf16Bits(from: 1.0) == 0x3f80)
        #expect(Half.bf16Bits(from: Float(bitPattern: 0x3f80_8000)) == 0x3f80)  // tie: to even
        #expect(Half.bf16Bits(from: Float(bitPattern: 0x3f81_8000)) == 0x3f82)  // tie: to even
    }

    /// Nibble bytes shared by the Q4 tests: low nibble j, high nibble 15 - j.
    private static let nibbles: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(15 - j) << 4 }

    @Test func q4_0HandBlock() throws {
        let block: [UInt8] = [0x00, 0x40] + Self.nibbles  // d = 2.0
        #expect(block.count == 18)
        let expected: [Float] = [
            -16, -14, -12, -10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10, 12, 14,  // (j - 8) * 2
            14, 12, 10, 8, 6, 4, 2, 0, -2, -4, -6, -8, -10, -12, -14, -16,  // (15 - j - 8) * 2
        ]
        #expect(same(try dequantize(.q4_0, block, count: 32), expected))
    }

    @Test func q4_1HandBlock() throws {
        let block: [UInt8] = [0x00, 0x38, 0x00, 0xbc] + Self.nibbles  // d = 0.5, m = -1
        #expect(block.count == 20)
        let expected: [Float] = [
            -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5,
            6.5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5, -1,
        ]
        #expect(same(try dequantize(.q4_1, block, count: 32), expected))
        // Two blocks: the second starts 20 bytes on.
        let two = block + [0x00, 0x3c, 0x00, 0x00] + [UInt8](repeating: 0x21, count: 16)  // d = 1, m = 0
        let y = try dequantize(.q4_1, two, count: 64)
        #expect(same(Array(y[32..<64]), [Float](repeating: 1, count: 16) + [Float](repeating: 2, count: 16)))
    }

    @Test func q8_0HandBlock() throws {
        let qs: [Int8] = [-128, -127, -1, 0, 1, 2, 127, 64, -64, 3, 5, 7, 9, 11, 13, 15,
                          -3, -5, -7, -9, -11, -13, -15, 100, -100, 50, -50, 25, -25, 12, -12, 6]
        let block: [UInt8] = [0x00, 0x34] + qs.map { UInt8(bitPattern: $0) }  // d = 0.25
        let expected: [Float] = [-32, -31.75, -0.25, 0, 0.25, 0.5, 31.75, 16, -16, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.75,
                                 -0.75, -1.25, -1.75, -2.25, -2.75, -3.25, -3.75, 25, -25, 12.5, -12.5, 6.25, -6.25, 3, -3, 1.5]
        #expect(same(try dequantize(.q8_0, block, count: 32), expected))
    }

    struct KVector: Sendable, CustomStringConvertible {
        let type: QuantType
        let hex: String
        let sum: Double
        let samples: [(Int, Float)]
        init(_ type: QuantType, _ hex: String, sum: Double, samples: [(Int, Float)]) {
            self.type = type
            self.hex = hex
            self.sum = sum
            self.samples = samples
        }
        var description: String { type.name }
    }

    /// Random blocks with power-of-two scales (so every value is exact), dequantized by the
    /// `gguf` Python package 0.19.0 (gguf.quants.dequantize), an implementation independent of ours.
    static let referenceBlocks: [KVector] = [
        KVector(.q5_0, "0038e5f1a94106a0956a26afbccdafe562f90a945f56",
                sum: 0.5,
                samples: [(0, 3.0), (1, -8.0), (15, 3.0), (16, 0.0), (17, -3.0), (31, -5.5)]),
        KVector(.q5_1, "003400beab2da7394551370e99b2d74c3427fa48d732a1df",
                sum: 79.75,
                samples: [(0, 3.75), (1, 2.75), (15, 2.25), (16, 3.5), (17, 3.75), (31, 1.75)]),
        KVector(.q2_K, "70aca1e926115901dd06f27f8f063cd25e19a621f9bd0ccc21397c1ec795ca7748dc03d17a88934d85527357a2e64647f03e2fb81f223f4192c58efd5185f0711ef7677a1f132a818d882195a100b28d0030002c",
                sum: 213.5,
                samples: [(0, -0.4375), (1, -0.4375), (15, -0.4375), (16, -0.625), (17, -0.625), (31, 3.875), (32, -0.25), (33, -0.375), (63, 0.25), (64, 0.625), (100, 3.0625), (127, 0.125), (128, -0.8125), (129, 2.4375), (191, 5.1875), (192, 5.125), (200, 1.375), (255, -0.3125)]),
        KVector(.q3_K, "481bd9fe630dc3ce3be4ebcab72f45b35223479f6e794d57037e2cfde9e15a7789781e3721a557d8e5a703296dcb81db3f65cf9c1bdc5d1d8fc83f0b0bb4db71be572209851d3d24f4c0cf83fe4363f82f4759778955f6ced681cbea7179ced2c8f814a13472ff70ce369d830028",
                sum: 14.875,
                samples: [(0, -0.75), (1, 0.0), (15, 0.75), (16, -0.25), (17, 0.25), (31, 0.25), (32, 0.75), (33, -0.75), (63, 0.0), (64, -2.5), (100, -3.875), (127, 3.0), (128, 1.25), (129, -1.875), (191, -0.0), (192, 1.78125), (200, -0.59375), (255, -0.21875)]),
        KVector(.q4_K, "0020002408cd1e614f235d3f83bc45fee9ee0403a79be118544441317c9311f85e0429b19f7ec0e156f65a3322e791b880ee995e3f0d307d2fbaf400693a179e0d027ed4e58be7a9ebc28a271d43a78855638144eb6603f7b2725de11fe6ac2f88a68182869793f0aad6ded8116e3ab51681c4a374fec70a68b3e4bdc92b387987416c17ec90963ec766888ab4b80eba",
                sum: 249.171875,
                samples: [(0, 0.328125), (1, 0.640625), (15, 0.265625), (16, 0.640625), (17, 0.015625), (31, 0.265625), (32, 0.875), (33, 0.875), (63, 0.5703125), (64, -0.453125), (100, -0.2109375), (127, 1.078125), (128, -0.2578125), (129, -0.3046875), (191, 4.984375), (192, -0.078125), (200, 0.0), (255, 2.34375)]),
        KVector(.q5_K, "00200024121bea9cee1810dfd5169faf26cd7b5c30c8aba44d972299e8c7b41b9a1d2b0f180600a974d63b6332202c998e82b2522c49c4394c7d73265b6aaf61b288fbd0aecfa766616223611e764c93aa388ffabd0a6a6412b209971e2d827076f7e49ab8fa197271be53a3442b128cdad72bad0f8aeef42a0b9a26d74fc78f2562b8701097a55b5510543d27ed600de3200a6749307fd37899c118819af6674394c3f7aa5f93f32c810a37ca7bf101",
                sum: 687.046875,
                samples: [(0, 1.25), (1, 1.8125), (15, 1.671875), (16, -0.4375), (17, 2.65625), (31, 1.953125), (32, 4.6875), (33, 1.3125), (63, 1.5234375), (64, 8.28125), (100, 1.921875), (127, 4.765625), (128, -0.5625), (129, -0.6796875), (191, -0.015625), (192, 1.3359375), (200, 11.671875), (255, 4.96875)]),
        KVector(.q6_K, "3ccdf8ab8ab4a6039954e84cbe3b3f7f1183c3df8375c517b4e786a9aadf7488f892b12191387ad86aca56d8531c927b931fe8f16e795b9b331767e712dbe8f5331dd9917f01e64710dd3c25f4d21690a049453135550ec0193a8bed1783d53ec944658d1d28960c44b0382e93438e60788d51e279a131f8130b3ea4bd2f5d95e57bd791436d840f4e6654608135bbfb885d346959a49b36402a4f3dcc489fb6511fbe09e5d72bf834e04fe028ca4991e02abd77279fedc206d2318ca8b8287a6f4b795209575d7277d456c0f6e81a0e001c",
                sum: -79.98046875,
                samples: [(0, -1.734375), (1, 12.57421875), (15, 13.44140625), (16, -9.08203125), (17, -3.80859375), (31, 2.34375), (32, -3.78125), (33, 0.9453125), (63, -3.5234375), (64, 0.10546875), (100, -2.54296875), (127, 6.6796875), (128, -6.04296875), (129, 13.48046875), (191, -1.25), (192, 0.5078125), (200, -0.6640625), (255, -0.3828125)]),
    ]

    @Test(arguments: referenceBlocks)
    func matchesReferenceImplementation(_ v: KVector) throws {
        let block = bytes(v.hex)
        #expect(block.count == v.type.bytesPerBlock)
        let y = try dequantize(v.type, block, count: v.type.blockSize)
        #expect(y.reduce(0.0) { $0 + Double($1) } == v.sum)
        for (i, expected) in v.samples {
            #expect(y[i] == expected, "\(v.type.name) element \(i)")
        }
    }

    @Test func refusesWhatItCannotRead() {
        let block = [UInt8](repeating: 0, count: 66)
        #expect(throws: QuantError.self) { try dequantize(.iq2_xxs, block, count: 256) }
        #expect(throws: QuantError.self) { try dequantize(.q8_0, [UInt8](repeating: 0, count: 33), count: 32) }
        #expect(!QuantType.iq2_xxs.canDequantize && QuantType.q4_1.canDequantize && QuantType.q6_K.canDequantize)
    }
}

@Suite struct QuantizeTests {
    /// A deterministic spread of values: an LCG scaled to [-scale, scale].
    static func values(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    @Test func q4_0RoundingAsGGML() throws {
        // amax 8 at x = -8: d = -8 / -8 = 1, q = trunc(x + 8.5).
        let x: [Float] = (0..<16).map { Float($0) - 8 } + (0..<16).map { 7 - Float($0) }
        let block = try Quantize.run(.q4_0, x)
        let nibbles: [UInt8] = (0..<16).map { (j: Int) -> UInt8 in UInt8(j) | UInt8(15 - j) << 4 }
        let expected: [UInt8] = [0x00, 0x3c] + nibbles
        #expect(block == expected)
    }

    @Test func q8_0ExactWhenRepresentable() throws {
        let x: [Float] = (0..<32).map { Float($0 * 8 - 127) * 0.25 }  // amax = 127 * 0.25, d = 0.25
        let block = try Quantize.run(.q8_0, x)
        #expect(block[0] == 0x00 && block[1] == 0x34)
        #expect(try block.withUnsafeBytes { try Dequantize.run(.q8_0, bytes: $0, count: 32) } == x)
    }

    @Test(arguments: [QuantType.q8_0, .q4_0, .q4_1, .f16, .bf16])
    func roundTripErrorIsBounded(_ type: QuantType) throws {
        for (seed, scale) in [(UInt64(1), Float(1)), (2, 0.01), (3, 300)] {
            let x = Self.values(32 * 64, seed: seed, scale: scale)
            let q = try Quantize.run(type, x)
            let y = try q.withUnsafeBytes { try Dequantize.run(type, bytes: $0, count: x.count) }
            for b in 0..<(x.count / 32) {
                let block = x[(32 * b)..<(32 * b + 32)]
                let amax = block.map(abs).max()!
                let lo = block.min()!, hi = block.max()!
                let bound: Float = switch type {
                case .q8_0: amax / 127 * 0.5 * 1.01 + amax * 1e-3
                case .q4_0: amax / 8 * 1.01  // the far side of the range clamps at 7, a full step
                case .q4_1: (hi - lo) / 15 * 0.5 * 1.02 + max(abs(lo), abs(hi)) * 1e-3
                case .f16: amax * 0x1p-11
                default: amax * 0x1p-8  // bf16
                }
                for j in 0..<32 {
                    let i = 32 * b + j
                    #expect(abs(x[i] - y[i]) <= bound, "\(type.name) scale \(scale) element \(i): \(x[i]) -> \(y[i])")
                }
            }
        }
    }

    @Test func refusesNonFiniteInput() {
        var x = [Float](repeating: 1, count: 32)
        x[5] = .nan
        #expect(throws: QuantError(.nonFinite, "Q4_1: element 5 is nan, which cannot be quantized")) {
            try Quantize.run(.q4_1, x)
        }
        x[5] = .infinity
        #expect(throws: QuantError.self) { try Quantize.run(.q8_0, x) }
        #expect(throws: QuantError.self) { try Quantize.run(.q6_K, [Float](repeating: 0, count: 256)) }
    }

    @Test func tinyValuesDoNotTrap() throws {
        let x = [Float](repeating: Float.leastNonzeroMagnitude, count: 32)
        for type in [QuantType.q4_0, .q4_1, .q8_0] {
            let q = try Quantize.run(type, x)
            let y = try q.withUnsafeBytes { try Dequantize.run(type, bytes: $0, count: 32) }
            #expect(y.allSatisfy { abs($0) <= 1e-7 })
        }
    }
}
