import Foundation
import GGUF
import LLM
import Tensor
import Tuning

/// A tiny random llama-architecture GGUF (a copy of LLMTests' TinyLlama, smaller): GQA with 4 query
/// heads over 2 kv heads, Q4_1 projections, a Q8_0 embedding tied to the output or a separate output.
struct TinyModel {
    var blocks = 2
    var dim = 32
    var ffn = 64
    var heads = 4
    var kvHeads = 2
    var vocab = 64
    var context = 64
    var ropeBase: Float = 10000
    var tiedOutput = true
    var seed: UInt64 = 1

    var config: LlamaConfig {
        LlamaConfig(blockCount: blocks, dim: dim, ffnDim: ffn, headCount: heads, kvHeadCount: kvHeads,
                    ropeBase: ropeBase, contextLength: context, vocabularySize: vocab)
    }

    func write() throws -> String {
        var rng = Xoshiro256(seed: seed)
        func random(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale }
        }
        var w = GGUFWriter()
        w.set("general.architecture", "llama")
        w.set("llama.block_count", UInt32(blocks))
        w.set("llama.embedding_length", UInt32(dim))
        w.set("llama.feed_forward_length", UInt32(ffn))
        w.set("llama.attention.head_count", UInt32(heads))
        w.set("llama.attention.head_count_kv", UInt32(kvHeads))
        w.set("llama.rope.freq_base", ropeBase)
        w.set("llama.attention.layer_norm_rms_epsilon", Float(1e-5))
        w.set("llama.context_length", UInt32(context))
        let hd = dim / heads
        func add(_ name: String, _ dims: [Int], _ type: QuantType, scale: Float) throws {
            try w.addTensor(name: name, dimensions: dims, type: type, floats: random(dims.reduce(1, *), scale: scale))
        }
        func addNorm(_ name: String) throws {
            try w.addTensor(name: name, dimensions: [dim], type: .f32,
                            floats: (0..<dim).map { _ in 1 + Float(rng.nextDouble() - 0.5) * 0.4 })
        }
        try add("token_embd.weight", [dim, vocab], .q8_0, scale: 1)
        try addNorm("output_norm.weight")
        if !tiedOutput { try add("output.weight", [dim, vocab], .q8_0, scale: 0.3) }
        for i in 0..<blocks {
            let p = "blk.\(i)."
            try addNorm(p + "attn_norm.weight")
            try add(p + "attn_q.weight", [dim, heads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_k.weight", [dim, kvHeads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_v.weight", [dim, kvHeads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_output.weight", [heads * hd, dim], .q4_1, scale: 0.3)
            try addNorm(p + "ffn_norm.weight")
            try add(p + "ffn_gate.weight", [dim, ffn], .q4_1, scale: 0.4)
            try add(p + "ffn_up.weight", [dim, ffn], .q4_1, scale: 0.4)
            try add(p + "ffn_down.weight", [ffn, dim], .q4_1, scale: 0.3)
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tiny-tuning-\(UUID().uuidString).gguf").path
        try w.write(to: path)
        return path
    }

    /// `count` independent instances of the same model (merging changes an instance's weights).
    func models(_ count: Int = 1, path: NumericPath = .exact) throws -> [LlamaModel] {
        let file = try write()
        defer { try? FileManager.default.removeItem(atPath: file) }   // the mappings stay valid
        return try (0..<count).map { _ in try LlamaModel(path: file, numericPath: path, threads: 1) }
    }

    func model(_ path: NumericPath = .exact) throws -> LlamaModel { try models(1, path: path)[0] }
}

/// Fills B (and optionally rescales nothing else) with seeded values so that A's gradients are nonzero.
func randomizeB(_ adapter: LoRAAdapter, seed: UInt64, scale: Float = 0.2) {
    var rng = Xoshiro256(seed: seed)
    for m in adapter.modules {
        for i in 0..<m.b.count { m.b[i] = Float(rng.nextDouble() * 2 - 1) * scale }
    }
}

func sequence(_ seed: UInt64, count: Int, vocab: Int, promptCount: Int) -> TrainingSequence {
    var rng = Xoshiro256(seed: seed)
    let tokens = (0..<count).map { _ in Int(rng.next() % UInt64(vocab)) }
    return TrainingSequence(prompt: Array(tokens.prefix(promptCount)), target: Array(tokens.dropFirst(promptCount)))
}
