import Foundation
import GGUF
import LLM
import Tensor
import TestModels
import Tuning

/// The tiny random llama the tuning tests train (TestModels' writer with its defaults: GQA with 4
/// query heads over 2 kv heads, Q4_1 projections, a Q8_0 embedding tied to the output or not).
typealias TinyModel = TinyLlamaGGUF

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
