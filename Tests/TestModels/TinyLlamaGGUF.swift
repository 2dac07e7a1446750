import Foundation
import GGUF
public import LLM
public import QuantFormat
public import Tensor
import Tokenizer

/// A tiny random llama-architecture GGUF for fast tests, shared by the test targets: GQA (4 query
/// heads over 2 kv heads by default), quantized projections, a Q8_0 embedding tied to the output
/// (or a separate output), F32 norms near 1. With `chatVocabulary` the vocabulary is the 256 bytes
/// (byte-level BPE without merges) followed by ChatML's control tokens, with a chat template, so the
/// whole assistant pipeline — tokenizer, prompt, generation, training — runs on it in milliseconds.
///
/// The same settings always write the same bytes (the weights come from `seed`).
public struct TinyLlamaGGUF: Sendable {
    public var blocks: Int
    public var dim: Int
    public var ffn: Int
    public var heads: Int
    public var kvHeads: Int
    /// The vocabulary size; with `chatVocabulary` it is `TinyLlamaGGUF.chatVocabularySize` instead.
    public var vocab: Int
    public var context: Int
    public var ropeBase: Float
    public var tiedOutput: Bool
    public var linearType: QuantType
    /// Uniform weight ranges: q, k, v, gate and up; attn_output and ffn_down.
    public var projectionScale: Float
    public var outputProjectionScale: Float
    public var seed: UInt64
    /// A tensor to leave out, for error tests.
    public var omit: String?
    public var architecture: String
    public var chatVocabulary: Bool

    public static let chatSpecials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    public static var chatVocabularySize: Int { 256 + chatSpecials.count }

    public init(blocks: Int = 2, dim: Int = 32, ffn: Int = 64, heads: Int = 4, kvHeads: Int = 2, vocab: Int = 64, context: Int = 64,
                ropeBase: Float = 10000, tiedOutput: Bool = true, linearType: QuantType = .q4_1,
                projectionScale: Float = 0.4, outputProjectionScale: Float = 0.3, seed: UInt64 = 1, omit: String? = nil,
                architecture: String = "llama", chatVocabulary: Bool = false) {
        self.blocks = blocks
        self.dim = dim
        self.ffn = ffn
        self.heads = heads
        self.kvHeads = kvHeads
        self.vocab = vocab
        self.context = context
        self.ropeBase = ropeBase
        self.tiedOutput = tiedOutput
        self.linearType = linearType
        self.projectionScale = projectionScale
        self.outputProjectionScale = outputProjectionScale
        self.seed = seed
        self.omit = omit
        self.architecture = architecture
        self.chatVocabulary = chatVocabulary
    }

    /// The byte-level chat model the client, evaluation and process tests run.
    public static func chat(context: Int = 1024, seed: UInt64 = 7) -> TinyLlamaGGUF {
        TinyLlamaGGUF(context: context, seed: seed, chatVocabulary: true)
    }

    public var vocabularySize: Int { chatVocabulary ? Self.chatVocabularySize : vocab }

    public var config: LlamaConfig {
        LlamaConfig(blockCount: blocks, dim: dim, ffnDim: ffn, headCount: heads, kvHeadCount: kvHeads,
                    ropeBase: ropeBase, contextLength: context, vocabularySize: vocabularySize)
    }

    public func write(to path: String) throws {
        var rng = Xoshiro256(seed: seed)
        func random(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale } }
        var w = GGUFWriter()
        let a = architecture
        w.set("general.architecture", a)
        w.set("\(a).block_count", UInt32(blocks))
        w.set("\(a).embedding_length", UInt32(dim))
        w.set("\(a).feed_forward_length", UInt32(ffn))
        w.set("\(a).attention.head_count", UInt32(heads))
        w.set("\(a).attention.head_count_kv", UInt32(kvHeads))
        w.set("\(a).rope.freq_base", ropeBase)
        w.set("\(a).attention.layer_norm_rms_epsilon", Float(1e-5))
        w.set("\(a).context_length", UInt32(context))
        if chatVocabulary {
            let specials = Self.chatSpecials
            w.set("tokenizer.ggml.model", "gpt2")
            w.set("tokenizer.ggml.pre", "smollm")
            w.set("tokenizer.ggml.tokens", (0...255).map { ByteLevel.encode([UInt8($0)]) } + specials)
            w.set("tokenizer.ggml.merges", [String]())
            w.set("tokenizer.ggml.token_type", .array(Array(repeating: GGUFValue.int32(1), count: 256)
                + Array(repeating: GGUFValue.int32(3), count: specials.count)))
            w.set("tokenizer.ggml.eos_token_id", UInt32(256 + 2))
            w.set("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
        }
        let hd = dim / heads
        func add(_ name: String, _ dims: [Int], _ type: QuantType, scale: Float) throws {
            if name == omit { return }
            try w.addTensor(name: name, dimensions: dims, type: type, floats: random(dims.reduce(1, *), scale: scale))
        }
        func addNorm(_ name: String) throws {
            if name == omit { return }
            try w.addTensor(name: name, dimensions: [dim], type: .f32, floats: (0..<dim).map { _ in 1 + Float(rng.nextDouble() - 0.5) * 0.4 })
        }
        let (inner, outer) = (projectionScale, outputProjectionScale)
        try add("token_embd.weight", [dim, vocabularySize], .q8_0, scale: 1)
        try addNorm("output_norm.weight")
        if !tiedOutput { try add("output.weight", [dim, vocabularySize], .q8_0, scale: 0.3) }
        for i in 0..<blocks {
            let p = "blk.\(i)."
            try addNorm(p + "attn_norm.weight")
            try add(p + "attn_q.weight", [dim, heads * hd], linearType, scale: inner)
            try add(p + "attn_k.weight", [dim, kvHeads * hd], linearType, scale: inner)
            try add(p + "attn_v.weight", [dim, kvHeads * hd], linearType, scale: inner)
            try add(p + "attn_output.weight", [heads * hd, dim], linearType, scale: outer)
            try addNorm(p + "ffn_norm.weight")
            try add(p + "ffn_gate.weight", [dim, ffn], linearType, scale: inner)
            try add(p + "ffn_up.weight", [dim, ffn], linearType, scale: inner)
            try add(p + "ffn_down.weight", [ffn, dim], linearType, scale: outer)
        }
        try w.write(to: path)
    }

    /// Writes to a new file in the temporary folder and returns its path (the caller removes it).
    public func write() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-llama-\(UUID().uuidString).gguf").path
        try write(to: path)
        return path
    }

    /// `count` independent instances of the model (merging an adapter changes an instance's weights).
    /// The file is removed at once: the mappings stay valid.
    public func models(_ count: Int = 1, path: NumericPath = .exact, threads: Int = 1) throws -> [LlamaModel] {
        let file = try write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try (0..<count).map { _ in try LlamaModel(path: file, numericPath: path, threads: threads) }
    }

    public func model(_ path: NumericPath = .exact, threads: Int = 1) throws -> LlamaModel {
        try models(1, path: path, threads: threads)[0]
    }
}
