import Diagnostics
import QuantFormat
public import Tensor

// Dimension key: T tokens in this call, P tokens already in the cache, L = P + T, C = dim,
// Q = heads·headDim, K = kvHeads·headDim, F = ffn, V = vocabulary.

/// One conversation's state over a shared, immutable model: the KV cache, scratch buffers, the
/// adapters its keys and values were computed with, and its own worker threads. Not shared between
/// threads; several sessions run on one model at once.
public final class InferenceSession {
    public let model: LlamaModel
    /// The adapters every forward pass applies. Fixed from one `reset` to the next: the KV cache holds
    /// keys and values computed with them.
    public private(set) var adapters: AdapterStack
    /// This session's worker threads for the quantized products.
    public let pool: WorkerPool
    public var threads: Int { pool.threads }
    /// Positions the KV cache can hold.
    public let capacity: Int
    /// Tokens already in the cache.
    public private(set) var position = 0
    /// Largest number of tokens one forward call processes at once; longer inputs go in chunks.
    public let chunkSize: Int

    private let keys: [FloatBuffer]     // per block (capacity, K)
    private let values: [FloatBuffer]   // per block (capacity, K)
    private let x: FloatBuffer, h: FloatBuffer, q: FloatBuffer, k: FloatBuffer, v: FloatBuffer
    private let attn: FloatBuffer, proj: FloatBuffer, gate: FloatBuffer, up: FloatBuffer
    private var scores: FloatBuffer
    private var lowRank = FloatBuffer(count: 1)
    /// Grows to the rows a call asks for: one for generation, T when all logits are wanted.
    private var logitsBuffer = FloatBuffer(count: 1)
    private var positions: [Int]

    /// `threads` defaults to the model's; `adapters` must have been built for this model.
    public init(model: LlamaModel, adapters: AdapterStack = .none, capacity: Int? = nil, chunkSize: Int = 256,
                threads: Int? = nil) {
        let c = model.config
        self.model = model
        self.adapters = adapters
        pool = WorkerPool(threads: threads ?? model.threads)
        let cap = min(capacity ?? c.contextLength, c.contextLength)
        self.capacity = cap
        self.chunkSize = max(1, chunkSize)
        keys = (0..<c.blockCount).map { _ in FloatBuffer(count: cap * c.kvDim) }
        values = (0..<c.blockCount).map { _ in FloatBuffer(count: cap * c.kvDim) }
        let n = self.chunkSize
        x = FloatBuffer(count: n * c.dim); h = FloatBuffer(count: n * c.dim)
        q = FloatBuffer(count: n * c.qDim); k = FloatBuffer(count: n * c.kvDim); v = FloatBuffer(count: n * c.kvDim)
        attn = FloatBuffer(count: n * c.qDim); proj = FloatBuffer(count: n * c.dim)
        gate = FloatBuffer(count: n * c.ffnDim); up = FloatBuffer(count: n * c.ffnDim)
        scores = FloatBuffer(count: 1)
        positions = []
    }

    /// Forgets the conversation: the next call starts at position 0.
    public func reset() { position = 0 }

    /// Forgets the conversation and runs the next one with `adapters`.
    public func reset(adapters: AdapterStack) {
        position = 0
        self.adapters = adapters
        validated = false
    }

    private var validated = false

    /// Drops cached positions past `newPosition` (to reuse a common prefix).
    public func rewind(to newPosition: Int) {
        position = max(0, min(position, newPosition))
    }

    /// Runs `tokens` through the model, appending them to the cache, and returns the logits of the
    /// last token (V values).
    @discardableResult
    public func forward(_ tokens: [Int]) throws -> [Float] {
        try forward(tokens, allLogits: false)
    }

    /// As `forward`, returning the logits of every token (T × V values, row-major) when `allLogits`.
    public func forward(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        guard !tokens.isEmpty else { throw LLMError(.badArgument, "forward needs at least one token") }
        guard position + tokens.count <= capacity else {
            throw LLMError(.contextFull,
                "the context holds \(capacity) tokens; \(position) are used and \(tokens.count) more do not fit")
        }
        let vocab = model.config.vocabularySize
        for id in tokens where id < 0 || id >= vocab {
            throw LLMError(.badArgument, "token id \(id) is outside the vocabulary (0..<\(vocab))")
        }
        if !validated {
            try adapters.validate(for: model)
            validated = true
        }
        var result: [Float] = []
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + chunkSize)
            let chunk = Array(tokens[start..<end])
            let wantAll = allLogits
            let isLast = end == tokens.count
            if wantAll || isLast {
                try run(chunk, logits: wantAll ? .all : .last)
                let rows = wantAll ? chunk.count : 1
                result += Array(UnsafeBufferPointer(start: logitsBuffer.pointer, count: rows * vocab))
            } else {
                try run(chunk, logits: .none)
            }
            start = end
        }
        return result
    }

    private enum LogitsWanted { case none, last, all }

    private func run(_ tokens: [Int], logits: LogitsWanted) throws {
        let c = model.config
        let T = tokens.count
        let P = position
        let L = P + T
        positions = (0..<T).map { P + $0 }

        // x = embed(tokens)                                       x: (T, C)
        for (t, id) in tokens.enumerated() {
            try model.tokenEmbedding.row(id, into: x.pointer + t * c.dim)
        }

        for (layer, block) in model.blocks.enumerated() {
            // x = x + attention(rmsNorm(x))
            Ops.rmsNorm(x.pointer, weight: block.attnNorm.pointer, eps: c.rmsEps, tokens: T, channels: c.dim, out: h.pointer)
            // q: (T, Q), k: (T, K), v: (T, K)
            try project(block.q, q.pointer, block.k, k.pointer, block.v, v.pointer, from: h.pointer, T)
            try positions.withUnsafeBufferPointer { pos in
                Ops.rope(q.pointer, tokens: T, heads: c.headCount, headDim: c.headDim, stride: c.qDim,
                         positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
                Ops.rope(k.pointer, tokens: T, heads: c.kvHeadCount, headDim: c.headDim, stride: c.kvDim,
                         positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
            }
            let kc = keys[layer].pointer, vc = values[layer].pointer
            (kc + P * c.kvDim).update(from: k.pointer, count: T * c.kvDim)
            (vc + P * c.kvDim).update(from: v.pointer, count: T * c.kvDim)
            attention(kc: kc, vc: vc, T: T, P: P, L: L)        // attn: (T, Q)
            try project(block.o, attn.pointer, T, proj.pointer) // proj: (T, C)
            Ops.add(x.pointer, proj.pointer, count: T * c.dim)

            // x = x + down(silu(gate(h)) · up(h)),  h = rmsNorm(x)
            Ops.rmsNorm(x.pointer, weight: block.ffnNorm.pointer, eps: c.rmsEps, tokens: T, channels: c.dim, out: h.pointer)
            try project(block.gate, gate.pointer, block.up, up.pointer, from: h.pointer, T) // gate, up: (T, F)
            Ops.swiglu(gate: gate.pointer, up: up.pointer, count: T * c.ffnDim, out: gate.pointer)
            try project(block.down, gate.pointer, T, proj.pointer)
            Ops.add(x.pointer, proj.pointer, count: T * c.dim)
        }
        position = L

        switch logits {
        case .none:
            break
        case .last:
            Ops.rmsNorm(x.pointer + (T - 1) * c.dim, weight: model.outputNorm.pointer, eps: c.rmsEps,
                        tokens: 1, channels: c.dim, out: h.pointer)
            reserveLogits(rows: 1)
            try project(model.output, h.pointer, 1, logitsBuffer.pointer)
        case .all:
            Ops.rmsNorm(x.pointer, weight: model.outputNorm.pointer, eps: c.rmsEps, tokens: T, channels: c.dim, out: h.pointer)
            reserveLogits(rows: T)
            try project(model.output, h.pointer, T, logitsBuffer.pointer)
        }
    }

    private func reserveLogits(rows: Int) {
        let needed = rows * model.config.vocabularySize
        if logitsBuffer.count < needed { logitsBuffer = FloatBuffer(count: needed, zeroed: false) }
    }

    /// Causal grouped-query attention of the T new queries over all L cached keys.
    ///   q: (T, Q), kc/vc: (L, K) → attn: (T, Q); query head hd reads kv head hd / groupSize.
    private func attention(kc: UnsafeMutablePointer<Float>, vc: UnsafeMutablePointer<Float>, T: Int, P: Int, L: Int) {
        let c = model.config
        let scale = 1 / Float(c.headDim).squareRoot()
        let hd = c.headDim
        if scores.count < T * L { scores = FloatBuffer(count: max(T * L, 2 * scores.count)) }
        let s = scores.pointer
        for head in 0..<c.headCount {
            let kvHead = head / c.groupSize
            let qh = q.pointer + head * hd
            let kh = kc + kvHead * hd
            let vh = vc + kvHead * hd
            let out = attn.pointer + head * hd
            if T == 1 {
                for j in 0..<L { s[j] = Ops.dot(qh, kh + j * c.kvDim, count: hd) * scale }
                Ops.softmaxRows(s, rows: 1, columns: L, ld: L) { _ in L }
                out.update(repeating: 0, count: hd)
                for j in 0..<L { Ops.axpy(s[j], vh + j * c.kvDim, out, count: hd) }
            } else {
                // s (T, L) = scale · q_h (T, hd) · k_hᵀ (hd, L); row t sees positions ≤ P + t
                BLAS.sgemm(transB: true, m: T, n: L, k: hd, alpha: scale, a: qh, lda: c.qDim,
                           b: kh, ldb: c.kvDim, c: s, ldc: L)
                Ops.softmaxRows(s, rows: T, columns: L, ld: L) { t in P + t + 1 }
                // out (T, hd) = s (T, L) · v_h (L, hd)
                BLAS.sgemm(m: T, n: hd, k: L, a: s, lda: L, b: vh, ldb: c.kvDim, c: out, ldc: c.qDim)
            }
        }
    }

    /// y (T, out) = x (T, in) · Wᵀ by the model's numeric path, plus the linear's adapters.
    private func project(_ w: Linear, _ x: UnsafePointer<Float>, _ T: Int, _ y: UnsafeMutablePointer<Float>) throws {
        try baseProduct(w, x, T, y)
        applyUpdates(w, x, T, y)
    }

    /// y (T, out) += Σ_a scale_a · (x (T, in) · A_aᵀ) · B_aᵀ        A: (r, in), B: (out, r)
    private func applyUpdates(_ w: Linear, _ x: UnsafePointer<Float>, _ T: Int, _ y: UnsafeMutablePointer<Float>) {
        guard !adapters.isEmpty else { return }
        for u in adapters.updates(for: w) {
            if lowRank.count < T * u.rank { lowRank = FloatBuffer(count: T * u.rank * 2) }
            BLAS.sgemm(transB: true, m: T, n: u.rank, k: w.inFeatures, a: x, lda: w.inFeatures,
                       b: u.a.pointer, ldb: w.inFeatures, c: lowRank.pointer, ldc: u.rank)
            BLAS.sgemm(transB: true, m: T, n: w.outFeatures, k: u.rank, alpha: u.scale, a: lowRank.pointer, lda: u.rank,
                       b: u.b.pointer, ldb: u.rank, beta: 1, c: y, ldc: w.outFeatures)
        }
    }

    private func baseProduct(_ w: Linear, _ x: UnsafePointer<Float>, _ T: Int, _ y: UnsafeMutablePointer<Float>) throws {
        if let dense = w.dense {
            BLAS.sgemm(transB: true, m: T, n: w.outFeatures, k: w.inFeatures, a: x, lda: w.inFeatures,
                       b: dense.pointer, ldb: w.inFeatures, c: y, ldc: w.outFeatures)
        } else {
            try QuantizedMatmul.run(
                pool: pool, wtype: w.type.rawValue, w: w.raw, rows: w.outFeatures, cols: w.inFeatures,
                x: x, tokens: T, y: y, activations: model.numericPath.activations)
        }
    }

    private func descriptor(_ w: Linear, _ x: UnsafePointer<Float>, _ T: Int, _ y: UnsafeMutablePointer<Float>)
        -> QuantizedMatmul.Descriptor {
        QuantizedMatmul.Descriptor(wtype: w.type.rawValue, w: w.raw, rows: w.outFeatures, cols: w.inFeatures,
                                   x: x, tokens: T, y: y, activations: model.numericPath.activations)
    }

    /// Two products of the same x (gate and up): one pool dispatch on the fast paths.
    private func project(_ w1: Linear, _ y1: UnsafeMutablePointer<Float>, _ w2: Linear, _ y2: UnsafeMutablePointer<Float>,
                         from x: UnsafePointer<Float>, _ T: Int) throws {
        if w1.dense != nil || w2.dense != nil {
            try project(w1, x, T, y1)
            try project(w2, x, T, y2)
        } else {
            try QuantizedMatmul.runBatch(pool: pool, descriptor(w1, x, T, y1), descriptor(w2, x, T, y2))
            applyUpdates(w1, x, T, y1)
            applyUpdates(w2, x, T, y2)
        }
    }

    /// Three products of the same x (q, k, v): one pool dispatch on the fast paths.
    private func project(_ w1: Linear, _ y1: UnsafeMutablePointer<Float>, _ w2: Linear, _ y2: UnsafeMutablePointer<Float>,
                         _ w3: Linear, _ y3: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>, _ T: Int) throws {
        if w1.dense != nil || w2.dense != nil || w3.dense != nil {
            try project(w1, x, T, y1)
            try project(w2, x, T, y2)
            try project(w3, x, T, y3)
        } else {
            try QuantizedMatmul.runBatch(pool: pool, descriptor(w1, x, T, y1), descriptor(w2, x, T, y2),
                                         descriptor(w3, x, T, y3))
            applyUpdates(w1, x, T, y1)
            applyUpdates(w2, x, T, y2)
            applyUpdates(w3, x, T, y3)
        }
    }
}
