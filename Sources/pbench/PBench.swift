import ArgumentParser
import Foundation
import LLM
import Tensor

@main
struct PBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pbench",
        abstract: "Measure the runtime: prints figures, asserts nothing.",
        subcommands: [GenerateBench.self, MemoryBench.self, AskBench.self, TrainBench.self, GEMMBench.self, AggregateBench.self]
    )
}

struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Prompt processing and decode speed (tokens/s, median of several runs), as llama-bench's pp and tg.")

    @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
    var model: String?
    @Option(help: "Worker threads.")
    var threads: Int = 2
    @Option(name: .customLong("prompt-tokens"), help: "Prompt length for the prompt-processing figure.")
    var promptTokens: Int = 512
    @Option(name: .customLong("gen-tokens"), help: "Tokens decoded one at a time for the decode figure.")
    var genTokens: Int = 64
    @Option(help: "Timed runs of each figure (the median is reported; one untimed warm-up run first).")
    var runs: Int = 5
    @Option(help: "Numeric paths to measure, comma-separated: fast-q16 (pclient's default), fast (f32 activations), fast-q8, exact.")
    var paths: String = "fast-q16,fast,fast-q8,exact"
    @Option(name: .customLong("llama-bench"), help: "Path to llama.cpp's llama-bench, to measure it side by side on the same file.")
    var llamaBench: String?
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("Please give --threads of 1 or more.") }
        guard promptTokens >= 1, genTokens >= 1, runs >= 1 else {
            throw ValidationError("Please give --prompt-tokens, --gen-tokens and --runs of 1 or more.")
        }
        for p in paths.split(separator: ",") where NumericPath(rawValue: String(p)) == nil {
            throw ValidationError("Unknown numeric path \"\(p)\": use fast-q16, fast, fast-q8 or exact.")
        }
    }

    struct Row: Codable {
        var engine: String
        var path: String
        var threads: Int
        var promptTokensPerSecond: Double
        var decodeTokensPerSecond: Double
    }

    func run() throws {
        let modelPath = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
        var rows: [Row] = []
        for name in paths.split(separator: ",") {
            let path = NumericPath(rawValue: String(name))!
            BLAS.setThreads(threads)
            let m = try LlamaModel(path: modelPath, numericPath: path, threads: threads)
            let figures = try measure(m)
            rows.append(Row(engine: "pclient", path: path.rawValue, threads: threads,
                            promptTokensPerSecond: figures.pp, decodeTokensPerSecond: figures.tg))
            if !json { print(String(format: "pclient %-8@ pp%-4d %8.1f tok/s   tg%-4d %8.1f tok/s",
                                    path.rawValue, promptTokens, figures.pp, genTokens, figures.tg)) }
        }
        if let llamaBench {
            let peer = try runLlamaBench(llamaBench, model: modelPath)
            rows.append(peer)
            if !json { print(String(format: "llama.cpp         pp%-4d %8.1f tok/s   tg%-4d %8.1f tok/s",
                                    promptTokens, peer.promptTokensPerSecond, genTokens, peer.decodeTokensPerSecond)) }
            if !json, let fast = rows.first(where: { $0.path == "fast-q16" }) ?? rows.first {
                print(String(format: "pclient \(fast.path) / llama.cpp: prompt %.2f×, decode %.2f×",
                             fast.promptTokensPerSecond / peer.promptTokensPerSecond,
                             fast.decodeTokensPerSecond / peer.decodeTokensPerSecond))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(["results": rows]), as: UTF8.self))
        }
    }

    /// Median tokens/s of prompt processing (one forward of P tokens) and of decoding N tokens one by one.
    func measure(_ m: LlamaModel) throws -> (pp: Double, tg: Double) {
        var rng = Xoshiro256(seed: 42)
        let vocab = m.config.vocabularySize
        let prompt = (0..<promptTokens).map { _ in Int(rng.next() % UInt64(vocab)) }
        let session = InferenceSession(model: m, capacity: max(promptTokens, genTokens + 1), chunkSize: min(promptTokens, 512))
        var pp: [Double] = [], tg: [Double] = []
        for run in 0...runs {
            session.reset()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try session.forward(prompt)
            let t1 = DispatchTime.now().uptimeNanoseconds
            session.reset()
            var token = prompt[0]
            let t2 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<genTokens {
                let logits = try session.forward([token])
                token = Sampler.argmax(logits)
            }
            let t3 = DispatchTime.now().uptimeNanoseconds
            if run > 0 {
                pp.append(Double(promptTokens) / (Double(t1 - t0) / 1e9))
                tg.append(Double(genTokens) / (Double(t3 - t2) / 1e9))
            }
        }
        return (median(pp), median(tg))
    }

    func runLlamaBench(_ binary: String, model: String) throws -> Row {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-m", model, "-t", "\(threads)", "-p", "\(promptTokens)", "-n", "\(genTokens)",
                             "-r", "\(runs)", "-o", "json"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let entries = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw ValidationError("llama-bench at \(binary) failed (exit \(process.terminationStatus)) or printed no JSON.")
        }
        var row = Row(engine: "llama.cpp", path: "q8-activations", threads: threads,
                      promptTokensPerSecond: 0, decodeTokensPerSecond: 0)
        for e in entries {
            let rate = e["avg_ts"] as? Double ?? 0
            if (e["n_prompt"] as? Int ?? 0) > 0 { row.promptTokensPerSecond = rate }
            if (e["n_gen"] as? Int ?? 0) > 0 { row.decodeTokensPerSecond = rate }
        }
        return row
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
