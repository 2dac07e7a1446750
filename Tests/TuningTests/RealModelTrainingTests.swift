import Foundation
import LLM
import Tensor
import Testing
import Tuning

/// Training on SmolLM2-135M: step time at seq 256 and memorising a made-up fact. Slow, so it runs only
/// with PCLIENT_TUNING_REAL=1 (and the model in the cache or $PCLIENT_MODEL); build with -c release.
struct RealModelTrainingTests {
    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_MODEL"], !p.isEmpty { return p }
        let cache = env["PCLIENT_CACHE"] ?? ((env["XDG_CACHE_HOME"].map { $0 + "/pclient" }) ?? (NSHomeDirectory() + "/.cache/pclient"))
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }
    static var enabled: Bool {
        ProcessInfo.processInfo.environment["PCLIENT_TUNING_REAL"] == "1" && FileManager.default.fileExists(atPath: modelPath)
    }

    @Test(.enabled(if: enabled)) func stepTimeAndMemorisation() throws {
        BLAS.setThreads(2)
        let model = try LlamaModel(path: Self.modelPath, numericPath: .exact, threads: 2)
        let c = model.config
        var rng = Xoshiro256(seed: 1)
        let tokens = (0..<257).map { _ in Int(rng.next() % UInt64(c.vocabularySize)) }
        for (targets, name) in [([LoRATarget.q, .v], "q,v"), (LoRATarget.allCases, "all")] {
            let a = try LoRAAdapter(config: LoRAConfig(rank: 8, alpha: 16, targets: targets), model: c, seed: 1)
            for checkpointing in [false, true] {
                let tm = try TrainingModel(model: model, adapters: [a], checkpointing: checkpointing)
                let seq = TrainingSequence(tokens: tokens)
                try tm.forwardBackward(seq)   // warm-up: allocations
                let start = Date()
                let n = 3
                for _ in 0..<n { try tm.forwardBackward(seq) }
                let s = Date().timeIntervalSince(start) / Double(n)
                print("train seq 256 all positions, r=8 \(name), checkpointing \(checkpointing): \(String(format: "%.3f", s)) s/step, \(Int(256 / s)) tokens/s, activations \(tm.activationBytes / 1_000_000) MB")
            }
        }
        // A made-up fact: a prompt and a target the base model cannot guess.
        let prompt = [1, 4093, 314, 253, 1234, 30]
        let target = [6789, 12345, 2222, 30, 2]
        let a = try LoRAAdapter(config: LoRAConfig(rank: 8, alpha: 16, targets: LoRATarget.allCases), model: c, seed: 2)
        var cfg = TrainerConfiguration()
        cfg.epochs = 30
        cfg.learningRate = 2e-3
        cfg.schedule = .constant
        let trainer = try Trainer(model: TrainingModel(model: model, adapters: [a]), configuration: cfg)
        let example = TrainingExample(prompt: prompt, target: target)
        let before = try trainer.evaluate([example])
        try trainer.train([example])
        let after = try trainer.evaluate([example])
        print("real model, made-up fact: loss \(before) → \(after) in 30 steps")
        #expect(after < 0.1 * before)
    }
}
