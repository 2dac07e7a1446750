import Foundation
import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

/// The f32 backward against central finite differences of an independent double-precision forward.
struct GradientCheckTests {
    /// max over the checked entries of |g − fd| / max(|g|, |fd|), entries below `floor`·max|fd| left
    /// out (there both are dominated by f32 rounding, not by the derivative).
    static func relativeError(_ pairs: [(g: Double, fd: Double)], floor: Double = 1e-3) -> Double {
        let top = pairs.map { max(abs($0.g), abs($0.fd)) }.max() ?? 0
        return pairs.filter { max(abs($0.g), abs($0.fd)) >= floor * top }
            .map { abs($0.g - $0.fd) / max(abs($0.g), abs($0.fd)) }.max() ?? 0
    }

    /// Indices to check: the largest |gradient| and a few seeded picks.
    static func picks(_ g: FloatBuffer, count: Int, seed: UInt64) -> [Int] {
        var rng = Xoshiro256(seed: seed)
        var best = 0
        for i in 0..<g.count where abs(g[i]) > abs(g[best]) { best = i }
        return [best] + (0..<count).map { _ in Int(rng.next() % UInt64(g.count)) }
    }

    @Test(arguments: [true, false])
    func loraAndInputGradientsMatchFiniteDifferences(tied: Bool) throws {
        var tiny = TinyModel()
        tiny.tiedOutput = tied
        let model = try tiny.model()
        #expect(model.isOutputTied == tied)
        let c = model.config
        let personal = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases),
                                       model: c, seed: 3)
        randomizeB(personal, seed: 4)
        let shared = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v, .down]),
                                     model: c, seed: 99, training: .bOnly)
        randomizeB(shared, seed: 5)
        let seq = sequence(11, count: 10, vocab: c.vocabularySize, promptCount: 3)
        let T = seq.count

        let trainer = try TrainingModel(model: model, adapters: [personal, shared])
        let dx = FloatBuffer(count: T * c.dim)
        let loss = try trainer.forwardBackward(seq, inputGradient: dx.pointer)
        #expect(loss.count == seq.targetCount)

        let ref = try ReferenceTraining(model: model, adapters: [personal, shared])
        let refLoss = ref.loss(seq)
        #expect(abs(loss.mean - refLoss) < 1e-5, "f32 loss \(loss.mean), double loss \(refLoss)")

        let h = 1e-5
        func fd(_ perturb: (ReferenceTraining, Double) -> Void) -> Double {
            perturb(ref, h)
            let plus = ref.loss(seq)
            perturb(ref, -2 * h)
            let minus = ref.loss(seq)
            perturb(ref, h)
            return (plus - minus) / (2 * h)
        }

        var report: [String] = []
        for t in LoRATarget.allCases {
            let block = t.index % 2
            let m = personal.module(block: block, target: t)!
            var pairs: [(g: Double, fd: Double)] = []
            for i in Self.picks(m.gradA, count: 4, seed: UInt64(t.index)) {
                pairs.append((Double(m.gradA[i]), fd { r, d in r.adapters[0].modules[block][t]!.a[i] += d }))
            }
            let errA = Self.relativeError(pairs)
            pairs = []
            for i in Self.picks(m.gradB, count: 4, seed: UInt64(t.index) + 10) {
                pairs.append((Double(m.gradB[i]), fd { r, d in r.adapters[0].modules[block][t]!.b[i] += d }))
            }
            let errB = Self.relativeError(pairs)
            report.append("\(t.rawValue): A \(errA), B \(errB)")
            #expect(errA < 1e-3 && errB < 1e-3, "\(t.rawValue) block \(block): A \(errA), B \(errB)")
            #expect(m.gradA.array.contains { $0 != 0 })
        }
        for t in shared.config.targets {
            let block = 1 - t.index % 2
            let m = shared.module(block: block, target: t)!
            var pairs: [(g: Double, fd: Double)] = []
            for i in Self.picks(m.gradB, count: 4, seed: UInt64(t.index) + 20) {
                pairs.append((Double(m.gradB[i]), fd { r, d in r.adapters[1].modules[block][t]!.b[i] += d }))
            }
            let err = Self.relativeError(pairs)
            report.append("shared \(t.rawValue) B: \(err)")
            #expect(err < 1e-3, "shared \(t.rawValue): \(err)")
            #expect(m.gradA.array.allSatisfy { $0 == 0 }, "an FFA adapter's A gets no gradient")
        }
        // Input activations (the embedding rows the first block reads).
        var inputs = seq.inputs.flatMap { id in (0..<c.dim).map { ref.embedding[id * c.dim + $0] } }
        var pairs: [(g: Double, fd: Double)] = []
        for i in Self.picks(dx, count: 8, seed: 77) {
            inputs[i] += h
            let plus = ref.loss(seq, inputs: inputs)
            inputs[i] -= 2 * h
            let minus = ref.loss(seq, inputs: inputs)
            inputs[i] += h
            pairs.append((Double(dx[i]), (plus - minus) / (2 * h)))
        }
        let errX = Self.relativeError(pairs)
        report.append("input: \(errX)")
        #expect(errX < 1e-3, "input activations: \(errX)")
        print("gradient check (tied \(tied)), max relative error:", report.joined(separator: "; "))
    }

    /// The training forward's loss equals cross-entropy from the inference forward's logits with the
    /// same adapters merged into the weights.
    @Test(arguments: [true, false])
    func trainingLossEqualsInferenceWithMergedAdapters(tied: Bool) throws {
        var tiny = TinyModel()
        tiny.tiedOutput = tied
        let models = try tiny.models(2)
        let c = models[0].config
        let personal = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases), model: c, seed: 1)
        randomizeB(personal, seed: 2)
        let shared = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 2, targets: [.q, .v]), model: c, seed: 7, training: .bOnly)
        randomizeB(shared, seed: 3)
        for seq in [sequence(5, count: 12, vocab: c.vocabularySize, promptCount: 4),
                    TrainingSequence(tokens: [1, 2, 3, 4, 5, 6, 7, 8, 9])] {
            let training = try TrainingModel(model: models[0], adapters: [personal, shared]).loss(seq)

            try personal.merge(into: models[1])
            try shared.merge(into: models[1])
            defer { try? personal.merge(into: models[1], sign: -1); try? shared.merge(into: models[1], sign: -1) }
            let logits = try InferenceSession(model: models[1], capacity: 32).forward(seq.inputs, allLogits: true)
            let V = c.vocabularySize
            var sum = 0.0
            for t in 0..<seq.count where seq.labels[t] >= 0 {
                let row = logits[t * V..<(t + 1) * V].map(Double.init)
                let m = row.max()!
                sum += m + log(row.reduce(0) { $0 + exp($1 - m) }) - row[seq.labels[t]]
            }
            let inference = sum / Double(seq.targetCount)
            #expect(training.count == seq.targetCount)
            #expect(abs(training.mean - inference) < 1e-5, "training \(training.mean), inference \(inference)")
        }
    }

    /// A fresh adapter (B = 0) changes nothing.
    @Test func freshAdapterLeavesTheLossUnchanged() throws {
        let model = try TinyModel().model()
        let seq = sequence(9, count: 12, vocab: 64, promptCount: 5)
        let base = try TrainingModel(model: model).loss(seq)
        let fresh = try LoRAAdapter(config: LoRAConfig(targets: LoRATarget.allCases), model: model.config, seed: 1)
        let adapted = try TrainingModel(model: model, adapters: [fresh]).loss(seq)
        #expect(base == adapted)
        #expect(base.count == 7)
    }

    /// Recomputing each block in the backward gives bit-identical gradients, dropout masks included.
    @Test func checkpointingGivesIdenticalGradients() throws {
        let model = try TinyModel().model()
        let c = model.config
        let a = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: LoRATarget.allCases), model: c, seed: 3)
        randomizeB(a, seed: 4)
        let seq = sequence(3, count: 16, vocab: c.vocabularySize, promptCount: 5)
        var results: [([Float], LossSum, Int)] = []
        for checkpointing in [false, true] {
            a.zeroGradients()
            let tm = try TrainingModel(model: model, adapters: [a], checkpointing: checkpointing)
            let dx = FloatBuffer(count: seq.count * c.dim)
            let loss = try tm.forwardBackward(seq, dropoutSeed: 42, inputGradient: dx.pointer)
            results.append((a.modules.flatMap { $0.gradA.array + $0.gradB.array } + dx.array, loss, tm.activationBytes))
        }
        #expect(results[0].0 == results[1].0)
        #expect(results[0].1 == results[1].1)
        #expect(results[1].2 < results[0].2)
        // Dropout is on: another seed gives other gradients.
        a.zeroGradients()
        try TrainingModel(model: model, adapters: [a]).forwardBackward(seq, dropoutSeed: 43)
        #expect(a.modules.flatMap { $0.gradA.array + $0.gradB.array } != Array(results[0].0.prefix(a.parameterCount)))
    }
}
