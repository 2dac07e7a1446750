import Foundation
import GGUF
import LLM
import Tensor
import Tokenizer

/// A tiny random llama GGUF with a byte-level vocabulary (the 256 bytes, then ChatML's control
/// tokens), so that `pclient sync` trains on it in well under a second (as ClientTests' TinyChatModel).
func writeTinyChatGGUF(to path: String, blocks: Int = 2, dim: Int = 32, ffn: Int = 64, heads: Int = 4, kvHeads: Int = 2, seed: UInt64 = 7, context: Int = 256) throws {
    let specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    let vocab = 256 + specials.count
    var rng = Xoshiro256(seed: seed)
    func random(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale } }
    var w = GGUFWriter()
    w.set("general.architecture", "llama")
    w.set("llama.block_count", UInt32(blocks))
    w.set("llama.embedding_length", UInt32(dim))
    w.set("llama.feed_forward_length", UInt32(ffn))
    w.set("llama.attention.head_count", UInt32(heads))
    w.set("llama.attention.head_count_kv", UInt32(kvHeads))
    w.set("llama.rope.freq_base", Float(10000))
    w.set("llama.attention.layer_norm_rms_epsilon", Float(1e-5))
    w.set("llama.context_length", UInt32(context))
    w.set("tokenizer.ggml.model", "gpt2")
    w.set("tokenizer.ggml.pre", "smollm")
    w.set("tokenizer.ggml.tokens", (0...255).map { ByteLevel.encode([UInt8($0)]) } + specials)
    w.set("tokenizer.ggml.merges", [String]())
    w.set("tokenizer.ggml.token_type", .array(Array(repeating: GGUFValue.int32(1), count: 256)
        + Array(repeating: GGUFValue.int32(3), count: specials.count)))
    w.set("tokenizer.ggml.eos_token_id", UInt32(256 + 2))
    w.set("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    let hd = dim / heads
    func add(_ name: String, _ dims: [Int], _ type: QuantType, scale: Float) throws {
        try w.addTensor(name: name, dimensions: dims, type: type, floats: random(dims.reduce(1, *), scale: scale))
    }
    func addNorm(_ name: String) throws {
        try w.addTensor(name: name, dimensions: [dim], type: .f32, floats: (0..<dim).map { _ in 1 + Float(rng.nextDouble() - 0.5) * 0.4 })
    }
    try add("token_embd.weight", [dim, vocab], .q8_0, scale: 1)
    try addNorm("output_norm.weight")
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
    try w.write(to: path)
}
