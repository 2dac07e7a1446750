import ArgumentParser
import Personalization
import Foundation
import LLM
import Tuning
import Tokenizer

@main
struct PClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pclient",
        abstract: "A personal language model that you own: private memory, personal adapters, local answers.",
        subcommands: [Ask.self, Chat.self, Train.self, AdapterCommand.self, Generate.self, Tokenize.self, TrainAdapter.self, Init.self, Remember.self, MemoryCommand.self, Passwd.self, Export.self, ImportBundle.self, Embed.self, Join.self, Sync.self, FederationCommand.self]
    )
}

/// Options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache scripts/setup fills).")
    var model: String?

    @Option(help: "Worker threads for the matrix kernels.")
    var threads: Int = 2

    @Flag(help: "Exact numeric path: weights dequantized to f32 and f32 math (slower, reproduces a float32 reference).")
    var exact = false

    @Option(help: "Activations in the quantized kernels: int16 (default: logits within 0.01 of f32 math, fastest decode), f32, or int8 (llama.cpp's way: changes answers).")
    var activations: String = "int16"

    func validate() throws {
        guard threads >= 1 && threads <= 256 else { throw ValidationError("Please give --threads between 1 and 256.") }
        guard ["int16", "f32", "int8"].contains(activations) else {
            throw ValidationError("Please give --activations int16, f32 or int8.")
        }
    }

    var numericPath: NumericPath {
        if exact { return .exact }
        switch activations {
        case "f32": return .fast
        case "int8": return .fastQ8
        default: return .fastQ16
        }
    }

    @Option(name: .customLong("adapter"), help: "A LoRA adapter folder (PEFT format) to apply; repeat to stack several.")
    var adapters: [String] = []

    /// The assistant builder for these options (the model file resolved, not loaded yet).
    func builder() throws -> AssistantBuilder {
        var b = AssistantBuilder(modelPath: try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment))
        b.numericPath = numericPath
        b.threads = threads
        b.adapterFolders = adapters
        return b
    }

    /// The model, and the --adapter folders as a stack to generate with.
    func loadGenerator() throws -> (generator: TextGenerator, adapters: AdapterStack) {
        let assistant = try builder().build(home: nil, baseModelSHA256: "")
        return (assistant.generator, try assistant.extraAdapters.stack(for: assistant.generator.model))
    }
}

/// Options of the sampler.
struct SamplingOptions: ParsableArguments {
    @Flag(help: "Always take the most likely token (same as --temperature 0).")
    var greedy = false
    @Option(help: "Sampling temperature; 0 (the default) is greedy, which suits small models best; try 0.7 for varied answers.")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).")
    var topK: Int = 40
    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float = 0.95
    @Option(name: .customLong("min-p"), help: "Drop tokens less likely than min-p times the most likely one.")
    var minP: Float = 0.05
    @Option(name: .customLong("repeat-penalty"), help: "Penalty for tokens among the last 64 (1: off).")
    var repeatPenalty: Float = 1.1
    @Option(help: "Random seed, for reproducible sampling.")
    var seed: UInt64 = 0x5EED

    func validate() throws {
        guard temperature >= 0 else { throw ValidationError("Please give a --temperature of 0 or more.") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("Please give a --top-p in (0, 1].") }
        guard minP >= 0 && minP < 1 else { throw ValidationError("Please give a --min-p in [0, 1).") }
        guard topK >= 0 else { throw ValidationError("Please give a --top-k of 0 or more.") }
        guard repeatPenalty > 0 else { throw ValidationError("Please give a --repeat-penalty above 0.") }
    }

    /// Answers' settings (`SamplingParameters.answer`: no repeated 4-grams); `generate` sets its own ban.
    var parameters: SamplingParameters {
        if greedy || temperature == 0 { return .answer }
        var p = SamplingParameters()
        p.noRepeatNgram = SamplingParameters.answerNoRepeatNgram
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.repetitionPenalty = repeatPenalty
        p.seed = seed
        return p
    }
}

/// Writes streamed text to stdout as it arrives.
func streamOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
