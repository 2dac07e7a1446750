// Reference quantizers f32 -> ggml blocks, with the rounding of ggml's quantize_row_*_ref, so a
// tiny model built here quantizes exactly as llama.cpp's tools would. Not a hot path: used to make
// test models and by writers, not at inference.

public import Diagnostics

public enum Quantize {
    /// Quantizes `count` floats (a multiple of the block size) into `type.byteCount(elements: count)`
    /// bytes at `dst`. Throws on a NaN or infinity for the block formats, which cannot hold them.
    public static func run(
        _ type: QuantType, src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawPointer
    ) throws(QuantError) {
        _ = try type.byteCount(elements: count)
        let blocks = count / type.blockSize
        switch type {
        case .f32:
            dst.copyMemory(from: src, byteCount: 4 * count)
        case .f16:
            for i in 0..<count { dst.storeBytes(of: Half.bits(from: src[i]), toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<count { dst.storeBytes(of: Half.bf16Bits(from: src[i]), toByteOffset: 2 * i, as: UInt16.self) }
        case .q4_0:
            try requireFinite(src, count, type)
            for b in 0..<blocks { q4_0(src + 32 * b, dst + 18 * b) }
        case .q4_1:
            try requireFinite(src, count, type)
            for b in 0..<blocks { q4_1(src + 32 * b, dst + 20 * b) }
        case .q8_0:
            try requireFinite(src, count, type)
            for b in 0..<blocks { q8_0(src + 32 * b, dst + 34 * b) }
        default:
            throw QuantError(.unsupported, "no quantizer for \(type.name)")
        }
    }

    /// Quantizes `values` (a whole number of blocks) into a new byte array.
    public static func run(_ type: QuantType, _ values: [Float]) throws(QuantError) -> [UInt8] {
        let size = try type.byteCount(elements: values.count)
        var failure: QuantError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            values.withUnsafeBufferPointer { src in
                do throws(QuantError) {
                    if size > 0 {
                        try run(type, src: src.baseAddress!, count: values.count, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                    }
                    initialized = size
                } catch {
                    failure = error
                    initialized = 0
                }
            }
        }
        if let failure { throw failure }
        return bytes
    }

    private static func requireFinite(_ src: UnsafePointer<Float>, _ count: Int, _ type: QuantType) throws(QuantError) {
        for i in 0..<count where !src[i].isFinite {
            throw QuantError(.nonFinite, "\(type.name): element \(i) is \(src[i]), which cannot be quantized")
        }
    }

    /// ggml's MIN(15, (int8_t)v): truncation toward zero, capped at 15. Also clamped below at 0
    /// and NaN-safe, which only matters for blocks of denormals whose inverse scale overflows.
    @inline(__always)
    private static func nibble(_ v: Float) -> UInt8 {
        guard v >= 0 else { return 0 }
        return UInt8(Swift.min(15, v))
    }

    private static func storeHalf(_ x: Float, _ y: UnsafeMutableRawPointer, _ offset: Int) {
        y.storeBytes(of: Half.bits(from: x), toByteOffset: offset, as: UInt16.self)
    }

    /// Scale from the element of largest magnitude, kept with its sign: d = max / -8, so that
    /// element maps to q = 0 and the range [-8, 7] is used asymmetrically as ggml does.
    private static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0, max: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, y, 0)
        for j in 0..<16 {
            let q0 = nibble(x[j] * id + 8.5)
            let q1 = nibble(x[j + 16] * id + 8.5)
            y.storeBytes(of: q0 | q1 << 4, toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    private static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if x[j] < min { min = x[j] }
            if x[j] > max { max = x[j] }
        }
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, y, 0)
        storeHalf(min, y, 2)
        for j in 0..<16 {
            let q0 = nibble((x[j] - min) * id + 0.5)
            let q1 = nibble((x[j + 16] - min) * id + 0.5)
            y.storeBytes(of: q0 | q1 << 4, toByteOffset: 4 + j, as: UInt8.self)
        }
    }

    private static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        storeHalf(d, y, 0)
        for j in 0..<32 {
            // roundf: halves away from zero, which is Swift's default rounding rule.
            let q = (x[j] * id).rounded()
            y.storeBytes(of: q.isNaN ? 0 : Int8(Swift.max(-128, Swift.min(127, q))), toByteOffset: 2 + j, as: Int8.self)
        }
    }
}
