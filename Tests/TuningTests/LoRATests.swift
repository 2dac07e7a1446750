import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

struct LoRATests {
    let config = TinyModel().config

    /// The FFA-LoRA generator is a contract between coordinator and clients: values computed by an
    /// independent Python implementation of xoshiro256** / SplitMix64 and the documented recipe
    /// (block 0 q: in = dim = 32; block 1 down: in = ffn = 96).
    @Test func seededAIsPinned() throws {
        let a = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: LoRATarget.allCases), model: config, seed: 0)
        let q0 = a.module(block: 0, target: .q)!.a
        #expect([q0[0], q0[1], q0[2], q0[3]] == [-0.08537452667951584, 0.13311493396759033, -0.052442148327827454, -0.1751188337802887])
        let k = LoRAConfig(rank: 2, alpha: 4, targets: LoRATarget.allCases)
        let wide = try LoRAAdapter(config: k, model: TinyModel(ffn: 96).config, seed: 0)
        let down = wide.module(block: 1, target: .down)!.a
        #expect([down[0], down[1], down[2], down[3]] == [-0.07179626077413559, -0.05460571125149727, 0.08119035512208939, 0.042673103511333466])
        // Same seed, same A everywhere; B starts at zero; values within PEFT's Kaiming-uniform bound.
        let again = try LoRAAdapter(config: k, model: config, seed: 0, training: .bOnly)
        for (m, n) in zip(a.modules, again.modules) {
            #expect(m.a.array == n.a.array)
            #expect(m.b.array.allSatisfy { $0 == 0 })
            let bound = 1 / Float(m.inFeatures).squareRoot()
            #expect(m.a.array.allSatisfy { abs($0) <= bound })
        }
        let other = try LoRAAdapter(config: k, model: config, seed: 1)
        #expect(other.modules[0].a.array != a.modules[0].a.array)
    }

    @Test func shapesTrainabilityAndValidation() throws {
        let a = try LoRAAdapter(config: LoRAConfig(rank: 3, alpha: 6, targets: [.down, .q, .q, .o]), model: config, seed: 1)
        #expect(a.config.targets == [.q, .o, .down])
        #expect(a.scale == 2)
        #expect(a.modules.count == 2 * 3)
        let q = a.module(block: 1, target: .q)!
        #expect(q.a.count == 3 * config.dim && q.b.count == config.qDim * 3)
        let d = a.module(block: 0, target: .down)!
        #expect(d.inFeatures == config.ffnDim && d.outFeatures == config.dim)
        #expect(a.module(block: 0, target: .k) == nil)
        #expect(a.trainableParameters.count == 12)
        a.training = .bOnly
        #expect(a.trainableParameters.count == 6 && a.trainableParameters.allSatisfy { p in a.modules.contains { $0.b === p.value } })
        a.training = .frozen
        #expect(a.trainableParameters.isEmpty)
        #expect(throws: TuningError.self) { try LoRAAdapter(config: LoRAConfig(rank: 0), model: config, seed: 1) }
        #expect(throws: TuningError.self) { try LoRAAdapter(config: LoRAConfig(targets: []), model: config, seed: 1) }
        #expect(throws: TuningError.self) { try a.validate(against: TinyModel(dim: 64).config) }
    }

    /// merge then unmerge restores the weights; merging adds s·B·A.
    @Test func mergeAddsTheScaledProduct() throws {
        let a = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 3, targets: [.v]), model: config, seed: 2)
        randomizeB(a, seed: 3)
        let m = a.module(block: 0, target: .v)!
        let w = FloatBuffer(count: m.outFeatures * m.inFeatures)
        a.merge(m, into: w.pointer)
        let (o, i) = (5, 7)
        let expected = (0..<2).reduce(Float(0)) { $0 + m.b[o * 2 + $1] * m.a[$1 * m.inFeatures + i] } * 1.5
        #expect(abs(w[o * m.inFeatures + i] - expected) < 1e-6)
        a.merge(m, into: w.pointer, sign: -1)
        #expect(w.array.allSatisfy { abs($0) < 1e-6 })
    }
}
