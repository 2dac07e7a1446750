import ArgumentParser
import Foundation
import LLM
import Personalization
import Tensor
import Tokenizer
import Tuning

extension PClient {
    struct TrainAdapter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-adapter",
            abstract: "Train a LoRA adapter on (prompt, target) examples and save it in PEFT's format.")

        @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
        var model: String?
        @Option(help: "JSONL, one {\"prompt\": …, \"target\": …} per line.")
        var data: String
        @Option(help: "Folder to write adapter_model.safetensors and adapter_config.json to.")
        var out: String
        @OptionGroup var lora: LoRAOptions<Self>
        @Option(help: "Random seed (initialisation, order, dropout).")
        var seed: UInt64 = 0
        @Option(help: "Threads for the matrix products.")
        var threads: Int = 2
        @Flag(help: "Use prompt and target as raw text instead of a chat turn (user: prompt, assistant: target).")
        var raw = false
        @Flag(help: "Recompute activations per block in the backward pass (less memory, more time).")
        var checkpointing = false
        @Option(help: "Precision of the products with the base weights: bf16 (default; AVX512_BF16 CPUs, about 2× faster, else f32) or f32.")
        var precision: String = "bf16"
        @Option(name: .customLong("save-every"), help: "Save a resumable training state to OUT/.training-state.safetensors every N steps (0: never). A run stopped at any point, even by kill -9, continues from it when started again with the same settings.")
        var saveEvery: Int = 20
        @Option(name: .customLong("held-out"), help: "Fraction of the examples kept aside to measure the loss after each epoch (0 to 0.5).")
        var heldOut: Double = 0
        @Option(help: "With --held-out: stop when the held-out loss has not improved for this many epochs, and keep the best epoch.")
        var patience: Int?

        func validate() throws {
            guard saveEvery >= 0, heldOut >= 0, heldOut <= 0.5 else { throw ValidationError("Please give --save-every ≥ 0 and --held-out between 0 and 0.5.") }
            guard patience == nil || (heldOut > 0 && patience! >= 1) else { throw ValidationError("--patience needs --held-out and must be ≥ 1.") }
        }

        func run() throws {
            var builder = AssistantBuilder(modelPath: try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment))
            builder.numericPath = .exact
            builder.threads = threads
            BLAS.setThreads(threads)
            let generator = try builder.loadGenerator()
            let llama = generator.model
            var examples = try loadExamples(data, generator: generator, raw: raw)
            guard !examples.isEmpty else { throw ValidationError("\(data) holds no examples.") }
            // The held-out split: every k-th example, so it is the same split on every run.
            var heldOutExamples: [TrainingExample] = []
            if heldOut > 0 {
                let every = max(2, Int((1 / heldOut).rounded()))
                heldOutExamples = examples.enumerated().filter { $0.offset % every == every - 1 }.map(\.element)
                examples = examples.enumerated().filter { $0.offset % every != every - 1 }.map(\.element)
                guard !examples.isEmpty, !heldOutExamples.isEmpty else { throw ValidationError("Too few examples for a held-out split.") }
            }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

            let adapter = try LoRAAdapter(config: LoRAConfig(rank: lora.rank, alpha: lora.alpha, targets: try lora.targetList()),
                                          model: llama.config, seed: seed)
            var config = TrainerConfiguration()
            config.epochs = lora.epochs
            config.learningRate = lora.lr
            config.seed = seed
            config.maxSequenceLength = lora.maxSeq
            config.checkpointing = checkpointing
            config.earlyStoppingPatience = patience
            if saveEvery > 0 {
                config.checkpoint = CheckpointPolicy(store: FileCheckpointStore(path: out + "/.training-state.safetensors"), everySteps: saveEvery)
            }
            let stepsPerEpoch = examples.count
            config.warmupSteps = max(1, stepsPerEpoch * lora.epochs / 10)
            guard let gemmPrecision = GEMMPrecision(rawValue: precision) else {
                throw ValidationError("--precision must be bf16 or f32, not \(precision)")
            }
            let trainingModel = try TrainingModel(model: llama, adapters: [adapter], checkpointing: checkpointing)
            trainingModel.precision = gemmPrecision
            let trainer = try Trainer(model: trainingModel, configuration: config)
            let progress = Progress(total: stepsPerEpoch * lora.epochs)
            let reports = try trainer.train(examples, heldOut: heldOutExamples) { progress.show($0) }
            for r in reports { if let h = r.heldOutLoss { print(String(format: "epoch %d: held-out loss %.4f", r.epoch + 1, h)) } }
            progress.finish()
            try adapter.save(to: out, model: llama.config, baseModel: URL(fileURLWithPath: builder.modelPath).lastPathComponent)
            if let first = reports.first, let last = reports.last {
                print(String(format: "Saved %@ (%d steps; loss %.4f → %.4f).", out, reports.count, first.loss, last.loss))
            }
        }
    }
}

/// (prompt, target) lines as token ids: by default a chat turn (user: prompt; assistant: target,
/// ended by <|im_end|>) so the adapter shapes what `pclient ask` answers.
func loadExamples(_ path: String, generator: TextGenerator, raw: Bool) throws -> [TrainingExample] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read \(path): check the path.") }
    var examples: [TrainingExample] = []
    for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
        if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
              let prompt = object["prompt"] as? String, let target = object["target"] as? String else {
            throw ValidationError("Line \(n + 1) of \(path) is not a JSON object with \"prompt\" and \"target\" strings.")
        }
        let tok = generator.tokenizer
        if raw {
            examples.append(TrainingExample(prompt: tok.encode(prompt, parseSpecial: false), target: tok.encode(target, parseSpecial: false)))
        } else {
            let p = tok.encode(generator.template.render([ChatMessage(role: "user", content: prompt)]), parseSpecial: true)
            var t = tok.encode(target, parseSpecial: false)
            if let end = tok.id(of: ChatTemplate.end) { t.append(end) }
            examples.append(TrainingExample(prompt: p, target: t))
        }
    }
    return examples
}

/// A progress line: a bar redrawn in place on a terminal, plain lines otherwise.
final class Progress {
    let total: Int
    let start = Date()
    let isTerminal = isatty(STDERR_FILENO) != 0
    var tokens = 0

    init(total: Int) { self.total = total }

    func show(_ r: StepReport) {
        tokens += r.tokens
        let elapsed = Date().timeIntervalSince(start)
        let eta = elapsed / Double(r.step) * Double(max(0, total - r.step))
        let rate = Double(tokens) / max(elapsed, 1e-9)
        let width = 24
        let filled = width * r.step / max(total, 1)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let text = String(format: "step %d/%d  loss %.4f  %.0f tok/s  ETA %.0fs", r.step, total, r.loss, rate, eta)
        if isTerminal {
            FileHandle.standardError.write(Data("\r\(bar) \(text)   ".utf8))
        } else if r.step == 1 || r.step == total || r.step % max(1, total / 20) == 0 {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

extension PClient.TrainAdapter: LoRATrainingDefaults {
    static let maxSeq = 512
    static let minimumMaxSeq = 8
    static let maxSeqHelp = "Longest training sequence in tokens (longer examples are cut)."
    static let epochsHelp = "Passes over the data."
}
