import CKernels
import Foundation
import Testing

@testable import Tensor

// The training GEMMs with a frozen weight (CKernels gemm_avx512.c through DenseGEMM) against a Double
// reference, on odd sizes that exercise every row-block height and partial 32-column panel.
// Bounds, per element, relative to Σ_k |a_k·b_k| (the scale of the rounding error of any summation):
//   f32 kernel: 1e-5 (f32 summation over ≤ 1537 terms stays well under it);
//   bf16 kernel: 2⁻⁷ (a and W each rounded to bf16: ≤ 2⁻⁹ relative each, so ≤ ~2⁻⁸ per product, plus f32 sums).
struct DenseGEMMTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (5, 7, 3), (13, 33, 17), (12, 32, 64), (25, 100, 1537), (37, 65, 31), (64, 192, 96),
    ]

    struct Problem {
        let m, n, k: Int
        let transposed: Bool
        let a, w, c0: [Float]
        /// W is (n, k) when transposed, else (k, n).
        func b(_ kk: Int, _ nn: Int) -> Double { Double(transposed ? w[nn * k + kk] : w[kk * n + nn]) }

        init(m: Int, n: Int, k: Int, transposed: Bool, seed: UInt64) {
            self.m = m; self.n = n; self.k = k; self.transposed = transposed
            var s = seed
            func next() -> Float {
                s = s &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
            }
            a = (0..<(m * k)).map { _ in next() }
            w = (0..<(k * n)).map { _ in next() }
            c0 = (0..<(m * n)).map { _ in next() }
        }

        /// (reference, Σ|a·b| bound scale) of c = alpha·a·B + c0
        func reference(alpha: Double) -> ([Double], [Double]) {
            var ref = [Double](repeating: 0, count: m * n), scale = ref
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, abs = 0.0
                    for kk in 0..<k {
                        let p = Double(a[i * k + kk]) * b(kk, j)
                        s += p; abs += Swift.abs(p)
                    }
                    ref[i * n + j] = alpha * s + Double(c0[i * n + j])
                    scale[i * n + j] = Swift.abs(alpha) * abs
                }
            }
            return (ref, scale)
        }

        func worst(_ c: [Float], alpha: Double) -> Double {
            let (ref, scale) = reference(alpha: alpha)
            var worst = 0.0
            for i in 0..<(m * n) { worst = max(worst, Swift.abs(Double(c[i]) - ref[i]) / max(scale[i], 1e-30)) }
            return worst
        }
    }

    @Test(.enabled(if: DenseGEMM.avx512Available), arguments: [1, 2])
    func f32KernelMatchesDoubleReference(threads: Int) {
        let pool = WorkerPool(threads: threads)
        for (i, s) in Self.shapes.enumerated() {
            for transposed in [true, false] {
                let p = Problem(m: s.m, n: s.n, k: s.k, transposed: transposed, seed: UInt64(i + 1))
                var c = p.c0
                let err = p.w.withUnsafeBufferPointer { w in
                    p.a.withUnsafeBufferPointer { a in
                        DenseGEMM.rawF32(pool: pool, w: w.baseAddress!, transposed: transposed, a: a.baseAddress!,
                                         m: s.m, n: s.n, k: s.k, alpha: 0.5, accumulate: true, c: &c)
                    }
                }
                #expect(err == 0)
                let worst = p.worst(c, alpha: 0.5)
                #expect(worst < 1e-5, "f32 \(s) transposed=\(transposed): \(worst)")
            }
        }
    }

    @Test(.enabled(if: DenseGEMM.bf16Available), arguments: [1, 2])
    func bf16KernelStaysWithinItsBound(threads: Int) {
        let pool = WorkerPool(threads: threads)
        var worstSeen = 0.0
        for (i, s) in Self.shapes.enumerated() {
            // Forward (c = a·Wᵀ, W (n, k)) and backward (c = a·W, W (k, n)) through one packed weight.
            for forward in [true, false] {
                let out = forward ? s.n : s.k, inp = forward ? s.k : s.n
                let p = Problem(m: s.m, n: s.n, k: s.k, transposed: forward, seed: UInt64(100 + i))
                let packed = p.w.withUnsafeBufferPointer { PackedBF16Weight(weight: $0.baseAddress!, outFeatures: out, inFeatures: inp) }
                for accumulate in [true, false] {
                    var c = accumulate ? p.c0 : [Float](repeating: 7, count: s.m * s.n)
                    let err = p.a.withUnsafeBufferPointer { a in
                        DenseGEMM.rawBF16(pool: pool, packed: packed, forward: forward, a: a.baseAddress!, m: s.m,
                                          alpha: 2, accumulate: accumulate, c: &c)
                    }
                    #expect(err == 0)
                    let check = accumulate ? p : Problem(m: s.m, n: s.n, k: s.k, transposed: forward, seed: UInt64(100 + i), zeroC: true)
                    let worst = check.worst(c, alpha: 2)
                    worstSeen = max(worstSeen, worst)
                    #expect(worst < 1.0 / 128, "bf16 \(s) forward=\(forward) accumulate=\(accumulate): \(worst)")
                }
            }
        }
        // Rounding both sides to 8 bits of mantissa must show: an exact result would mean f32 ran.
        #expect(worstSeen > 1e-5)
    }

    @Test func packedLayoutRoundsToNearestEven() {
        // 1 + 2⁻⁸ is a tie between bf16 1 and 1 + 2⁻⁷: nearest even gives 1; 1 + 3·2⁻⁸ rounds up to 1 + 2⁻⁶.
        let w: [Float] = [1 + 1.0 / 256, 1 + 3.0 / 256, -2, 0.1]
        var out = [UInt16](repeating: 0xFFFF, count: pk_pack_bf16_elements(2, 2))
        #expect(out.count == 32 * 2)   // one panel of 32 columns, one pair of rows
        // B = W (K = 2, N = 2): out[j·2 + e] = B[e][j]
        #expect(pk_pack_bf16(w, 0, 2, 2, &out) == 0)
        #expect(out[0] == 0x3F80)         // B[0][0] = 1 + 2⁻⁸ → 1.0
        #expect(out[1] == 0xC000)         // B[1][0] = −2
        #expect(out[2] == 0x3F82)         // B[0][1] = 1 + 3·2⁻⁸ → 1 + 2⁻⁶
        #expect(out[3] == 0x3DCD)         // B[1][1] = 0.1 → 0x3DCD (0x3DCCCCCD rounded)
        #expect(out[4...].allSatisfy { $0 == 0 }, "padding columns are zero")
        #expect(pk_pack_bf16(w, 0, 0, 2, &out) == Int32(PK_ERR_SHAPE))
    }

    @Test func bf16ReportsMissingISAInsteadOfRunning() {
        // On CPUs without the instructions the kernels refuse with PK_ERR_ISA (callers fall back to BLAS).
        guard !DenseGEMM.bf16Available else { return }
        let pool = WorkerPool(threads: 1)
        let w: [Float] = [1], a: [Float] = [1]
        var c: [Float] = [0]
        let packed = PackedBF16Weight(weight: w, outFeatures: 1, inFeatures: 1)
        #expect(DenseGEMM.rawBF16(pool: pool, packed: packed, forward: true, a: a, m: 1, accumulate: false, c: &c) == Int32(PK_ERR_ISA))
    }
}

extension DenseGEMMTests.Problem {
    init(m: Int, n: Int, k: Int, transposed: Bool, seed: UInt64, zeroC: Bool) {
        let p = DenseGEMMTests.Problem(m: m, n: n, k: k, transposed: transposed, seed: seed)
        self.m = m; self.n = n; self.k = k; self.transposed = transposed
        a = p.a; w = p.w
        c0 = [Float](repeating: 0, count: m * n)
    }
}

/// The vectorized SwiGLU, its backward and the exp-sum of softmax rows against Double math, over inputs
/// from −100 to 100 (saturation included) and lengths with partial 16-lane tails.
struct ElementwiseKernelTests {
    static let inputs: [Float] = (0..<1037).map { i in Float(i % 401 - 200) * 0.5 * (i % 3 == 0 ? 0.013 : 1) }

    @Test func swigluAndItsBackwardMatchDouble() {
        let g = Self.inputs, u = g.map { 0.7 - $0 * 0.01 }, d = g.map { 0.3 + $0 * 0.002 }
        var out = [Float](repeating: 0, count: g.count)
        var dg = [Float](repeating: 0.25, count: g.count), du = [Float](repeating: -0.5, count: g.count)
        Ops.swigluVectorized(gate: g, up: u, count: g.count, out: &out)
        Ops.swigluBackwardVectorized(d, gate: g, up: u, count: g.count, dgate: &dg, dup: &du)
        for i in g.indices {
            let x = Double(g[i]), s = 1 / (1 + exp(-x))
            let y = x * s * Double(u[i])
            let dgr = 0.25 + Double(d[i]) * Double(u[i]) * s * (1 + x * (1 - s))
            let dur = -0.5 + Double(d[i]) * x * s
            #expect(abs(Double(out[i]) - y) <= 1e-6 * abs(y) + 1e-30, "swiglu(\(x))")
            #expect(abs(Double(dg[i]) - dgr) <= 1e-5 * (abs(dgr) + 0.25), "dgate(\(x))")
            #expect(abs(Double(du[i]) - dur) <= 1e-5 * (abs(dur) + 0.5), "dup(\(x))")
        }
    }

    @Test func expSumMatchesDouble() {
        for n in [1, 15, 16, 17, 1037] {
            var x = Array(Self.inputs.prefix(n))
            let shift = x.max()!
            let ref = x.map { exp(Double($0) - Double(shift)) }
            let sum = pk_exp_sum(&x, Int64(n), shift)
            for i in 0..<n { #expect(abs(Double(x[i]) - ref[i]) <= 3e-7 * ref[i] + 1e-40, "exp(\(Self.inputs[i] - shift))") }
            let r = ref.reduce(0, +)
            #expect(abs(Double(sum) - r) <= 1e-6 * r)
        }
    }
}
