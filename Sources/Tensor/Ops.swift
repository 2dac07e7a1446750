// Elementwise and row-wise operations of a transformer forward pass.
// Shapes: T tokens, C channels; every buffer is row-major and contiguous unless a stride is given.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Ops {
    /// out[t, :] = x[t, :] / sqrt(mean(x[t, :]²) + eps) · weight        x, out: (T, C), weight: (C)
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
        tokens: Int, channels: Int, out: UnsafeMutablePointer<Float>
    ) {
        for t in 0..<tokens {
            let row = x + t * channels
            let o = out + t * channels
            var sum: Double = 0
            var i = 0
            var acc = SIMD16<Float>()
            while i + 16 <= channels {
                let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self)
                acc += v * v
                i += 16
            }
            sum = Double(acc.sum())
            while i < channels { sum += Double(row[i] * row[i]); i += 1 }
            let scale = Float(1.0 / (sum / Double(channels) + Double(eps)).squareRoot())
            for c in 0..<channels { o[c] = row[c] * scale * weight[c] }
        }
    }

    /// Rotary position embedding on adjacent pairs (x[2i], x[2i+1]), the layout GGUF stores llama's
    /// q/k projections in (the converter permutes HF's rotate-half layout into it).
    ///   x: (T, heads·headDim) with row stride `stride`; token t sits at position positions[t].
    ///   θ_i = base^(-2i/ropeDim) for i < ropeDim/2; dimensions past ropeDim are left alone.
    public static func rope(
        _ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int, stride: Int,
        positions: UnsafePointer<Int>, base: Float, ropeDim: Int, table: RoPETable? = nil
    ) {
        rotatePairs(x, tokens: tokens, heads: heads, headDim: headDim, stride: stride, positions: positions,
                    base: base, ropeDim: ropeDim, table: table, direction: 1)
    }

    /// Rotates each adjacent pair by direction·θ (+1: RoPE; −1: its transpose, for the backward pass).
    static func rotatePairs(
        _ x: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int, stride: Int,
        positions: UnsafePointer<Int>, base: Float, ropeDim: Int, table: RoPETable?, direction: Float
    ) {
        let half = ropeDim / 2
        for t in 0..<tokens {
            let pos = positions[t]
            for h in 0..<heads {
                let v = x + t * stride + h * headDim
                for i in 0..<half {
                    let cs: Float, sn: Float
                    if let table, pos < table.maxPositions {
                        cs = table.cosines[pos * half + i]; sn = direction * table.sines[pos * half + i]
                    } else {
                        let theta = Double(pos) * pow(Double(base), -2.0 * Double(i) / Double(ropeDim))
                        cs = Float(cos(theta)); sn = direction * Float(sin(theta))
                    }
                    let a = v[2 * i], b = v[2 * i + 1]
                    v[2 * i] = a * cs - b * sn
                    v[2 * i + 1] = a * sn + b * cs
                }
            }
        }
    }

    /// In place: x[r, :] = softmax(x[r, 0..<valid(r)]), entries valid(r)..<columns set to 0.
    ///   x: (R, columns) with row stride ld
    public static func softmaxRows(
        _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ld: Int, valid: (Int) -> Int
    ) {
        for r in 0..<rows {
            let row = x + r * ld
            let n = valid(r)
            var m = -Float.infinity
            for i in 0..<n where row[i] > m { m = row[i] }
            var sum: Float = 0
            for i in 0..<n {
                let e = expf(row[i] - m)
                row[i] = e
                sum += e
            }
            let inv = 1 / sum
            for i in 0..<n { row[i] *= inv }
            if n < columns { (row + n).update(repeating: 0, count: columns - n) }
        }
    }

    /// out = silu(gate) · up, elementwise over n values (SwiGLU).
    public static func swiglu(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// x += y over n values.
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: a + b, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { x[i] += y[i]; i += 1 }
    }

    /// Σ a[i]·b[i] over n values.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            acc0 += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            acc1 += UnsafeRawPointer(a + i + 16).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + i + 16).loadUnaligned(as: SIMD16<Float>.self)
            i += 32
        }
        var s = (acc0 + acc1).sum()
        while i < count { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// y += alpha · x over n values.
    @inline(__always)
    public static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let av = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + 16 <= count {
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: yv + av * xv, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count { y[i] += alpha * x[i]; i += 1 }
    }
}

/// Precomputed cos/sin of RoPE angles for positions < maxPositions, in double precision then rounded.
public final class RoPETable: @unchecked Sendable {
    public let maxPositions: Int
    public let cosines: UnsafeMutablePointer<Float>
    public let sines: UnsafeMutablePointer<Float>

    public init(maxPositions: Int, ropeDim: Int, base: Float) {
        let half = ropeDim / 2
        self.maxPositions = maxPositions
        cosines = .allocate(capacity: max(1, maxPositions * half))
        sines = .allocate(capacity: max(1, maxPositions * half))
        for i in 0..<half {
            let invFreq = pow(Double(base), -2.0 * Double(i) / Double(ropeDim))
            for p in 0..<maxPositions {
                let theta = Double(p) * invFreq
                cosines[p * half + i] = Float(cos(theta))
                sines[p * half + i] = Float(sin(theta))
            }
        }
    }

    deinit { cosines.deallocate(); sines.deallocate() }
}
