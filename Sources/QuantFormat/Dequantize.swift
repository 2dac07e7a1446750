// Block dequantizers: ggml blocks -> f32, element for element as ggml's dequantize_row_* (same
// formulas, same order of float operations), so a model loaded here sees the weights llama.cpp sees.
// Block layouts are in QuantType.swift. All reads are unaligned little-endian loads from raw memory,
// since blocks in a GGUF file sit at any 2-byte (or 1-byte) offset.

public import Diagnostics

/// Half-precision and bfloat16 conversions, bit-exact and independent of the CPU's F16C support.
public enum Half {
    /// IEEE binary16 bits -> Float, exact for every input (subnormals, infinities, NaN payloads).
    @inline(__always)
    public static func float(fromBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let magnitude = UInt32(h & 0x7fff) << 13
        // Reinterpreting the exponent and mantissa as a float's (bias 127 instead of 15) and
        // scaling by 2^(127-15) gives the right value for normal numbers and subnormals alike.
        var bits = (Float(bitPattern: magnitude) * 0x1p112).bitPattern
        if magnitude >= 0x7c00 << 13 { bits = magnitude | 0x7f80_0000 }  // infinity and NaN
        return Float(bitPattern: bits | sign)
    }

    /// Float -> IEEE binary16 bits, rounding to nearest even (what GGML_FP32_TO_FP16 does).
    @inline(__always)
    public static func bits(from x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// bfloat16 bits -> Float (exact: bfloat16 is the top half of a float).
    @inline(__always)
    public static func float(fromBF16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// Float -> bfloat16 bits as ggml's GGML_FP32_TO_BF16: round to nearest even, NaN kept quiet.
    @inline(__always)
    public static func bf16Bits(from x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (u &+ (0x7fff &+ ((u >> 16) & 1))) >> 16)
    }
}

public enum Dequantize {
    /// Dequantizes `count` elements (a multiple of the block size) starting at `src`.
    /// `src` must hold `try type.byteCount(elements: count)` bytes and `dst` room for `count` floats.
    public static func run(
        _ type: QuantType, src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>
    ) throws(QuantError) {
        _ = try type.byteCount(elements: count)
        let blocks = count / type.blockSize
        switch type {
        case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * count)
        case .f16: f16(src, count, dst)
        case .bf16: bf16(src, count, dst)
        case .q4_0: q4_0(src, blocks, dst)
        case .q4_1: q4_1(src, blocks, dst)
        case .q5_0: q5_0(src, blocks, dst)
        case .q5_1: q5_1(src, blocks, dst)
        case .q8_0: q8_0(src, blocks, dst)
        case .q8_1: q8_1(src, blocks, dst)
        case .q2_K: q2_K(src, blocks, dst)
        case .q3_K: q3_K(src, blocks, dst)
        case .q4_K: q4_K(src, blocks, dst)
        case .q5_K: q5_K(src, blocks, dst)
        case .q6_K: q6_K(src, blocks, dst)
        case .q8_K: q8_K(src, blocks, dst)
        default:
            throw QuantError(.unsupported, "no dequantizer for \(type.name)")
        }
    }

    /// Dequantizes a whole buffer, whose size must be exactly `count` elements of `type`.
    public static func run(_ type: QuantType, bytes: UnsafeRawBufferPointer, count: Int) throws(QuantError) -> [Float] {
        let needed = try type.byteCount(elements: count)
        guard bytes.count == needed, let base = bytes.baseAddress ?? (count == 0 ? UnsafeRawPointer(bitPattern: 1) : nil) else {
            throw QuantError(.badCount, "\(type.name): \(count) elements need \(needed) bytes, got \(bytes.count)")
        }
        var failure: QuantError?
        let out = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(QuantError) {
                if count > 0 { try run(type, src: base, count: count, into: buffer.baseAddress!) }
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return out
    }

    // MARK: - Per type

    @inline(__always)
    private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Half.float(fromBits: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    private static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    private static func f16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = half(src, 2 * i) }
    }

    private static func bf16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = Half.float(fromBF16Bits: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    }

    private static func q4_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 18, y = dst + b * 32
            let d = half(x, 0)
            for j in 0..<16 {
                let q = byte(x, 2 + j)
                y[j] = Float(Int32(q & 0x0f) - 8) * d
                y[j + 16] = Float(Int32(q >> 4) - 8) * d
            }
        }
    }

    private static func q4_1(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 20, y = dst + b * 32
            let d = half(x, 0), m = half(x, 2)
            for j in 0..<16 {
                let q = byte(x, 4 + j)
                y[j] = Float(q & 0x0f) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    private static func q5_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 22, y = dst + b * 32
            let d = half(x, 0)
            let qh = x.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            for j in 0..<16 {
                let q = UInt32(byte(x, 6 + j))
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float(Int32((q & 0x0f) | h0) - 16) * d
                y[j + 16] = Float(Int32((q >> 4) | h1) - 16) * d
            }
        }
    }

    private static func q5_1(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 24, y = dst + b * 32
            let d = half(x, 0), m = half(x, 2)
            let qh = x.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            for j in 0..<16 {
                let q = UInt32(byte(x, 8 + j))
                let h0 = ((qh >> UInt32(j)) << 4) & 0x10
                let h1 = (qh >> UInt32(j + 12)) & 0x10
                y[j] = Float((q & 0x0f) | h0) * d + m
                y[j + 16] = Float((q >> 4) | h1) * d + m
            }
        }
    }

    private static func q8_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 34, y = dst + b * 32
            let d = half(x, 0)
            for j in 0..<32 { y[j] = Float(x.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
        }
    }

    private static func q8_1(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let x = src + b * 36, y = dst + b * 32
            let d = half(x, 0)
            for j in 0..<32 { y[j] = Float(x.load(fromByteOffset: 4 + j, as: Int8.self)) * d }
        }
    }

    // K-quants: super-blocks of 256 elements.

    private static func q2_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // scales[16] @0, qs[64] @16, d @80, dmin @82
        for b in 0..<blocks {
            let x = src + b * 84
            var y = dst + b * 256
            let d = half(x, 80), dmin = half(x, 82)
            var group = 0
            for half128 in 0..<2 {
                let q = x + 16 + 32 * half128
                for shift in stride(from: 0, to: 8, by: 2) {
                    for sub in 0..<2 {
                        let sc = byte(x, group)
                        group += 1
                        let dl = d * Float(sc & 0x0f), ml = dmin * Float(sc >> 4)
                        for l in 0..<16 {
                            y[l] = dl * Float((byte(q, 16 * sub + l) >> UInt8(shift)) & 3) - ml
                        }
                        y += 16
                    }
                }
            }
        }
    }

    private static func q3_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
        for b in 0..<blocks {
            let x = src + b * 110
            var y = dst + b * 256
            let dAll = half(x, 108)
            var group = 0
            var mask: UInt8 = 1
            for half128 in 0..<2 {
                let q = x + 32 + 32 * half128
                for shift in stride(from: 0, to: 8, by: 2) {
                    for sub in 0..<2 {
                        let dl = dAll * q3Scale(x + 96, group)
                        group += 1
                        for l in 0..<16 {
                            let low = Int32((byte(q, 16 * sub + l) >> UInt8(shift)) & 3)
                            let high: Int32 = byte(x, 16 * sub + l) & mask != 0 ? 0 : 4
                            y[l] = dl * Float(low - high)
                        }
                        y += 16
                    }
                    mask <<= 1
                }
            }
        }
    }

    /// The i-th of Q3_K's 16 six-bit scales, minus 32: its low 4 bits are in bytes 0-7 (low
    /// nibbles for i < 8, high nibbles after), its high 2 bits in bytes 8-11.
    @inline(__always)
    private static func q3Scale(_ scales: UnsafeRawPointer, _ i: Int) -> Float {
        let low = i < 8 ? byte(scales, i) & 0x0f : byte(scales, i - 8) >> 4
        let high = (byte(scales, 8 + i % 4) >> UInt8(2 * (i / 4))) & 3
        return Float(Int32(low | (high << 4)) - 32)
    }

    /// The j-th 6-bit (scale, min) pair of a Q4_K/Q5_K block's 12 packed bytes.
    @inline(__always)
    private static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Float, Float) {
        if j < 4 {
            return (Float(byte(q, j) & 63), Float(byte(q, j + 4) & 63))
        }
        let sc = (byte(q, j + 4) & 0x0f) | ((byte(q, j - 4) >> 6) << 4)
        let m = (byte(q, j + 4) >> 4) | ((byte(q, j) >> 6) << 4)
        return (Float(sc), Float(m))
    }

    private static func q4_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // d @0, dmin @2, scales[12] @4, qs[128] @16
        for b in 0..<blocks {
            let x = src + b * 144
            var y = dst + b * 256
            let d = half(x, 0), dmin = half(x, 2)
            let scales = x + 4
            for pair in 0..<4 {
                let q = x + 16 + 32 * pair
                let (sc1, m1) = scaleMinK4(2 * pair, scales)
                let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
                let d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2
                for l in 0..<32 { y[l] = d1 * Float(byte(q, l) & 0x0f) - dm1 }
                for l in 0..<32 { y[32 + l] = d2 * Float(byte(q, l) >> 4) - dm2 }
                y += 64
            }
        }
    }

    private static func q5_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
        for b in 0..<blocks {
            let x = src + b * 176
            var y = dst + b * 256
            let d = half(x, 0), dmin = half(x, 2)
            let scales = x + 4, qh = x + 16
            var u1: UInt8 = 1, u2: UInt8 = 2
            for pair in 0..<4 {
                let ql = x + 48 + 32 * pair
                let (sc1, m1) = scaleMinK4(2 * pair, scales)
                let (sc2, m2) = scaleMinK4(2 * pair + 1, scales)
                let d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2
                for l in 0..<32 {
                    let h: UInt8 = byte(qh, l) & u1 != 0 ? 16 : 0
                    y[l] = d1 * Float((byte(ql, l) & 0x0f) + h) - dm1
                }
                for l in 0..<32 {
                    let h: UInt8 = byte(qh, l) & u2 != 0 ? 16 : 0
                    y[32 + l] = d2 * Float((byte(ql, l) >> 4) + h) - dm2
                }
                y += 64
                u1 <<= 2
                u2 <<= 2
            }
        }
    }

    private static func q6_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208
        for b in 0..<blocks {
            let x = src + b * 210
            var y = dst + b * 256
            let d = half(x, 208)
            for half128 in 0..<2 {
                let ql = x + 64 * half128, qh = x + 128 + 32 * half128
                let sc = x + 192 + 8 * half128
                for l in 0..<32 {
                    let group = l / 16
                    let h = byte(qh, l)
                    let q1 = Int32((byte(ql, l) & 0x0f) | ((h & 3) << 4)) - 32
                    let q2 = Int32((byte(ql, l + 32) & 0x0f) | (((h >> 2) & 3) << 4)) - 32
                    let q3 = Int32((byte(ql, l) >> 4) | (((h >> 4) & 3) << 4)) - 32
                    let q4 = Int32((byte(ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32
                    y[l] = d * Float(sc.load(fromByteOffset: group, as: Int8.self)) * Float(q1)
                    y[l + 32] = d * Float(sc.load(fromByteOffset: group + 2, as: Int8.self)) * Float(q2)
                    y[l + 64] = d * Float(sc.load(fromByteOffset: group + 4, as: Int8.self)) * Float(q3)
                    y[l + 96] = d * Float(sc.load(fromByteOffset: group + 6, as: Int8.self)) * Float(q4)
                }
                y += 128
            }
        }
    }

    private static func q8_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        // d (f32) @0, qs[256] @4, bsums[16] (int16) @260
        for b in 0..<blocks {
            let x = src + b * 292, y = dst + b * 256
            let d = x.loadUnaligned(as: Float.self)
            for j in 0..<256 { y[j] = d * Float(x.load(fromByteOffset: 4 + j, as: Int8.self)) }
        }
    }
}
