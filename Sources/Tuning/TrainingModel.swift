import Diagnostics
public import LLM
public import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The training forward and backward of a llama stack with LoRA adapters, over one sequence of T
// tokens with no KV cache. The base is frozen and read as f32 (`LlamaModel.denseWeights()`); products with
// the base weights go through `DenseGEMM` (OpenBLAS or the AVX-512 kernels; bf16 when `precision` asks),
// the small LoRA and attention products through BLAS sgemm. The math mirrors InferenceSession's forward
// line for line.
//
// Dimension key: T tokens, C = dim, Q = heads·headDim, K = kvHeads·headDim, F = ffn, V = vocabulary,
// H = heads, r = an adapter's rank, n = rows of logits computed at once.

/// The sum of a sequence's token losses and how many tokens it covers.
public struct LossSum: Sendable, Equatable {
    public var sum: Double
    public var count: Int
    public var mean: Double { count > 0 ? sum / Double(count) : 0 }

    public init(sum: Double = 0, count: Int = 0) {
        self.sum = sum
        self.count = count
    }

    public static func + (a: LossSum, b: LossSum) -> LossSum { LossSum(sum: a.sum + b.sum, count: a.count + b.count) }
}

/// Runs training forward and backward passes. Holds its activations between the two: not shared
/// between threads.
public final class TrainingModel {
    public let model: LlamaModel
    public var config: LlamaConfig { model.config }
    /// Active adapters, in the order their updates are summed. Gradients go into each trainable
    /// adapter's `gradA`/`gradB` (accumulated: zero them between optimizer steps).
    public var adapters: [LoRAAdapter]
    /// Keep only each block's input during the forward and recompute the block's activations in the
    /// backward: about (blocks − 1)/blocks of activation memory saved for one more block forward each.
    /// The results are bit-identical either way.
    public var checkpointing: Bool
    /// Rows of logits held at once: the (T, V) logits are never materialised.
    public var logitRowsPerChunk: Int = 128
    /// Precision of the products with the frozen base weights (and the tied output). `.bf16` packs a
    /// bfloat16 copy of every base weight at the first pass that needs it (4 bytes per weight, both
    /// product orientations) and runs them on AVX512_BF16; without that instruction set it is `.f32`.
    /// LoRA products, attention, norms and the loss stay f32 either way.
    public var precision: GEMMPrecision = .f32
    /// When set, each pass adds its wall time per part of the step (see `TrainingProfile`).
    public var profile: TrainingProfile?

    /// Worker threads of this model's passes (its own: the loaded model is shared).
    public let pool: WorkerPool
    private let weights: [[UnsafeMutablePointer<Float>]]    // [block][target.index] → W (out, in)
    private let embedding: UnsafeMutablePointer<Float>      // (V, C)
    private let outputWeight: UnsafeMutablePointer<Float>   // (V, C), the embedding when tied
    private var work: Workspace?
    private var packed: [[PackedBF16Weight]] = []           // [block][target.index], built on first bf16 use
    private var packedOutput: PackedBF16Weight?

    /// Reads the base as f32 from `model.denseWeights()` (made once per loaded model and shared with
    /// every later training pass); the model itself is not changed. `threads` defaults to the model's.
    public init(model: LlamaModel, adapters: [LoRAAdapter] = [], checkpointing: Bool = false, threads: Int? = nil) throws {
        self.model = model
        self.adapters = adapters
        self.checkpointing = checkpointing
        pool = WorkerPool(threads: threads ?? model.threads)
        let copies = try model.denseWeights()   // kept alive by the model
        weights = model.blocks.map { b in LoRATarget.allCases.map { copies[$0.linear(in: b).slot].pointer } }
        embedding = copies[model.tokenEmbedding.slot].pointer
        outputWeight = copies[model.output.slot].pointer
    }

    /// Bytes of activations the last pass kept (checkpointing trades most of them for recomputation).
    public var activationBytes: Int { work?.bytes ?? 0 }

    /// Whether products run in bf16 (asked for, and the CPU has AVX512_BF16).
    public var usesBF16: Bool { precision == .bf16 && DenseGEMM.bf16Available }

    /// Bytes of the bf16 copies of the base weights (0 until a bf16 pass has built them).
    public var packedBytes: Int { packed.joined().reduce(0) { $0 + $1.bytes } + (packedOutput?.bytes ?? 0) }

    private func preparePacked() {
        guard usesBF16, packed.isEmpty else { return }
        let c = config
        packed = (0..<c.blockCount).map { l in
            LoRATarget.allCases.map { t in
                let (out, inp) = t.shape(c)
                return PackedBF16Weight(weight: weights[l][t.index], outFeatures: out, inFeatures: inp)
            }
        }
        packedOutput = PackedBF16Weight(weight: outputWeight, outFeatures: c.vocabularySize, inFeatures: c.dim)
    }

    private func packedWeight(_ l: Int, _ t: LoRATarget) -> PackedBF16Weight? { usesBF16 ? packed[l][t.index] : nil }

    /// Mean loss over the sequence's scored tokens, without gradients.
    public func loss(_ sequence: TrainingSequence) throws -> LossSum {
        try run(sequence, backward: false, gradientScale: 0, dropoutSeed: nil, inputGradient: nil)
    }

    /// Forward and backward: adds ∂(gradientScale · Σ token losses)/∂θ into every trainable adapter's
    /// gradients, and returns the loss sum. The default scale (1 / scored tokens) makes it the gradient
    /// of the mean loss; a trainer averaging over several sequences passes 1 / (their scored tokens).
    /// `dropoutSeed` turns adapter dropout on (training); the same seed gives the same masks.
    /// `inputGradient` (T, C), when given, receives ∂loss/∂(input embeddings).
    @discardableResult
    public func forwardBackward(
        _ sequence: TrainingSequence, gradientScale: Float? = nil, dropoutSeed: UInt64? = nil,
        inputGradient: UnsafeMutablePointer<Float>? = nil
    ) throws -> LossSum {
        let scale = gradientScale ?? 1 / Float(max(1, sequence.targetCount))
        return try run(sequence, backward: true, gradientScale: scale, dropoutSeed: dropoutSeed, inputGradient: inputGradient)
    }

    // MARK: Whole model

    private func run(
        _ sequence: TrainingSequence, backward: Bool, gradientScale: Float, dropoutSeed: UInt64?,
        inputGradient: UnsafeMutablePointer<Float>?
    ) throws -> LossSum {
        let c = config
        let T = sequence.count
        guard T > 0 else { throw TuningError(.badArgument, "a training sequence needs at least one input token") }
        guard T <= c.contextLength else {
            throw TuningError(.badArgument, "a sequence of \(T) tokens is longer than the model's context of \(c.contextLength)")
        }
        for id in sequence.inputs where id < 0 || id >= c.vocabularySize {
            throw TuningError(.badArgument, "token id \(id) is outside the vocabulary (0..<\(c.vocabularySize))")
        }
        for id in sequence.labels where id >= c.vocabularySize {
            throw TuningError(.badArgument, "label \(id) is outside the vocabulary (0..<\(c.vocabularySize))")
        }
        for a in adapters { try a.validate(against: c) }
        preparePacked()
        // The base products, the logits and attention's heads run on the model's pool; OpenBLAS (LoRA
        // products, attention's per-head products inside pool workers) runs single-threaded meanwhile, so
        // two sets of spinning threads never compete for the cores.
        let blasThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(blasThreads) }
        let stepStart = profile != nil ? TrainingProfile.now() : 0
        defer { if let profile { profile.add(.total, TrainingProfile.now() - stepStart); profile.passes += 1 } }

        let w = workspace(T)
        w.positions = Array(0..<T)
        let x = w.x.pointer

        // x = embed(tokens)                                           x: (T, C)
        for (t, id) in sequence.inputs.enumerated() {
            (x + t * c.dim).update(from: embedding + id * c.dim, count: c.dim)
        }
        // x = x + attention(rmsNorm(x)); x = x + mlp(rmsNorm(x)), per block
        for l in 0..<c.blockCount {
            let acts = checkpointing ? w.scratch! : w.blocks[l]
            if checkpointing { w.checkpoints[l].pointer.update(from: x, count: T * c.dim) }
            blockForward(l, T: T, input: x, acts: acts, output: x, dropoutSeed: dropoutSeed, w: w)
        }
        // logits = output · rmsNorm(x), only at scored positions, n rows at a time
        Ops.rmsNorm(x, weight: model.outputNorm.pointer, eps: c.rmsEps, tokens: T, channels: c.dim, out: w.hN.pointer)
        let loss = timed(.head) { lossAndGradient(sequence, T: T, scale: gradientScale, backward: backward, w: w) }
        guard backward else { return loss }

        // Backward, in reverse order. g: ∂L/∂x, (T, C).
        let g = w.g.pointer
        g.update(repeating: 0, count: T * c.dim)
        // hN = rmsNorm(x, outputNorm)
        Ops.rmsNormBackward(w.dhN.pointer, x: x, weight: model.outputNorm.pointer, eps: c.rmsEps,
                            tokens: T, channels: c.dim, dx: g)
        for l in (0..<c.blockCount).reversed() {
            let acts: BlockActivations
            if checkpointing {
                acts = w.scratch!
                // The last block's activations are still in the scratch from the forward.
                if l != c.blockCount - 1 {
                    blockForward(l, T: T, input: w.checkpoints[l].pointer, acts: acts, output: w.recomputed.pointer,
                                 dropoutSeed: dropoutSeed, w: w)
                }
            } else {
                acts = w.blocks[l]
            }
            blockBackward(l, T: T, acts: acts, w: w)
        }
        inputGradient?.update(from: g, count: T * c.dim)
        return loss
    }

    /// Cross-entropy at the scored positions and, when asked, dhN (T, C) = ∂(scale · Σ losses)/∂hN.
    private func lossAndGradient(_ s: TrainingSequence, T: Int, scale: Float, backward: Bool, w: Workspace) -> LossSum {
        let c = config
        let V = c.vocabularySize, C = c.dim
        let rows = s.labels.indices.filter { s.labels[$0] >= 0 }
        if backward { w.dhN.pointer.update(repeating: 0, count: T * C) }
        var total = LossSum()
        let n = max(1, logitRowsPerChunk)
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(rows.count, start + n)]
            let m = chunk.count
            // hc (m, C) gathered rows of hN
            for (i, t) in chunk.enumerated() { (w.hc.pointer + i * C).update(from: w.hN.pointer + t * C, count: C) }
            // logits (m, V) = hc · Woutᵀ
            timed(.headGEMM) {
                DenseGEMM.forward(w.hc.pointer, weight: outputWeight, packed: packedOutput.flatMap { usesBF16 ? $0 : nil },
                                  pool: pool, tokens: m, inFeatures: C, outFeatures: V, out: w.logits.pointer)
            }
            for (i, t) in chunk.enumerated() {
                total.sum += Ops.softmaxCrossEntropy(w.logits.pointer + i * V, vocabulary: V, label: s.labels[t], gradientScale: scale)
            }
            total.count += m
            if backward {
                // logits = hc · Woutᵀ   →   dhc (m, C) = dlogits · Wout, scattered back to dhN rows
                w.hc.pointer.update(repeating: 0, count: m * C)
                timed(.headGEMM) {
                    DenseGEMM.backwardInput(w.logits.pointer, weight: outputWeight, packed: packedOutput.flatMap { usesBF16 ? $0 : nil },
                                            pool: pool, tokens: m, inFeatures: C, outFeatures: V, dx: w.hc.pointer)
                }
                for (i, t) in chunk.enumerated() { Ops.add(w.dhN.pointer + t * C, w.hc.pointer + i * C, count: C) }
            }
            start += m
        }
        return total
    }

    // MARK: One block

    private func blockForward(
        _ l: Int, T: Int, input: UnsafePointer<Float>, acts a: BlockActivations,
        output: UnsafeMutablePointer<Float>, dropoutSeed: UInt64?, w: Workspace
    ) {
        let c = config
        let block = model.blocks[l]
        let C = c.dim
        a.xIn.pointer.update(from: input, count: T * C)
        // h1 = rmsNorm(xIn)
        Ops.rmsNorm(a.xIn.pointer, weight: block.attnNorm.pointer, eps: c.rmsEps, tokens: T, channels: C, out: a.h1.pointer)
        project(.q, l, a.h1.pointer, T, a.q.pointer, a, dropoutSeed)        // q: (T, Q)
        project(.k, l, a.h1.pointer, T, a.k.pointer, a, dropoutSeed)        // k: (T, K)
        project(.v, l, a.h1.pointer, T, a.v.pointer, a, dropoutSeed)        // v: (T, K)
        w.positions.withUnsafeBufferPointer { pos in
            Ops.rope(a.q.pointer, tokens: T, heads: c.headCount, headDim: c.headDim, stride: c.qDim,
                     positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
            Ops.rope(a.k.pointer, tokens: T, heads: c.kvHeadCount, headDim: c.headDim, stride: c.kvDim,
                     positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
        }
        timed(.attention) {
            Ops.causalAttention(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, tokens: T, heads: c.headCount,
                                kvHeads: c.kvHeadCount, headDim: c.headDim, probs: a.probs.pointer, out: a.att.pointer,
                                pool: pool)
        }
        // x2 = xIn + o(att)
        project(.o, l, a.att.pointer, T, a.x2.pointer, a, dropoutSeed)
        Ops.add(a.x2.pointer, a.xIn.pointer, count: T * C)
        // h2 = rmsNorm(x2); act = silu(gate(h2)) · up(h2)
        Ops.rmsNorm(a.x2.pointer, weight: block.ffnNorm.pointer, eps: c.rmsEps, tokens: T, channels: C, out: a.h2.pointer)
        project(.gate, l, a.h2.pointer, T, a.gate.pointer, a, dropoutSeed)  // gate: (T, F)
        project(.up, l, a.h2.pointer, T, a.up.pointer, a, dropoutSeed)      // up: (T, F)
        Ops.swigluVectorized(gate: a.gate.pointer, up: a.up.pointer, count: T * c.ffnDim, out: a.act.pointer)
        // xOut = x2 + down(act)
        project(.down, l, a.act.pointer, T, output, a, dropoutSeed)
        Ops.add(output, a.x2.pointer, count: T * C)
    }

    /// g (T, C) holds ∂L/∂xOut on entry and ∂L/∂xIn on return.
    private func blockBackward(_ l: Int, T: Int, acts a: BlockActivations, w: Workspace) {
        let c = config
        let block = model.blocks[l]
        let C = c.dim, F = c.ffnDim
        let g = w.g.pointer, g2 = w.g2.pointer, dh = w.dh.pointer
        // xOut = x2 + down(act)   →   dx2 = g;  dact = g · (W_down + lora)
        g2.update(from: g, count: T * C)
        w.dAct.pointer.update(repeating: 0, count: T * F)
        projectBackward(.down, l, a.act.pointer, T, dy: g, dx: w.dAct.pointer, a)
        // act = silu(gate) · up
        w.dGate.pointer.update(repeating: 0, count: T * F)
        w.dUp.pointer.update(repeating: 0, count: T * F)
        Ops.swigluBackwardVectorized(w.dAct.pointer, gate: a.gate.pointer, up: a.up.pointer, count: T * F,
                           dgate: w.dGate.pointer, dup: w.dUp.pointer)
        // gate = gate(h2), up = up(h2)
        dh.update(repeating: 0, count: T * C)
        projectBackward(.gate, l, a.h2.pointer, T, dy: w.dGate.pointer, dx: dh, a)
        projectBackward(.up, l, a.h2.pointer, T, dy: w.dUp.pointer, dx: dh, a)
        // h2 = rmsNorm(x2)
        Ops.rmsNormBackward(dh, x: a.x2.pointer, weight: block.ffnNorm.pointer, eps: c.rmsEps, tokens: T, channels: C, dx: g2)
        // x2 = xIn + o(att)   →   dxIn = dx2;  datt = dx2 · (W_o + lora)
        g.update(from: g2, count: T * C)
        w.dAtt.pointer.update(repeating: 0, count: T * c.qDim)
        projectBackward(.o, l, a.att.pointer, T, dy: g2, dx: w.dAtt.pointer, a)
        // att = causalAttention(q, k, v)
        w.dq.pointer.update(repeating: 0, count: T * c.qDim)
        w.dk.pointer.update(repeating: 0, count: T * c.kvDim)
        w.dv.pointer.update(repeating: 0, count: T * c.kvDim)
        timed(.attention) {
            Ops.causalAttentionBackward(w.dAtt.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, probs: a.probs.pointer,
                                        tokens: T, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                                        dq: w.dq.pointer, dk: w.dk.pointer, dv: w.dv.pointer, scratch: w.dp.pointer,
                                        pool: pool)
        }
        // q = rope(q), k = rope(k)
        w.positions.withUnsafeBufferPointer { pos in
            Ops.ropeBackward(w.dq.pointer, tokens: T, heads: c.headCount, headDim: c.headDim, stride: c.qDim,
                             positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
            Ops.ropeBackward(w.dk.pointer, tokens: T, heads: c.kvHeadCount, headDim: c.headDim, stride: c.kvDim,
                             positions: pos.baseAddress!, base: c.ropeBase, ropeDim: c.ropeDim, table: model.rope)
        }
        // q, k, v = projections of h1
        dh.update(repeating: 0, count: T * C)
        projectBackward(.q, l, a.h1.pointer, T, dy: w.dq.pointer, dx: dh, a)
        projectBackward(.k, l, a.h1.pointer, T, dy: w.dk.pointer, dx: dh, a)
        projectBackward(.v, l, a.h1.pointer, T, dy: w.dv.pointer, dx: dh, a)
        // h1 = rmsNorm(xIn)
        Ops.rmsNormBackward(dh, x: a.xIn.pointer, weight: block.attnNorm.pointer, eps: c.rmsEps, tokens: T, channels: C, dx: g)
    }

    // MARK: Adapted linear maps

    /// y (T, out) = x (T, in) · Wᵀ + Σ_a s_a · (drop(x) · A_aᵀ) · B_aᵀ;  u_a = drop(x) · A_aᵀ (T, r) is kept.
    private func project(
        _ target: LoRATarget, _ l: Int, _ x: UnsafePointer<Float>, _ T: Int, _ y: UnsafeMutablePointer<Float>,
        _ acts: BlockActivations, _ dropoutSeed: UInt64?
    ) {
        let (out, inp) = target.shape(config)
        timed(.baseForward) {
            DenseGEMM.forward(x, weight: weights[l][target.index], packed: packedWeight(l, target), pool: pool,
                              tokens: T, inFeatures: inp, outFeatures: out, out: y)
        }
        let loraStart = profile != nil ? TrainingProfile.now() : 0
        defer { if let profile { profile.add(.lora, TrainingProfile.now() - loraStart) } }
        for (ai, adapter) in adapters.enumerated() {
            guard let m = adapter.module(block: l, target: target) else { continue }
            let saved = acts.lora(adapter: ai, target: target, T: T, rank: m.rank, inFeatures: inp,
                                  dropout: dropoutSeed != nil && adapter.config.dropout > 0)
            var input = x
            if let mask = saved.mask, let dropped = saved.dropped, let seed = dropoutSeed {
                fillDropoutMask(mask.pointer, count: T * inp, p: adapter.config.dropout,
                                seed: seed, adapter: ai, block: l, target: target)
                for i in 0..<(T * inp) { dropped[i] = x[i] * mask[i] }
                input = UnsafePointer(dropped.pointer)
            }
            // u (T, r) = drop(x) · Aᵀ;  y += s · u · Bᵀ
            Ops.linear(input, weight: m.a.pointer, tokens: T, inFeatures: inp, outFeatures: m.rank, out: saved.u.pointer)
            BLAS.sgemm(transB: true, m: T, n: out, k: m.rank, alpha: adapter.scale, a: saved.u.pointer, lda: m.rank,
                       b: m.b.pointer, ldb: m.rank, beta: 1, c: y, ldc: out)
        }
    }

    /// Backward of `project`: dx (T, in) += dy · (W + Σ s·B·A) (through the dropout masks);
    /// gradB += s · dyᵀ · u;  gradA += (s · dy · B)ᵀ · drop(x), for the adapters that train them.
    private func projectBackward(
        _ target: LoRATarget, _ l: Int, _ x: UnsafePointer<Float>, _ T: Int,
        dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, _ acts: BlockActivations
    ) {
        let (out, inp) = target.shape(config)
        timed(.baseBackward) {
            DenseGEMM.backwardInput(dy, weight: weights[l][target.index], packed: packedWeight(l, target), pool: pool,
                                    tokens: T, inFeatures: inp, outFeatures: out, dx: dx)
        }
        let loraStart = profile != nil ? TrainingProfile.now() : 0
        defer { if let profile { profile.add(.lora, TrainingProfile.now() - loraStart) } }
        for (ai, adapter) in adapters.enumerated() {
            guard let m = adapter.module(block: l, target: target), let saved = acts.saved(adapter: ai, target: target) else { continue }
            let r = m.rank, s = adapter.scale
            let w = work!
            let du = w.du.pointer
            // y += s · u · Bᵀ   →   gradB (out, r) += s · dyᵀ · u;  du (T, r) = s · dy · B
            if adapter.training != .frozen {
                BLAS.sgemm(transA: true, m: out, n: r, k: T, alpha: s, a: dy, lda: out, b: saved.u.pointer, ldb: r,
                           beta: 1, c: m.gradB.pointer, ldc: r)
            }
            BLAS.sgemm(m: T, n: r, k: out, alpha: s, a: dy, lda: out, b: m.b.pointer, ldb: r, c: du, ldc: r)
            // u = drop(x) · Aᵀ   →   gradA (r, in) += duᵀ · drop(x);  dx += (du · A) ⊙ mask
            if adapter.training == .full {
                let input = saved.dropped.map { UnsafePointer($0.pointer) } ?? x
                BLAS.sgemm(transA: true, m: r, n: inp, k: T, a: du, lda: r, b: input, ldb: inp, beta: 1,
                           c: m.gradA.pointer, ldc: inp)
            }
            if let mask = saved.mask {
                let tmp = w.dropTmp.pointer
                BLAS.sgemm(m: T, n: inp, k: r, a: du, lda: r, b: m.a.pointer, ldb: inp, c: tmp, ldc: inp)
                for i in 0..<(T * inp) { dx[i] += tmp[i] * mask[i] }
            } else {
                BLAS.sgemm(m: T, n: inp, k: r, a: du, lda: r, b: m.a.pointer, ldb: inp, beta: 1, c: dx, ldc: inp)
            }
        }
    }

    /// Inverted dropout: mask = 0 with probability p, else 1/(1 − p); one xoshiro stream per
    /// (seed, adapter, block, target), so a recomputed block draws the same mask.
    private func fillDropoutMask(
        _ mask: UnsafeMutablePointer<Float>, count: Int, p: Float, seed: UInt64, adapter: Int, block: Int, target: LoRATarget
    ) {
        var rng = Xoshiro256(seed: seed ^ (UInt64(adapter) << 40 | UInt64(block) << 8 | UInt64(target.index)) &* 0xD1B5_4A32_D192_ED03)
        let keep = 1 / (1 - p)
        for i in 0..<count { mask[i] = Float(rng.nextDouble()) < p ? 0 : keep }
    }

    @inline(__always)
    private func timed<R>(_ part: TrainingProfile.Part, _ body: () -> R) -> R {
        guard let profile else { return body() }
        let t0 = TrainingProfile.now()
        let r = body()
        profile.add(part, TrainingProfile.now() - t0)
        return r
    }

    // MARK: Buffers

    private func workspace(_ T: Int) -> Workspace {
        if let w = work, w.capacity >= T, w.checkpointing == checkpointing, w.blockCount == config.blockCount,
           w.maxRank >= maxRank, w.logitRows >= max(1, logitRowsPerChunk) {
            return w
        }
        let w = Workspace(config: config, capacity: T, checkpointing: checkpointing, logitRows: max(1, logitRowsPerChunk), maxRank: maxRank,
                          threads: pool.threads)
        work = w
        return w
    }

    private var maxRank: Int { adapters.map(\.config.rank).max() ?? 1 }
}

/// What one block's forward keeps for its backward.
final class BlockActivations {
    let xIn, h1, q, k, v, probs, att, x2, h2, gate, up, act: FloatBuffer

    final class LoRASaved {
        let u: FloatBuffer              // (T, r)
        let mask: FloatBuffer?          // (T, in) dropout mask, when dropout is on
        let dropped: FloatBuffer?       // (T, in) drop(x)
        init(count: Int, inCount: Int, dropout: Bool) {
            u = FloatBuffer(count: count)
            mask = dropout ? FloatBuffer(count: inCount) : nil
            dropped = dropout ? FloatBuffer(count: inCount) : nil
        }
    }
    /// [adapter index · 7 + target index]
    private var loraSaved: [Int: LoRASaved] = [:]

    init(_ c: LlamaConfig, T: Int) {
        xIn = FloatBuffer(count: T * c.dim); h1 = FloatBuffer(count: T * c.dim)
        q = FloatBuffer(count: T * c.qDim); k = FloatBuffer(count: T * c.kvDim); v = FloatBuffer(count: T * c.kvDim)
        probs = FloatBuffer(count: c.headCount * T * T); att = FloatBuffer(count: T * c.qDim)
        x2 = FloatBuffer(count: T * c.dim); h2 = FloatBuffer(count: T * c.dim)
        gate = FloatBuffer(count: T * c.ffnDim); up = FloatBuffer(count: T * c.ffnDim); act = FloatBuffer(count: T * c.ffnDim)
    }

    /// The saved buffers of one adapted map, (re)allocated to fit.
    func lora(adapter: Int, target: LoRATarget, T: Int, rank: Int, inFeatures: Int, dropout: Bool) -> LoRASaved {
        let key = adapter * 7 + target.index
        if let s = loraSaved[key], s.u.count >= T * rank, (s.mask != nil) == dropout,
           (s.mask?.count ?? Int.max) >= T * inFeatures {
            return s
        }
        let s = LoRASaved(count: T * rank, inCount: T * inFeatures, dropout: dropout)
        loraSaved[key] = s
        return s
    }

    func saved(adapter: Int, target: LoRATarget) -> LoRASaved? { loraSaved[adapter * 7 + target.index] }

    var bytes: Int {
        let base = [xIn, h1, q, k, v, probs, att, x2, h2, gate, up, act].reduce(0) { $0 + $1.count }
        let lora = loraSaved.values.reduce(0) { $0 + $1.u.count + ($1.mask?.count ?? 0) * 2 }
        return (base + lora) * 4
    }
}

/// Buffers of one pass, sized for sequences of up to `capacity` tokens.
final class Workspace {
    let capacity: Int
    let checkpointing: Bool
    let blockCount: Int
    let maxRank: Int
    let logitRows: Int
    var positions: [Int] = []
    let x, hN, dhN, hc, logits, g, g2, dh, dAct, dGate, dUp, dAtt, dq, dk, dv, dp, du, dropTmp, recomputed: FloatBuffer
    /// Every block's activations, or (checkpointing) one scratch plus each block's input.
    let blocks: [BlockActivations]
    let scratch: BlockActivations?
    let checkpoints: [FloatBuffer]

    init(config c: LlamaConfig, capacity T: Int, checkpointing: Bool, logitRows n: Int, maxRank: Int, threads: Int) {
        self.capacity = T
        self.checkpointing = checkpointing
        self.blockCount = c.blockCount
        self.maxRank = maxRank
        self.logitRows = n
        x = FloatBuffer(count: T * c.dim); hN = FloatBuffer(count: T * c.dim); dhN = FloatBuffer(count: T * c.dim)
        hc = FloatBuffer(count: n * c.dim); logits = FloatBuffer(count: n * c.vocabularySize)
        g = FloatBuffer(count: T * c.dim); g2 = FloatBuffer(count: T * c.dim); dh = FloatBuffer(count: T * c.dim)
        dAct = FloatBuffer(count: T * c.ffnDim); dGate = FloatBuffer(count: T * c.ffnDim); dUp = FloatBuffer(count: T * c.ffnDim)
        dAtt = FloatBuffer(count: T * c.qDim); dq = FloatBuffer(count: T * c.qDim)
        dk = FloatBuffer(count: T * c.kvDim); dv = FloatBuffer(count: T * c.kvDim)
        dp = FloatBuffer(count: max(1, threads) * (T * T + 2 * T * c.kvDim)); du = FloatBuffer(count: T * maxRank)
        dropTmp = FloatBuffer(count: T * max(c.dim, c.ffnDim, c.qDim))
        recomputed = FloatBuffer(count: T * c.dim)
        if checkpointing {
            blocks = []
            scratch = BlockActivations(c, T: T)
            checkpoints = (0..<c.blockCount).map { _ in FloatBuffer(count: T * c.dim) }
        } else {
            blocks = (0..<c.blockCount).map { _ in BlockActivations(c, T: T) }
            scratch = nil
            checkpoints = []
        }
    }

    var bytes: Int {
        (blocks.reduce(0) { $0 + $1.bytes } + (scratch?.bytes ?? 0)) + checkpoints.reduce(0) { $0 + $1.count * 4 }
    }
}

/// Wall time per part of training passes, summed over the passes run while it is attached
/// (`TrainingModel.profile`). Parts nest: `head` includes `headGEMM`; `total` is whole passes; what the
/// named parts leave of `total` is norms, RoPE, SwiGLU, residual adds and buffer copies.
public final class TrainingProfile {
    public enum Part: Int, CaseIterable, Sendable {
        case baseForward, baseBackward, lora, attention, headGEMM, head, total

        public var label: String {
            switch self {
            case .baseForward: "base GEMMs, forward (x·Wᵀ)"
            case .baseBackward: "base GEMMs, backward (dy·W)"
            case .lora: "LoRA products and dropout"
            case .attention: "attention (QKᵀ, softmax, PV; forward + backward)"
            case .headGEMM: "output layer GEMMs (logits, dlogits·W)"
            case .head: "output layer + softmax cross-entropy"
            case .total: "whole passes"
            }
        }
    }

    public private(set) var seconds = [Double](repeating: 0, count: Part.allCases.count)
    public var passes = 0

    public init() {}

    public subscript(part: Part) -> Double { seconds[part.rawValue] }

    func add(_ part: Part, _ ns: UInt64) { seconds[part.rawValue] += Double(ns) * 1e-9 }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
