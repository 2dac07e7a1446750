#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Tensor

// The BERT forward pass over a batch of sentences packed one after another: T = Σ Lᵢ rows, no
// padding. Every per-token product runs over all T rows at once: through sgemm (OpenBLAS threads)
// for large T, and for T ≤ `directProductMaxTokens` (a search query) through the CKernels f32
// kernels, which read W in place — sgemm first packs W into a copy, which for a dozen tokens costs
// about as much as the product itself (measured: 35% of a one-sentence embedding). Attention runs
// per sentence and head, so a token only ever attends to the tokens of its own sentence — what
// padding plus an attention mask computes, without computing the padded rows. GELU and LayerNorm are
// split across `threads` workers between the products (for large T).
extension SentenceEncoder {
    /// sentences: token ids, each `[CLS] … [SEP]`, at most `maxSequenceLength` long -> one
    /// L2-normalised (C) vector each.
    func forward(_ sentences: [[Int]]) -> [[Float]] {
        let c = config.hiddenSize, f = config.intermediateSize
        let heads = config.heads, hd = config.headDim, eps = config.layerNormEpsilon
        let lengths = sentences.map(\.count)
        let starts = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        let t = starts.last!
        let maxLength = lengths.max() ?? 0
        guard t > 0 else { return sentences.map { _ in [Float](repeating: 0, count: c) } }
        // Small passes: one thread for the element-wise work (a dispatch costs more than the work)
        // and the direct product kernels on a pool of their own.
        let direct = t <= Self.directProductMaxTokens
        let workers = direct ? 1 : max(1, min(threads, t))
        let pool = direct ? pools.take() : nil
        defer { if let pool { pools.put(pool) } }

        let x = FloatBuffer(count: t * c, zeroed: false)         // (T, C) residual stream
        let qkv = FloatBuffer(count: t * 3 * c, zeroed: false)   // (T, 3C)
        let context = FloatBuffer(count: t * c, zeroed: false)   // (T, C)
        let projected = FloatBuffer(count: t * c, zeroed: false) // (T, C)
        let hidden = FloatBuffer(count: t * f, zeroed: false)    // (T, F)
        let scores = FloatBuffer(count: maxLength * maxLength, zeroed: false) // (L, L)

        // Embeddings: word + position (from 0 in each sentence) + token type 0, then LayerNorm.
        let w = weights
        for (s, ids) in sentences.enumerated() {
            for (p, id) in ids.enumerated() {
                let row = x.pointer + (starts[s] + p) * c
                let word = w.wordEmbeddings.pointer + min(max(id, 0), config.vocabularySize - 1) * c
                let position = w.positionEmbeddings.pointer + p * c
                let type = w.tokenTypeEmbeddings.pointer
                for j in 0..<c { row[j] = word[j] + position[j] + type[j] }
            }
        }
        Self.parallel(rows: t, workers: workers) { _, rows in
            Self.layerNorm(x.pointer, residual: nil, rows: rows, columns: c, gamma: w.embeddingNorm.pointer, beta: w.embeddingNormBias.pointer, epsilon: eps)
        }

        let scale = 1 / Float(hd).squareRoot()
        for layer in w.layers {
            // qkv = x · Wqkvᵀ + b          x: (T, C), Wqkv: (3C, C) -> qkv: (T, 3C)
            Self.linear(pool, x.pointer, rows: t, inputs: c, weight: layer.qkv.pointer, bias: layer.qkvBias.pointer, outputs: 3 * c, out: qkv.pointer)
            // Per sentence s and head h: softmax(Q Kᵀ / √d) V    Q, K, V: (L, d) -> (L, d)
            for s in sentences.indices {
                for h in 0..<heads {
                    Self.attention(
                        qkv: qkv.pointer + starts[s] * 3 * c, length: lengths[s], width: c, head: h, headDim: hd,
                        scale: scale, scores: scores.pointer, out: context.pointer + starts[s] * c + h * hd)
                }
            }
            // x = LayerNorm(context · Woᵀ + bo + x)
            Self.linear(pool, context.pointer, rows: t, inputs: c, weight: layer.attentionOut.pointer, bias: layer.attentionOutBias.pointer, outputs: c, out: projected.pointer)
            Self.parallel(rows: t, workers: workers) { _, rows in
                Self.layerNorm(x.pointer, residual: projected.pointer, rows: rows, columns: c, gamma: layer.attentionNorm.pointer, beta: layer.attentionNormBias.pointer, epsilon: eps)
            }
            // x = LayerNorm(gelu(x · W1ᵀ + b1) · W2ᵀ + b2 + x)
            Self.linear(pool, x.pointer, rows: t, inputs: c, weight: layer.intermediate.pointer, bias: layer.intermediateBias.pointer, outputs: f, out: hidden.pointer)
            Self.parallel(rows: t, workers: workers) { _, rows in
                Self.gelu(hidden.pointer + rows.lowerBound * f, count: rows.count * f)
            }
            Self.linear(pool, hidden.pointer, rows: t, inputs: f, weight: layer.output.pointer, bias: layer.outputBias.pointer, outputs: c, out: projected.pointer)
            Self.parallel(rows: t, workers: workers) { _, rows in
                Self.layerNorm(x.pointer, residual: projected.pointer, rows: rows, columns: c, gamma: layer.outputNorm.pointer, beta: layer.outputNormBias.pointer, epsilon: eps)
            }
        }

        // Mean over each sentence's tokens ([CLS] and [SEP] included), then v / max(‖v‖, 1e-12).
        return sentences.indices.map { s in
            var v = [Float](repeating: 0, count: c)
            v.withUnsafeMutableBufferPointer { out in
                for r in starts[s]..<starts[s + 1] { Ops.add(out.baseAddress!, x.pointer + r * c, count: c) }
                let inv = 1 / Float(lengths[s])
                var norm: Float = 0
                for j in 0..<c {
                    out[j] *= inv
                    norm += out[j] * out[j]
                }
                let scale = 1 / max(norm.squareRoot(), 1e-12)
                for j in 0..<c { out[j] *= scale }
            }
            return v
        }
    }

    /// Splits 0..<rows into `workers` contiguous ranges run concurrently; body(worker, range).
    static func parallel(rows: Int, workers: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        if workers <= 1 || rows < 2 {
            body(0, 0..<rows)
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { i in
            let lo = rows * i / workers, hi = rows * (i + 1) / workers
            if lo < hi { body(i, lo..<hi) }
        }
    }

    /// Forward passes of at most this many tokens take the direct product kernels (see the top).
    static let directProductMaxTokens = 48

    /// out = x · Wᵀ + b     x: (rows, inputs), W: (outputs, inputs), b: (outputs) -> out: (rows, outputs)
    /// With a pool (and `inputs` a multiple of 32): the CKernels f32 product, else sgemm.
    static func linear(
        _ pool: WorkerPool?, _ x: UnsafePointer<Float>, rows: Int, inputs: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputs: Int, out: UnsafeMutablePointer<Float>
    ) {
        if let pool, inputs % 32 == 0,
           (try? QuantizedMatmul.run(pool: pool, wtype: 0, w: weight, rows: outputs, cols: inputs, x: x, tokens: rows,
                                     y: out, activations: .f32)) != nil {
            for r in 0..<rows { Ops.add(out + r * outputs, bias, count: outputs) }
            return
        }
        for r in 0..<rows { (out + r * outputs).update(from: bias, count: outputs) }
        BLAS.sgemm(
            transB: true, m: rows, n: outputs, k: inputs,
            a: x, lda: inputs, b: weight, ldb: inputs, beta: 1, c: out, ldc: outputs)
    }

    /// One head of one sentence: out = softmax(Q Kᵀ · scale) V.
    ///   qkv: (L, 3·width) rows [Q | K | V], head h at columns h·d..<(h+1)·d of each part
    ///   scores: (L, L) scratch -> out: (L, d) with row stride `width`
    static func attention(
        qkv: UnsafePointer<Float>, length l: Int, width: Int, head h: Int, headDim d: Int,
        scale: Float, scores: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let stride = 3 * width
        // scores = Q Kᵀ · scale      Q, K: (L, d) -> (L, L)
        BLAS.sgemm(
            transB: true, m: l, n: l, k: d, alpha: scale,
            a: qkv + h * d, lda: stride, b: qkv + width + h * d, ldb: stride, c: scores, ldc: l)
        Ops.softmaxRows(scores, rows: l, columns: l, ld: l, valid: { _ in l })
        // out = scores V              (L, L) · (L, d) -> (L, d)
        BLAS.sgemm(
            m: l, n: d, k: l, a: scores, lda: l, b: qkv + 2 * width + h * d, ldb: stride, c: out, ldc: width)
    }

    /// In place, each row r in `rows`: x ← LayerNorm(x + residual) = (y − mean) / √(var + ε) · γ + β
    /// with y = x + residual (or x alone) and var the biased variance.   x, residual: (T, columns)
    static func layerNorm(
        _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, rows: Range<Int>, columns: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        let n = Float(columns)
        for r in rows {
            let row = x + r * columns
            if let residual { Ops.add(row, residual + r * columns, count: columns) }
            var sum = SIMD16<Float>(), i = 0
            while i + 16 <= columns {
                sum += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self)
                i += 16
            }
            var total = sum.sum()
            while i < columns { total += row[i]; i += 1 }
            let mean = total / n
            let m = SIMD16<Float>(repeating: mean)
            var sq = SIMD16<Float>()
            i = 0
            while i + 16 <= columns {
                let d = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self) - m
                sq += d * d
                i += 16
            }
            var variance = sq.sum()
            while i < columns { variance += (row[i] - mean) * (row[i] - mean); i += 1 }
            variance /= n
            let inv = 1 / (variance + epsilon).squareRoot()
            let iv = SIMD16<Float>(repeating: inv)
            i = 0
            while i + 16 <= columns {
                let y = (UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self) - m) * iv
                    * UnsafeRawPointer(gamma + i).loadUnaligned(as: SIMD16<Float>.self)
                    + UnsafeRawPointer(beta + i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(row + i).storeBytes(of: y, as: SIMD16<Float>.self)
                i += 16
            }
            while i < columns { row[i] = (row[i] - mean) * inv * gamma[i] + beta[i]; i += 1 }
        }
    }

    /// In place: x · ½ · (1 + erf(x / √2)), the exact (erf) GELU that BERT uses.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let invSqrt2 = SIMD8<Float>(repeating: 0.70710678118654752)
        let half = SIMD8<Float>(repeating: 0.5), one = SIMD8<Float>(repeating: 1)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = half * v * (one + erf(v * invSqrt2))
            UnsafeMutableRawPointer(x + i).storeBytes(of: y, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erf(SIMD8<Float>(repeating: v * 0.70710678118654752))[0])
            i += 1
        }
    }

    /// erf as a rational function of x on [−4, 4] (odd degree-13 numerator over an even degree-8
    /// denominator; the approximation Eigen and XLA use for f32), clamped to ±1 outside: a few ulp
    /// from the correctly rounded value (checked against libm's erff in the tests).
    @inline(__always)
    static func erf(_ a: SIMD8<Float>) -> SIMD8<Float> {
        let x = a.clamped(lowerBound: SIMD8(repeating: -4), upperBound: SIMD8(repeating: 4))
        let x2 = x * x
        var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
        p = x2 * p + -2.10102402082508e-06
        p = x2 * p + -5.69250639462346e-05
        p = x2 * p + -7.34990630326855e-04
        p = x2 * p + -2.95459980854025e-03
        p = x2 * p + -1.60960333262415e-02
        p = x * p
        var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
        q = x2 * q + -1.68282697438203e-03
        q = x2 * q + -7.37332916720468e-03
        q = x2 * q + -1.42647390514189e-02
        return p / q
    }
}
