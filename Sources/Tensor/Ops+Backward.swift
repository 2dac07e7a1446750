// Backward passes of the forward ops in Ops.swift, plus the two training-only forwards whose
// backward needs what they save (causal attention keeping its probabilities, softmax cross-entropy).
// Each backward quotes the forward line it differentiates and accumulates into its input gradients
// with += unless it says "in place".
//
// Dimension key: T tokens, C channels, H query heads, G kv heads, D head dim, Q = H·D, K = G·D,
// V vocabulary. A `d` prefix is the gradient of the loss with respect to that buffer.

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Ops {
    // MARK: RMSNorm

    /// Forward (Ops.rmsNorm): out[t, c] = x[t, c] · r_t · w[c],  r_t = 1 / sqrt(mean_c x[t, c]² + eps)
    ///   dout, x: (T, C), weight: (C) → dx: (T, C) +=
    /// dx[c] = r·w[c]·dout[c] − x[c] · r³/C · Σ_j w[j]·dout[j]·x[j]
    public static func rmsNormBackward(
        _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
        tokens: Int, channels: Int, dx: UnsafeMutablePointer<Float>
    ) {
        for t in 0..<tokens {
            let xr = x + t * channels, dy = dout + t * channels, dxr = dx + t * channels
            var sumSquares: Double = 0, dotWDX: Double = 0
            for c in 0..<channels {
                sumSquares += Double(xr[c]) * Double(xr[c])
                dotWDX += Double(weight[c]) * Double(dy[c]) * Double(xr[c])
            }
            let r = 1 / (sumSquares / Double(channels) + Double(eps)).squareRoot()
            let rf = Float(r)
            let k = Float(r * r * r * dotWDX / Double(channels))
            for c in 0..<channels { dxr[c] += rf * weight[c] * dy[c] - k * xr[c] }
        }
    }

    // MARK: RoPE

    /// Forward (Ops.rope): (a, b) → (a·cos − b·sin, a·sin + b·cos) on each adjacent pair.
    ///   dx: (T, heads·headDim) with row stride `stride`, in place: the gradient of the rotated values
    ///   becomes the gradient of the values before rotation (rotation by −θ, since the map is orthogonal).
    /// Uses the same table (or the same double-precision angles) as the forward.
    public static func ropeBackward(
        _ dx: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int, stride: Int,
        positions: UnsafePointer<Int>, base: Float, ropeDim: Int, table: RoPETable? = nil
    ) {
        rotatePairs(dx, tokens: tokens, heads: heads, headDim: headDim, stride: stride, positions: positions,
                    base: base, ropeDim: ropeDim, table: table, direction: -1)
    }

    // MARK: SwiGLU

    /// Forward (Ops.swiglu): out = silu(g)·u = g·σ(g)·u
    ///   dout, gate, up: (n) → dgate, dup: (n) +=
    /// d/dg = u·σ(g)·(1 + g·(1 − σ(g))),  d/du = g·σ(g)
    /// Vectorized (CKernels pk_swiglu_backward: AVX-512 exp when the CPU has it); `swigluBackward` is the
    /// plain loop.
    public static func swigluBackwardVectorized(
        _ dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
        dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>
    ) {
        pk_swiglu_backward(dout, gate, up, Int64(count), dgate, dup)
    }

    /// Ops.swiglu through CKernels pk_swiglu (AVX-512 exp when the CPU has it; training uses it).
    public static func swigluVectorized(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int, out: UnsafeMutablePointer<Float>
    ) {
        pk_swiglu(gate, up, Int64(count), out)
    }

    public static func swigluBackward(
        _ dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
        dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count {
            let g = gate[i]
            let s = 1 / (1 + expf(-g))
            dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s))
            dup[i] += dout[i] * g * s
        }
    }

    // MARK: Linear map

    /// Forward: y (T, out) = x (T, in) · Wᵀ, with W (out, in) row-major (the model's layout).
    public static func linear(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, tokens: Int, inFeatures: Int, outFeatures: Int,
        out: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        BLAS.sgemm(transB: true, m: tokens, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                   b: weight, ldb: inFeatures, beta: accumulate ? 1 : 0, c: out, ldc: outFeatures)
    }

    /// Forward: y = x · Wᵀ   →   dx (T, in) += dy (T, out) · W (out, in);  dW (out, in) += dyᵀ · x
    /// Either gradient may be skipped (nil): the base weights are frozen, so training only asks for dx.
    public static func linearBackward(
        _ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        tokens: Int, inFeatures: Int, outFeatures: Int,
        dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?, alpha: Float = 1
    ) {
        if let dx {
            BLAS.sgemm(m: tokens, n: inFeatures, k: outFeatures, alpha: alpha, a: dy, lda: outFeatures,
                       b: weight, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
        if let dweight {
            BLAS.sgemm(transA: true, m: outFeatures, n: inFeatures, k: tokens, alpha: alpha, a: dy, lda: outFeatures,
                       b: x, ldb: inFeatures, beta: 1, c: dweight, ldc: inFeatures)
        }
    }

    // MARK: Causal grouped-query attention (training: no cache, probabilities kept)

    /// out_h = softmax(scale · q_h k_gᵀ + causal mask) · v_g, for query head h over kv head g = h / (H/G).
    ///   q: (T, Q), k, v: (T, K) → out: (T, Q), probs: (H, T, T) saved for the backward
    /// Same products and softmax as InferenceSession's batched attention with no cached prefix.
    /// With a pool, heads are split across its threads (each calling single-threaded BLAS: keep
    /// OpenBLAS at one thread meanwhile).
    public static func causalAttention(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        tokens T: Int, heads: Int, kvHeads: Int, headDim D: Int,
        probs: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil
    ) {
        let Q = heads * D, K = kvHeads * D, group = heads / kvHeads
        let scale = 1 / Float(D).squareRoot()
        func head(_ h: Int) {
            let g = h / group
            let p = probs + h * T * T
            // s (T, T) = scale · q_h (T, D) · k_gᵀ (D, T); row t sees positions ≤ t
            BLAS.sgemm(transB: true, m: T, n: T, k: D, alpha: scale, a: q + h * D, lda: Q,
                       b: k + g * D, ldb: K, c: p, ldc: T)
            causalSoftmaxRows(p, T: T)
            // out_h (T, D) = p (T, T) · v_g (T, D)
            BLAS.sgemm(m: T, n: D, k: T, a: p, lda: T, b: v + g * D, ldb: K, c: out + h * D, ldc: Q)
        }
        if let pool, pool.threads > 1 {
            pool.run { ith, nth in for h in stride(from: ith, to: heads, by: nth) { head(h) } }
        } else {
            for h in 0..<heads { head(h) }
        }
    }

    /// In place: row t of p (T, T) = softmax of its first t + 1 entries, the rest 0 (pk_exp_sum: AVX-512
    /// when the CPU has it).
    static func causalSoftmaxRows(_ p: UnsafeMutablePointer<Float>, T: Int) {
        for t in 0..<T {
            let row = p + t * T
            let n = t + 1
            var m = -Float.infinity
            for i in 0..<n where row[i] > m { m = row[i] }
            let inv = 1 / pk_exp_sum(row, Int64(n), m)
            for i in 0..<n { row[i] *= inv }
            if n < T { (row + n).update(repeating: 0, count: T - n) }
        }
    }

    /// Backward of causalAttention.
    ///   dout: (T, Q), q: (T, Q), k, v: (T, K), probs: (H, T, T) → dq: (T, Q) +=, dk, dv: (T, K) +=
    ///   scratch: (T, T), or with a pool of n threads (n · (T·T + 2·T·K)): heads are then split across the
    ///   pool (single-threaded BLAS in each: keep OpenBLAS at one thread meanwhile), each thread
    ///   accumulating dk, dv privately before one sum.
    public static func causalAttentionBackward(
        _ dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, tokens T: Int, heads: Int, kvHeads: Int, headDim D: Int,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil
    ) {
        let Q = heads * D, K = kvHeads * D, group = heads / kvHeads
        let scale = 1 / Float(D).squareRoot()
        if let pool, pool.threads > 1 {
            let n = pool.threads
            let per = T * T + 2 * T * K
            // thread i: dp at scratch + i·per, then its dk, dv (zeroed; thread 0 writes the real ones)
            pool.run { ith, nth in
                let base = scratch + ith * per
                let dki = ith == 0 ? dk : base + T * T, dvi = ith == 0 ? dv : base + T * T + T * K
                if ith != 0 { dki.update(repeating: 0, count: T * K); dvi.update(repeating: 0, count: T * K) }
                for h in stride(from: ith, to: heads, by: nth) {
                    attentionHeadBackward(h, dout, q: q, k: k, v: v, probs: probs, T: T, D: D, Q: Q, K: K, group: group,
                                          scale: scale, dq: dq, dk: dki, dv: dvi, dp: base)
                }
            }
            for i in 1..<n {
                let base = scratch + i * per
                add(dk, base + T * T, count: T * K)
                add(dv, base + T * T + T * K, count: T * K)
            }
            return
        }
        for h in 0..<heads {
            attentionHeadBackward(h, dout, q: q, k: k, v: v, probs: probs, T: T, D: D, Q: Q, K: K, group: group,
                                  scale: scale, dq: dq, dk: dk, dv: dv, dp: scratch)
        }
    }

    private static func attentionHeadBackward(
        _ h: Int, _ dout: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        probs: UnsafePointer<Float>, T: Int, D: Int, Q: Int, K: Int, group: Int, scale: Float,
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        dp: UnsafeMutablePointer<Float>
    ) {
        do {
            let g = h / group
            let p = probs + h * T * T
            // out_h = p · v_g   →   dp (T, T) = dout_h · v_gᵀ;  dv_g (T, D) += pᵀ · dout_h
            BLAS.sgemm(transB: true, m: T, n: T, k: D, a: dout + h * D, lda: Q, b: v + g * D, ldb: K,
                       c: dp, ldc: T)
            BLAS.sgemm(transA: true, m: T, n: D, k: T, a: p, lda: T, b: dout + h * D, ldb: Q,
                       beta: 1, c: dv + g * D, ldc: K)
            // p = softmax(s)   →   ds = p ⊙ (dp − Σ_j p_j dp_j), in place in dp (masked entries have p = 0)
            softmaxRowsBackward(dp, probs: p, rows: T, columns: T, ld: T)
            // s = scale · q_h · k_gᵀ   →   dq_h += scale · ds · k_g;  dk_g += scale · dsᵀ · q_h
            BLAS.sgemm(m: T, n: D, k: T, alpha: scale, a: dp, lda: T, b: k + g * D, ldb: K,
                       beta: 1, c: dq + h * D, ldc: Q)
            BLAS.sgemm(transA: true, m: T, n: D, k: T, alpha: scale, a: dp, lda: T, b: q + h * D, ldb: Q,
                       beta: 1, c: dk + g * D, ldc: K)
        }
    }

    /// Forward (Ops.softmaxRows): p[r, :] = softmax(x[r, :])
    ///   In place: dp (R, columns) becomes dx = p ⊙ (dp − Σ_j p_j·dp_j); probs: (R, columns), stride ld.
    public static func softmaxRowsBackward(
        _ dp: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int
    ) {
        for r in 0..<rows {
            let d = dp + r * ld, p = probs + r * ld
            let s = dot(p, d, count: columns)
            for j in 0..<columns { d[j] = p[j] * (d[j] - s) }
        }
    }

    // MARK: Cross-entropy

    /// loss = −log softmax(logits)[label] for one row, and in the same pass its backward:
    ///   logits: (V), in place → scale · (softmax(logits) − onehot(label)).
    /// Returns the loss of the row in double precision (log-sum-exp with the max subtracted).
    public static func softmaxCrossEntropy(
        _ logits: UnsafeMutablePointer<Float>, vocabulary V: Int, label: Int, gradientScale scale: Float
    ) -> Double {
        var mv = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= V {
            mv = pointwiseMax(mv, UnsafeRawPointer(logits + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var m = mv.max()
        while i < V { m = max(m, logits[i]); i += 1 }
        let labelLogit = logits[label]
        let sum = Double(pk_exp_sum(logits, Int64(V), m))
        let loss = log(sum) - Double(labelLogit - m)
        let f = Float(1 / sum) * scale
        var j = 0
        let fv = SIMD16<Float>(repeating: f)
        while j + 16 <= V {
            let v = UnsafeRawPointer(logits + j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(logits + j).storeBytes(of: v * fv, as: SIMD16<Float>.self)
            j += 16
        }
        while j < V { logits[j] *= f; j += 1 }
        logits[label] -= scale
        return loss
    }
}
