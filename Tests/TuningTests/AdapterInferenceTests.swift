import Foundation
import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

struct AdapterInferenceTests {
    /// Attached adapters on the fast path give the logits of the same adapters merged into f32 weights.
    @Test(arguments: [NumericPath.fast, .fastQ16, .exact])
    func attachedEqualsMerged(path: NumericPath) throws {
        let file = try TinyModel().write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let attached = try LlamaModel(path: file, numericPath: path)
        let merged = try LlamaModel(path: file, numericPath: .exact)
        var adapters: [LoRAAdapter] = []
        for (i, targets) in [[LoRATarget.q, .v, .down], LoRATarget.allCases].enumerated() {
            let a = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: targets), model: attached.config, seed: UInt64(i + 3))
            var rng = Xoshiro256(seed: UInt64(40 + i))
            for m in a.modules { for j in 0..<m.b.count { m.b[j] = Float(rng.nextDouble() - 0.5) * 0.2 } }
            adapters.append(a)
        }
        for a in adapters {
            try a.attach(to: attached)
            try a.merge(into: merged)
        }
        let tokens = [1, 5, 9, 33, 2, 17, 40]
        let x = try InferenceSession(model: attached, capacity: 16).forward(tokens, allLogits: true)
        let y = try InferenceSession(model: merged, capacity: 16).forward(tokens, allLogits: true)
        let plain = try InferenceSession(model: LlamaModel(path: file, numericPath: path), capacity: 16).forward(tokens, allLogits: true)
        let diff = zip(x, y).map { abs($0 - $1) }.max()!
        let effect = zip(x, plain).map { abs($0 - $1) }.max()!
        #expect(diff < (path == .fastQ16 ? 0.02 : 2e-3), "attached vs merged: \(diff)")
        #expect(effect > 0.05, "the adapters must change the logits (changed by \(effect))")
    }
}
