import Foundation
import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

struct AdapterInferenceTests {
    /// Adapters passed to a session give, on every path, the logits of the same adapters merged into f32 weights.
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
        for a in adapters { try a.merge(into: merged) }
        let tokens = [1, 5, 9, 33, 2, 17, 40]
        let x = try InferenceSession(model: attached, adapters: adapters.stack(for: attached), capacity: 16)
            .forward(tokens, allLogits: true)
        let y = try InferenceSession(model: merged, capacity: 16).forward(tokens, allLogits: true)
        // The same loaded model without adapters is the base: nothing was attached to it.
        let plain = try InferenceSession(model: attached, capacity: 16).forward(tokens, allLogits: true)
        let fresh = try InferenceSession(model: LlamaModel(path: file, numericPath: path), capacity: 16).forward(tokens, allLogits: true)
        #expect(plain == fresh)
        let diff = zip(x, y).map { abs($0 - $1) }.max()!
        let effect = zip(x, plain).map { abs($0 - $1) }.max()!
        #expect(diff < (path == .fastQ16 ? 0.02 : 2e-3), "attached vs merged: \(diff)")
        #expect(effect > 0.05, "the adapters must change the logits (changed by \(effect))")
    }
}

struct AdapterStackTests {
    /// A stack built for one loaded model is refused by a session on another.
    @Test func aStackForAnotherModelIsRefused() throws {
        let file = try TinyModel().write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let one = try LlamaModel(path: file), two = try LlamaModel(path: file)
        let a = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q]), model: one.config, seed: 1)
        let session = InferenceSession(model: two, adapters: try a.stack(for: one), capacity: 8)
        #expect(throws: LLMError.self) { try session.forward([1, 2]) }
    }
}
