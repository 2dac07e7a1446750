import Diagnostics
public import GGUF

/// Hyper-parameters of a llama-architecture model, read from GGUF metadata (`{arch}.*` keys).
/// The defaults in comments are SmolLM2-135M-Instruct's values, for orientation only: nothing here
/// is a constant for one model.
public struct LlamaConfig: Sendable, Equatable {
    public var architecture: String     // "llama"
    public var blockCount: Int          // 30          {arch}.block_count
    public var dim: Int                 // 576         {arch}.embedding_length
    public var ffnDim: Int              // 1536        {arch}.feed_forward_length
    public var headCount: Int           // 9           {arch}.attention.head_count
    public var kvHeadCount: Int         // 3           {arch}.attention.head_count_kv
    public var headDim: Int             // 64          {arch}.attention.key_length, else dim / heads
    public var ropeDim: Int             // 64          {arch}.rope.dimension_count, else headDim
    public var ropeBase: Float          // 100000      {arch}.rope.freq_base, default 10000
    public var rmsEps: Float            // 1e-5        {arch}.attention.layer_norm_rms_epsilon
    public var contextLength: Int       // 8192        {arch}.context_length
    public var vocabularySize: Int      // 49152       rows of token_embd.weight

    public var qDim: Int { headCount * headDim }
    /// Weights of the model, about (embeddings counted once: SmolLM2 ties them to the output).
    public var parameterCount: Int {
        vocabularySize * dim + blockCount * (2 * dim * qDim + 2 * dim * kvDim + 3 * dim * ffnDim + 2 * dim) + dim
    }
    public var kvDim: Int { kvHeadCount * headDim }
    public var groupSize: Int { headCount / kvHeadCount }

    public init(
        architecture: String = "llama", blockCount: Int, dim: Int, ffnDim: Int, headCount: Int,
        kvHeadCount: Int, headDim: Int? = nil, ropeDim: Int? = nil, ropeBase: Float = 10000,
        rmsEps: Float = 1e-5, contextLength: Int = 2048, vocabularySize: Int
    ) {
        self.architecture = architecture
        self.blockCount = blockCount
        self.dim = dim
        self.ffnDim = ffnDim
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim ?? dim / max(headCount, 1)
        self.ropeDim = ropeDim ?? self.headDim
        self.ropeBase = ropeBase
        self.rmsEps = rmsEps
        self.contextLength = contextLength
        self.vocabularySize = vocabularySize
    }

    /// The widths as GGUF's `LlamaShape` (what `GGUFFile.llamaShape()` read, for a loaded model):
    /// the federation's adapter layout is computed from this, as on the coordinator.
    public var shape: LlamaShape {
        LlamaShape(architecture: architecture, blockCount: blockCount, embeddingLength: dim, feedForwardLength: ffnDim,
                   headCount: headCount, kvHeadCount: kvHeadCount, keyLength: headDim)
    }

    public init(gguf: GGUFFile) throws {
        let arch = try gguf.string("general.architecture")
        guard arch == "llama" else {
            throw LLMError(.unsupportedModel, "the model's architecture is \"\(arch)\"; only llama-architecture GGUF files are supported")
        }
        if let scaling = gguf.metadata["\(arch).rope.scaling.type"], case .string(let kind) = scaling, kind != "none" {
            throw LLMError(.unsupportedModel, "RoPE scaling \"\(kind)\" is not supported")
        }
        guard let embd = gguf.tensor(named: "token_embd.weight"), embd.dimensions.count == 2 else {
            throw LLMError(.unsupportedModel, "the model has no 2-D token_embd.weight tensor")
        }
        let shape = try gguf.llamaShape()
        self.init(
            architecture: arch,
            blockCount: shape.blockCount,
            dim: shape.embeddingLength,
            ffnDim: shape.feedForwardLength,
            headCount: shape.headCount,
            kvHeadCount: shape.kvHeadCount,
            headDim: shape.headDim,
            ropeDim: gguf.optionalInt("\(arch).rope.dimension_count"),
            ropeBase: (try? gguf.float("\(arch).rope.freq_base")) ?? 10000,
            rmsEps: (try? gguf.float("\(arch).attention.layer_norm_rms_epsilon")) ?? 1e-5,
            contextLength: gguf.optionalInt("\(arch).context_length") ?? 2048,
            vocabularySize: embd.dimensions[1]
        )
        try validate()
    }

    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws {
            if !ok { throw LLMError(.unsupportedModel, "inconsistent model hyper-parameters: \(what)") }
        }
        try check(blockCount > 0 && blockCount <= 1024, "block_count \(blockCount)")
        try check(dim > 0 && ffnDim > 0 && vocabularySize > 0, "zero-sized dimension")
        try check(headCount > 0 && kvHeadCount > 0 && headCount % kvHeadCount == 0,
                  "head_count \(headCount) is not a multiple of head_count_kv \(kvHeadCount)")
        try check(headDim > 0 && headDim % 2 == 0, "head dimension \(headDim) must be even")
        try check(ropeDim > 0 && ropeDim <= headDim && ropeDim % 2 == 0, "rope dimension \(ropeDim)")
        try check(contextLength > 0, "context_length \(contextLength)")
    }
}
