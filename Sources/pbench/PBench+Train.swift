import ArgumentParser
import Foundation
import LLM
import Tensor
import Tuning
#if canImport(Glibc)
import Glibc
#endif

struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "LoRA training speed: seconds per step, tokens/s and peak RSS (batch 1, one sequence per step).")

    @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
    var model: String?
    @Option(help: "Adapted layers: q,v, all, or a comma-separated list of q,k,v,o,gate,up,down.")
    var targets: String = "q,v"
    @Option(help: "Sequence length in tokens.")
    var seq: Int = 256
    @Option(help: "LoRA rank.")
    var rank: Int = 8
    @Option(help: "Timed steps (after one warm-up step).")
    var steps: Int = 5
    @Option(help: "Threads for the matrix products.")
    var threads: Int = 2
    @Flag(help: "Score only the second half of the sequence (a prompt-masked example) instead of every position.")
    var masked = false
    @Flag(help: "Recompute activations per block in the backward pass.")
    var checkpointing = false
    @Option(help: "Precision of the products with the base weights: f32 or bf16 (bf16 needs AVX512_BF16, else f32).")
    var precision: String = "f32"
    @Option(name: .customLong("lr"), help: "AdamW learning rate (the loss printed is that of the last timed step).")
    var learningRate: Float = 1e-4
    @Flag(help: "Print where the time of a step goes (wall time per part, averaged over the timed steps).")
    var profile = false
    @Flag(help: "Print one JSON object instead of a line.")
    var json = false

    struct Row: Codable {
        var targets: String
        var seq: Int
        var rank: Int
        var masked: Bool
        var checkpointing: Bool
        var secondsPerStep: Double
        var tokensPerSecond: Double
        var peakRSSMegabytes: Double
        var threads: Int
        var precision: String
        var finalLoss: Double
    }

    func run() throws {
        let path = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
        BLAS.setThreads(threads)
        let llama = try LlamaModel(path: path, numericPath: .exact, threads: threads)
        let list = try LoRATarget.list(targets)
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: rank, alpha: 2 * Float(rank), targets: list), model: llama.config, seed: 1)
        guard let gemmPrecision = GEMMPrecision(rawValue: precision) else {
            throw ValidationError("--precision must be f32 or bf16, not \(precision)")
        }
        let trainer = try TrainingModel(model: llama, adapters: [adapter], checkpointing: checkpointing)
        trainer.precision = gemmPrecision
        let effective = trainer.usesBF16 ? "bf16" : "f32"
        let optimizer = AdamW(parameters: adapter.trainableParameters, configuration: AdamW.Configuration())
        var rng = Xoshiro256(seed: 1)
        let tokens = (0...seq).map { _ in Int(rng.next() % UInt64(llama.config.vocabularySize)) }
        let sequence = masked
            ? TrainingSequence(prompt: Array(tokens.prefix(seq / 2)), target: Array(tokens.suffix(from: seq / 2)))
            : TrainingSequence(tokens: tokens)
        var lastLoss = 0.0
        var optimizerSeconds = 0.0
        func step() throws {
            adapter.zeroGradients()
            lastLoss = try trainer.forwardBackward(sequence).mean
            let t0 = Date()
            optimizer.step(learningRate: learningRate)
            optimizerSeconds += Date().timeIntervalSince(t0)
        }
        try step()
        let prof = TrainingProfile()
        if profile { trainer.profile = prof }
        optimizerSeconds = 0
        let start = Date()
        for _ in 0..<steps { try step() }
        let s = Date().timeIntervalSince(start) / Double(steps)
        if profile {
            let n = Double(steps)
            print(String(format: "profile (%@, wall seconds per step, %d steps):", effective, steps))
            let total = prof[.total] / n
            for part in TrainingProfile.Part.allCases where part != .total {
                print(String(format: "  %-52@ %7.3f s  %5.1f%%", part.label as NSString, prof[part] / n, 100 * prof[part] / n / s))
            }
            let named = prof[.baseForward] + prof[.baseBackward] + prof[.lora] + prof[.attention] + prof[.head]
            print(String(format: "  %-52@ %7.3f s  %5.1f%%", "norms, RoPE, SwiGLU, adds, copies" as NSString, total - named / n, 100 * (total - named / n) / s))
            print(String(format: "  %-52@ %7.3f s  %5.1f%%", "AdamW step" as NSString, optimizerSeconds / n, 100 * optimizerSeconds / n / s))
            print(String(format: "  %-52@ %7.3f s", "step" as NSString, s))
        }
        let row = Row(targets: targets, seq: seq, rank: rank, masked: masked, checkpointing: checkpointing,
                      secondsPerStep: s, tokensPerSecond: Double(seq) / s, peakRSSMegabytes: peakRSSMegabytes(), threads: threads,
                      precision: effective, finalLoss: lastLoss)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(row), as: UTF8.self))
        } else {
            print(String(format: "train r=%d %@ seq %d %@%@%@: %.3f s/step, %.0f tokens/s, peak RSS %.0f MB, loss %.4f",
                         rank, targets, seq, effective, masked ? " (prompt-masked)" : "", checkpointing ? " checkpointing" : "",
                         s, Double(seq) / s, peakRSSMegabytes(), lastLoss))
        }
    }
}

/// Peak resident set size of this process (VmHWM), in MB.
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}
