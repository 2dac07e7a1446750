import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

struct TrainerTests {
    @Test func adamWMatchesTheFormula() {
        let p = FloatBuffer([1, -2]), g = FloatBuffer([0.5, 0.25])
        let opt = AdamW(parameters: [(p, g)], configuration: .init(weightDecay: 0.01))
        opt.step(learningRate: 0.1)
        // p ← p − lr·λ·p, then − lr · m̂ / (√v̂ + ε) with m̂ = g, v̂ = g² on the first step
        #expect(abs(p[0] - (1 - 0.001 - 0.1)) < 1e-6)
        #expect(abs(p[1] - (-2 + 0.002 - 0.1)) < 1e-6)
        opt.step(learningRate: 0.1)
        #expect(opt.stepCount == 2)
    }

    @Test func scheduleAndClipping() {
        let s = LearningRateSchedule.linear
        #expect(s.rate(step: 0, total: 10, warmup: 4, peak: 1) == 0.2)
        #expect(s.rate(step: 3, total: 10, warmup: 4, peak: 1) == 0.8)
        #expect(s.rate(step: 4, total: 10, warmup: 4, peak: 1) == 1)
        #expect(abs(s.rate(step: 7, total: 10, warmup: 4, peak: 1) - 0.5) < 1e-6)
        let c = LearningRateSchedule.cosine
        #expect(abs(c.rate(step: 7, total: 10, warmup: 4, peak: 1) - 0.5) < 1e-6)
        #expect(c.rate(step: 4, total: 10, warmup: 4, peak: 2) == 2)
        #expect(LearningRateSchedule.constant.rate(step: 9, total: 10, warmup: 0, peak: 3) == 3)

        let a = FloatBuffer([3, 0]), b = FloatBuffer([4])
        let norm = GradientClipping.clip([a, b], maxNorm: 1)
        #expect(norm == 5)
        #expect(abs(GradientClipping.globalNorm([a, b]) - 1) < 1e-5)
        #expect(abs(a[0] - 0.6) < 1e-5 && abs(b[0] - 0.8) < 1e-5)
        #expect(GradientClipping.clip([a, b], maxNorm: 2) < 1.00001)
        #expect(abs(a[0] - 0.6) < 1e-5)
    }

    @Test func batchesGroupSimilarLengths() throws {
        let model = try TinyModel().model()
        let a = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 2), model: model.config, seed: 1)
        var cfg = TrainerConfiguration()
        cfg.batchSize = 2
        cfg.shuffle = false
        let trainer = try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: cfg)
        let lengths = [9, 3, 7, 4, 8, 2]
        let examples = lengths.map { TrainingExample(prompt: [1], target: Array(repeating: 5, count: $0)) }
        let steps = trainer.plan(examples, epoch: 0)
        #expect(steps.map { $0.map(\.count) } == [[2, 3], [4, 7], [8, 9]])
        cfg.shuffle = true
        cfg.seed = 9
        let shuffled = try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: cfg).plan(examples, epoch: 0)
        #expect(Set(shuffled.map { $0.map(\.count) }) == Set(steps.map { $0.map(\.count) }))
        // A frozen-only model has nothing to train.
        a.training = .frozen
        #expect(throws: TuningError.self) { try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: cfg) }
    }

    /// The tiny model memorises an example: the loss on it falls by more than 90%, with a shared
    /// FFA adapter (B only) and a personal adapter training together.
    @Test func lossFallsOnAFixedExample() throws {
        let model = try TinyModel().model()
        let c = model.config
        let shared = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: [.q, .v]), model: c, seed: 42, training: .bOnly)
        let sharedA = shared.modules.map(\.a.array)
        let personal = try LoRAAdapter(config: LoRAConfig(rank: 8, alpha: 16, targets: LoRATarget.allCases), model: c, seed: 7)
        var cfg = TrainerConfiguration()
        cfg.epochs = 150
        cfg.learningRate = 1e-2
        cfg.warmupSteps = 5
        cfg.schedule = .constant
        let trainer = try Trainer(model: TrainingModel(model: model, adapters: [shared, personal]), configuration: cfg)
        let example = TrainingExample(prompt: [1, 2, 3, 4], target: [10, 20, 30, 40, 50, 60])
        let before = try trainer.evaluate([example])
        var losses: [Double] = []
        try trainer.train([example]) { losses.append($0.loss) }
        let after = try trainer.evaluate([example])
        #expect(losses.count == 150)
        #expect(abs(losses[0] - before) < 1e-5)
        #expect(after < 0.1 * before, "loss \(before) → \(after)")
        #expect(shared.modules.map(\.a.array) == sharedA, "FFA's A stays frozen")
        #expect(shared.modules.contains { $0.b.array.contains { $0 != 0 } })
        print("loss on a fixed example: \(before) → \(after) in 150 steps")
    }

    /// Same seed, same data: bit-identical adapters (dropout, shuffling, accumulation and clipping on).
    @Test func sameSeedGivesIdenticalAdapters() throws {
        let model = try TinyModel().model()
        let examples = (0..<5).map { i in TrainingExample(prompt: [1, i + 2], target: (0..<(3 + i)).map { ($0 * 7 + i) % 64 }) }
        func run(seed: UInt64) throws -> [Float] {
            let a = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: [.q, .k, .v, .o, .up]),
                                    model: model.config, seed: 3)
            var cfg = TrainerConfiguration()
            cfg.epochs = 3
            cfg.batchSize = 2
            cfg.gradientAccumulation = 2
            cfg.learningRate = 5e-3
            cfg.warmupSteps = 2
            cfg.schedule = .cosine
            cfg.adam.weightDecay = 0.01
            cfg.maxGradientNorm = 0.5
            cfg.seed = seed
            let reports = try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: cfg).train(examples)
            #expect(reports.count == 3 * 2)
            return a.modules.flatMap { $0.a.array + $0.b.array }
        }
        let first = try run(seed: 11), second = try run(seed: 11), other = try run(seed: 12)
        #expect(first == second)
        #expect(first != other)
    }
}
