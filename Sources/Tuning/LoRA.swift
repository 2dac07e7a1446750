public import Diagnostics
import Foundation
public import LLM
public import Tensor

// LoRA (Hu et al., arXiv 2106.09685) on the linear maps of a llama block. With several adapters
// active at once every adapted map computes
//
//     y = W·x + Σ_a s_a · B_a (A_a x),   s_a = alpha_a / rank_a,   A_a: (r, in), B_a: (out, r)
//
// B starts at zero, so a fresh adapter changes nothing. The base W is frozen. An FFA-LoRA adapter
// (Sun et al., arXiv 2403.12313; the federation's shared adapter) keeps A frozen at values generated
// from a published seed and trains B only, so averaging B across clients averages the weight updates.

/// A linear map of a llama block that can carry an adapter, in the order used everywhere here.
public enum LoRATarget: String, CaseIterable, Sendable, Codable, Comparable {
    case q, k, v, o, gate, up, down

    /// Position in q, k, v, o, gate, up, down (part of the seeded generator's stream numbering).
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: LoRATarget, b: LoRATarget) -> Bool { a.index < b.index }

    /// The Hugging Face module name (`target_modules` of PEFT).
    public var peftModule: String {
        switch self {
        case .q: "q_proj"
        case .k: "k_proj"
        case .v: "v_proj"
        case .o: "o_proj"
        case .gate: "gate_proj"
        case .up: "up_proj"
        case .down: "down_proj"
        }
    }

    /// The module path inside a Hugging Face llama decoder layer.
    public var peftPath: String {
        switch self {
        case .q, .k, .v, .o: "self_attn." + peftModule
        case .gate, .up, .down: "mlp." + peftModule
        }
    }

    /// "all", or a comma-separated list such as "q,v" (as the commands take it).
    public static func list(_ text: String) throws(TuningError) -> [LoRATarget] {
        if text == "all" { return allCases }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let targets = names.compactMap(LoRATarget.init(rawValue:))
        guard !targets.isEmpty, targets.count == names.count else {
            throw TuningError(.badArgument, "unknown LoRA targets \"\(text)\": give a comma-separated list of q,k,v,o,gate,up,down, or all")
        }
        return targets
    }

    public init?(peftModule: String) {
        guard let t = Self.allCases.first(where: { $0.peftModule == peftModule || $0.rawValue == peftModule }) else {
            return nil
        }
        self = t
    }

    /// (out, in) of the base weight this target adapts.
    public func shape(_ c: LlamaConfig) -> (out: Int, in: Int) {
        switch self {
        case .q: (c.qDim, c.dim)
        case .k, .v: (c.kvDim, c.dim)
        case .o: (c.dim, c.qDim)
        case .gate, .up: (c.ffnDim, c.dim)
        case .down: (c.dim, c.ffnDim)
        }
    }

    /// The base weight of this target in a block.
    public func linear(in block: LlamaModel.Block) -> Linear {
        switch self {
        case .q: block.q
        case .k: block.k
        case .v: block.v
        case .o: block.o
        case .gate: block.gate
        case .up: block.up
        case .down: block.down
        }
    }
}

/// Hyper-parameters of one adapter (PEFT's LoraConfig fields of the same meaning).
public struct LoRAConfig: Sendable, Equatable {
    public var rank: Int                // r = 8
    public var alpha: Float             // lora_alpha = 16; the update is scaled by alpha / rank
    public var dropout: Float           // lora_dropout = 0: dropout on the adapter's input x, training only
    public var targets: [LoRATarget]    // target_modules, kept sorted and unique

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, targets: [LoRATarget] = [.q, .v]) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = Array(Set(targets)).sorted()
    }

    public var scale: Float { alpha / Float(rank) }

    public func validate() throws(TuningError) {
        guard rank > 0, rank <= 4096 else { throw TuningError(.badArgument, "LoRA rank \(rank) must be between 1 and 4096") }
        guard alpha.isFinite, alpha > 0 else { throw TuningError(.badArgument, "LoRA alpha \(alpha) must be positive") }
        guard dropout >= 0, dropout < 1 else { throw TuningError(.badArgument, "LoRA dropout \(dropout) must be in [0, 1)") }
        guard !targets.isEmpty else { throw TuningError(.badArgument, "a LoRA adapter needs at least one target of q,k,v,o,gate,up,down") }
    }
}

/// What an optimizer may change in an adapter.
public enum LoRATraining: String, Sendable, Equatable {
    /// A and B train (an ordinary LoRA: the personal adapter).
    case full
    /// A is frozen, B trains (FFA-LoRA: the shared adapter).
    case bOnly
    /// Nothing trains; the adapter only takes part in the forward.
    case frozen
}

/// The A and B of one adapted map in one block, with their gradients beside them.
public final class LoRAModule: @unchecked Sendable {
    public let block: Int
    public let target: LoRATarget
    public let rank: Int
    public let inFeatures: Int
    public let outFeatures: Int
    public let a: FloatBuffer        // lora_A (r, in)
    public let b: FloatBuffer        // lora_B (out, r)
    public let gradA: FloatBuffer    // (r, in)
    public let gradB: FloatBuffer    // (out, r)

    init(block: Int, target: LoRATarget, rank: Int, inFeatures: Int, outFeatures: Int) {
        self.block = block
        self.target = target
        self.rank = rank
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        a = FloatBuffer(count: rank * inFeatures)
        b = FloatBuffer(count: outFeatures * rank)
        gradA = FloatBuffer(count: rank * inFeatures)
        gradB = FloatBuffer(count: outFeatures * rank)
    }
}

/// One LoRA adapter over every block of a model: a module per (block, target).
public final class LoRAAdapter: @unchecked Sendable {
    public let config: LoRAConfig
    public let blockCount: Int
    public var training: LoRATraining
    /// Block-major, targets in `config.targets` order.
    public let modules: [LoRAModule]

    /// A fresh adapter: B = 0; A from the seeded generator (see `fillA`), which is PEFT's
    /// Kaiming-uniform(a = √5) distribution U(−1/√in, 1/√in). For an FFA-LoRA shared adapter pass the
    /// coordinator's published seed and `training: .bOnly`: every party then holds the same A.
    public init(config: LoRAConfig, model: LlamaConfig, seed: UInt64, training: LoRATraining = .full) throws(TuningError) {
        try config.validate()
        self.config = config
        self.blockCount = model.blockCount
        self.training = training
        modules = (0..<model.blockCount).flatMap { block in
            config.targets.map { t in
                let (out, inp) = t.shape(model)
                return LoRAModule(block: block, target: t, rank: config.rank, inFeatures: inp, outFeatures: out)
            }
        }
        for m in modules { Self.fillA(m.a, rank: config.rank, inFeatures: m.inFeatures, seed: seed, block: m.block, target: m.target) }
    }

    /// An adapter with A = 0 and B = 0, for loading from a file.
    init(config: LoRAConfig, model: LlamaConfig, training: LoRATraining) throws(TuningError) {
        try config.validate()
        self.config = config
        self.blockCount = model.blockCount
        self.training = training
        modules = (0..<model.blockCount).flatMap { block in
            config.targets.map { t in
                let (out, inp) = t.shape(model)
                return LoRAModule(block: block, target: t, rank: config.rank, inFeatures: inp, outFeatures: out)
            }
        }
    }

    /// The seeded generator of A, the contract between the coordinator and every client:
    ///   for block i and target j (0…6 in q, k, v, o, gate, up, down order)
    ///     rng = Xoshiro256(seed: seed &+ 0x9E3779B97F4A7C15 &* UInt64(8·i + j + 1))
    ///           (xoshiro256** whose state is four SplitMix64 outputs, as in LLM's `Xoshiro256`)
    ///     A[r][c], row-major (r outer), = Float((2·u − 1) / √in), u = Double(next() >> 11) · 2⁻⁵³
    /// The first values for seed 0 are pinned by a test against an independent Python implementation.
    public static func fillA(_ a: FloatBuffer, rank: Int, inFeatures: Int, seed: UInt64, block: Int, target: LoRATarget) {
        var rng = Xoshiro256(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(8 * block + target.index + 1))
        let root = Double(inFeatures).squareRoot()
        for i in 0..<(rank * inFeatures) {
            a[i] = Float((2 * rng.nextDouble() - 1) / root)
        }
    }

    public var scale: Float { config.scale }

    public func module(block: Int, target: LoRATarget) -> LoRAModule? {
        guard let t = config.targets.firstIndex(of: target), block >= 0, block < blockCount else { return nil }
        return modules[block * config.targets.count + t]
    }

    /// Buffers the optimizer updates, each with its gradient, in a fixed order.
    public var trainableParameters: [(value: FloatBuffer, gradient: FloatBuffer)] {
        switch training {
        case .frozen: []
        case .bOnly: modules.map { ($0.b, $0.gradB) }
        case .full: modules.flatMap { [($0.a, $0.gradA), ($0.b, $0.gradB)] }
        }
    }

    public var parameterCount: Int { modules.reduce(0) { $0 + $1.a.count + $1.b.count } }

    public func zeroGradients() {
        for m in modules { m.gradA.zero(); m.gradB.zero() }
    }

    /// Checks the adapter fits a model: same block count, each module's shape that of its base map.
    public func validate(against model: LlamaConfig) throws(TuningError) {
        guard model.blockCount == blockCount else {
            throw TuningError(.adapterMismatch, "the adapter has \(blockCount) blocks, the model \(model.blockCount)")
        }
        for m in modules {
            let (out, inp) = m.target.shape(model)
            guard out == m.outFeatures, inp == m.inFeatures else {
                throw TuningError(.adapterMismatch,
                    "adapter \(m.target.peftModule) of block \(m.block) is (\(m.outFeatures), \(m.inFeatures)); the model's map is (\(out), \(inp))")
            }
        }
    }

    /// A deep copy (values, not gradients), e.g. to keep the best adapter seen during training.
    public func copy() -> LoRAAdapter { LoRAAdapter(copying: self) }

    private init(copying other: LoRAAdapter) {
        config = other.config
        blockCount = other.blockCount
        training = other.training
        modules = other.modules.map { m in
            let n = LoRAModule(block: m.block, target: m.target, rank: m.rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures)
            n.a.pointer.update(from: m.a.pointer, count: m.a.count)
            n.b.pointer.update(from: m.b.pointer, count: m.b.count)
            return n
        }
    }

    // MARK: Merging

    /// W (out, in) += sign · s · B (out, r) · A (r, in) for one module: merging (sign 1) or unmerging (−1).
    public func merge(_ m: LoRAModule, into weight: UnsafeMutablePointer<Float>, sign: Float = 1) {
        BLAS.sgemm(m: m.outFeatures, n: m.inFeatures, k: m.rank, alpha: sign * scale, a: m.b.pointer, lda: m.rank,
                   b: m.a.pointer, ldb: m.inFeatures, beta: 1, c: weight, ldc: m.inFeatures)
    }

    /// Adds this adapter's update into the f32 weights of a model loaded on the exact path, so that model
    /// then runs base + adapter at base speed. This changes `model` for every user of it: use a model
    /// instance of its own (never one that serves sessions), and `sign: -1` to take the update out again.
    public func merge(into model: LlamaModel, sign: Float = 1) throws {
        try validate(against: model.config)
        for m in modules {
            guard let dense = m.target.linear(in: model.blocks[m.block]).dense else {
                throw TuningError(.badArgument, "merging an adapter needs a model loaded on the exact path (f32 weights)")
            }
            merge(m, into: dense.pointer, sign: sign)
        }
    }
}
