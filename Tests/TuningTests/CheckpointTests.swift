import Foundation
import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

/// Checkpoints and resume: a run killed between steps and resumed from its last checkpoint ends with
/// exactly the adapter of an uninterrupted run; early stopping keeps the best held-out epoch.
struct CheckpointTests {
    struct Killed: Error {}

    func configuration(_ store: (any CheckpointStore)?, every: Int = 3) -> TrainerConfiguration {
        var c = TrainerConfiguration()
        c.epochs = 4
        c.batchSize = 2
        c.learningRate = 5e-3
        c.warmupSteps = 2
        c.schedule = .cosine
        c.adam.weightDecay = 0.01
        c.seed = 5
        c.checkpoint = store.map { CheckpointPolicy(store: $0, everySteps: every) }
        return c
    }

    let examples = (0..<7).map { i in TrainingExample(prompt: [1, i + 2], target: (0..<(3 + i % 4)).map { ($0 * 5 + i) % 64 }) }

    func adapter(_ model: LlamaModel) throws -> LoRAAdapter {
        try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: [.q, .v, .down]), model: model.config, seed: 3)
    }

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).safetensors").path
    }

    @Test func resumeAfterAKillGivesTheUninterruptedAdapter() throws {
        let model = try TinyModel().model()
        let reference = try adapter(model)
        let all = try Trainer(model: TrainingModel(model: model, adapters: [reference]), configuration: configuration(nil)).train(examples)
        #expect(all.count == 16)

        for killAt in [2, 6, 7, 15] {
            let path = temporaryPath()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let store = FileCheckpointStore(path: path)
            let first = try adapter(model)
            #expect(throws: Killed.self) {
                try Trainer(model: TrainingModel(model: model, adapters: [first]), configuration: configuration(store))
                    .train(examples) { if $0.step == killAt { throw Killed() } }
            }
            // Checkpoints every 3 steps and at each epoch's end (every 4th step): resume right after the last one.
            var lastSaved = 0
            for s in 1...killAt where s % 3 == 0 || s % 4 == 0 { lastSaved = s }
            #expect(FileManager.default.fileExists(atPath: path) == (lastSaved > 0), "checkpoint after a kill at step \(killAt)")
            // A new process: fresh adapter objects, the same settings, the checkpoint on disk.
            let resumed = try adapter(model)
            var steps: [Int] = []
            try Trainer(model: TrainingModel(model: model, adapters: [resumed]), configuration: configuration(store))
                .train(examples) { steps.append($0.step) }
            #expect(steps.first == lastSaved + 1, "resumed at step \(steps.first ?? -1) after a kill at \(killAt)")
            #expect(steps.last == 16)
            #expect(resumed.modules.map(\.b.array) == reference.modules.map(\.b.array), "kill at \(killAt): B differs from the uninterrupted run")
            #expect(resumed.modules.map(\.a.array) == reference.modules.map(\.a.array))
            #expect(!FileManager.default.fileExists(atPath: path), "a completed run removes its checkpoint")
        }
    }

    @Test func aCheckpointOfAnotherRunIsRefused() throws {
        let model = try TinyModel().model()
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = FileCheckpointStore(path: path)
        #expect(throws: Killed.self) {
            try Trainer(model: TrainingModel(model: model, adapters: [adapter(model)]), configuration: configuration(store))
                .train(examples) { if $0.step == 4 { throw Killed() } }
        }
        var other = configuration(store)
        other.learningRate = 1e-3
        #expect(throws: TuningError.self) {
            try Trainer(model: TrainingModel(model: model, adapters: [adapter(model)]), configuration: other).train(examples)
        }
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: TuningError.self) {
            try Trainer(model: TrainingModel(model: model, adapters: [adapter(model)]), configuration: configuration(store)).train(examples)
        }
    }

    @Test func earlyStoppingKeepsTheBestEpoch() throws {
        let model = try TinyModel().model()
        let a = try adapter(model)
        var c = configuration(nil)
        c.epochs = 40
        c.learningRate = 5e-2          // high enough to overfit the training split and hurt the held-out one
        c.schedule = .constant
        c.earlyStoppingPatience = 2
        let trainer = try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: c)
        let heldOut = (0..<4).map { i in TrainingExample(prompt: [3, i + 9], target: (0..<4).map { ($0 * 11 + i * 3) % 64 }) }
        let reports = try trainer.train(examples, heldOut: heldOut)
        let perEpoch = reports.compactMap(\.heldOutLoss)
        #expect(perEpoch.count == reports.last!.epoch + 1, "one held-out loss per epoch")
        let best = perEpoch.min()!
        #expect(reports.last!.epoch < 39, "stopped early after \(perEpoch.count) epochs: \(perEpoch)")
        #expect(abs(try trainer.evaluate(heldOut) - best) < 1e-9, "the best epoch's parameters are kept")
    }
}
