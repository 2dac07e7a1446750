import LLM
import Tensor
import TestModels
import Testing
import Tuning

/// Training with the base products in bfloat16 (`TrainingModel.precision = .bf16`, AVX512_BF16 only):
/// close to the f32 pass, and it still learns. The f32 gradient checks and the PEFT reference stay f32.
@Suite(.enabled(if: DenseGEMM.bf16Available))
struct BF16TrainingTests {
    @Test func lossAndGradientsStayCloseToF32() throws {
        let model = try TinyModel().model()
        let a = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases), model: model.config, seed: 3)
        for m in a.modules { for i in 0..<m.b.count { m.b[i] = Float((i * 7 + m.block) % 11 - 5) * 0.02 } }
        let t = try TrainingModel(model: model, adapters: [a])
        let seq = TrainingSequence(prompt: [1, 2, 3], target: [9, 17, 33, 40, 2, 5, 61])
        func run(_ p: GEMMPrecision) throws -> (Double, [Float]) {
            t.precision = p
            a.zeroGradients()
            let loss = try t.forwardBackward(seq).mean
            return (loss, a.modules.flatMap { $0.gradA.array + $0.gradB.array })
        }
        let (l32, g32) = try run(.f32)
        let (l16, g16) = try run(.bf16)
        #expect(t.usesBF16 && t.packedBytes > 0)
        let lossRel = abs(l16 - l32) / abs(l32)
        var diff = 0.0, norm = 0.0
        for i in g32.indices { diff += Double(g16[i] - g32[i]) * Double(g16[i] - g32[i]); norm += Double(g32[i] * g32[i]) }
        let gradRel = (diff / norm).squareRoot()
        print("bf16 vs f32 on the tiny model: loss \(l32) vs \(l16) (\(lossRel) relative), gradient relative L2 error \(gradRel)")
        #expect(lossRel < 1e-2)
        #expect(gradRel < 5e-2)
        #expect(gradRel > 0, "bf16 rounding must change something, else the f32 path ran")
        // Back to f32: bit-identical to the first f32 pass.
        let (again, gAgain) = try run(.f32)
        #expect(again == l32 && gAgain == g32)
    }

    @Test func bf16TrainingLearns() throws {
        let model = try TinyModel().model()
        let personal = try LoRAAdapter(config: LoRAConfig(rank: 8, alpha: 16, targets: LoRATarget.allCases), model: model.config, seed: 7)
        var cfg = TrainerConfiguration()
        cfg.epochs = 150
        cfg.learningRate = 1e-2
        cfg.warmupSteps = 5
        cfg.schedule = .constant
        let tm = try TrainingModel(model: model, adapters: [personal])
        tm.precision = .bf16
        let trainer = try Trainer(model: tm, configuration: cfg)
        let example = TrainingExample(prompt: [1, 2, 3, 4], target: [10, 20, 30, 40, 50, 60])
        let before = try trainer.evaluate([example])
        _ = try trainer.train([example])
        let after = try trainer.evaluate([example])
        #expect(after < 0.1 * before, "bf16: loss \(before) → \(after)")
        print("bf16 loss on a fixed example: \(before) → \(after) in 150 steps")
    }
}
