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
    }

    func run() throws {
        let path = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
        BLAS.setThreads(threads)
        let llama = try LlamaModel(path: path, numericPath: .exact, threads: threads)
        let list = try LoRATarget.list(targets)
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: rank, alpha: 2 * Float(rank), targets: list), model: llama.config, seed: 1)
        let trainer = try TrainingModel(model: llama, adapters: [adapter], checkpointing: checkpointing)
        let optimizer = AdamW(parameters: adapter.trainableParameters, configuration: AdamW.Configuration())
        var rng = Xoshiro256(seed: 1)
        let tokens = (0...seq).map { _ in Int(rng.next() % UInt64(llama.config.vocabularySize)) }
        let sequence = masked
            ? TrainingSequence(prompt: Array(tokens.prefix(seq / 2)), target: Array(tokens.suffix(from: seq / 2)))
            : TrainingSequence(tokens: tokens)
        func step() throws {
            adapter.zeroGradients()
            try trainer.forwardBackward(sequence)
            optimizer.step(learningRate: 1e-4)
        }
        try step()
        let start = Date()
        for _ in 0..<steps { try step() }
        let s = Date().timeIntervalSince(start) / Double(steps)
        let row = Row(targets: targets, seq: seq, rank: rank, masked: masked, checkpointing: checkpointing,
                      secondsPerStep: s, tokensPerSecond: Double(seq) / s, peakRSSMegabytes: peakRSSMegabytes(), threads: threads)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(row), as: UTF8.self))
        } else {
            print(String(format: "train r=%d %@ seq %d%@%@: %.3f s/step, %.0f tokens/s, peak RSS %.0f MB",
                         rank, targets, seq, masked ? " (prompt-masked)" : "", checkpointing ? " checkpointing" : "",
                         s, Double(seq) / s, peakRSSMegabytes()))
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
