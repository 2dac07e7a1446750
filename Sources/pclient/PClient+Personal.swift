import ArgumentParser
import Foundation
import LLM
import GGUF
import Personalization
import Seal
import Tensor
import Tuning
import Vault

extension PClient {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train your personal adapter on long-term memory and your notes (incremental; sealed in your home).",
            discussion: """
                Trains only when long-term memory holds behaviour items (an input and your own output) \
                not trained on before, continuing from the saved adapter; --full retrains from scratch. \
                The adapter is trained on top of the shared adapter when your home has one. Defaults: \
                r = 8 on every linear map, 5 epochs at lr 1e-3 (see docs/personalization.md).
                """)

        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
        var model: String?
        @OptionGroup var lora: LoRAOptions<Self>
        @Option(name: .customLong("rag-k"), help: "Similar memories put in each training prompt (OPPU+RAG); use the same --k when asking.")
        var ragK: Int = 0
        @Flag(help: "Retrain from scratch on all of long-term memory.")
        var full = false
        @Option(help: "Random seed (initialisation, order).")
        var seed: UInt64 = 0
        @Option(help: "Threads for the matrix products.")
        var threads: Int = 2

        func validate() throws {
            guard ragK >= 0 else { throw ValidationError("Please give a --rag-k of 0 or more.") }
        }

        func run() throws {
            var builder = AssistantBuilder(modelPath: try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment))
            builder.numericPath = .exact
            builder.threads = threads
            let home = try homeOptions.unlock()
            BLAS.setThreads(threads)
            let generator = try builder.loadGenerator()
            var options = PersonalTrainingOptions()
            options.rank = lora.rank
            options.alpha = lora.alpha
            options.targets = try lora.targetList()
            options.epochs = lora.epochs
            options.learningRate = lora.lr
            options.maxSequenceLength = lora.maxSeq
            options.ragK = ragK
            options.full = full
            options.seed = seed
            let trainer = PersonalTrainer(home: home, generator: generator,
                                          baseModelSHA256: try builder.baseModelSHA256(),
                                          sharedAdapter: sharedAdapterSource(for: home.home))
            var progress: Progress?
            let s = try trainer.train(options) { report in
                if progress == nil { progress = Progress(total: report.totalSteps) }
                progress?.show(report)
            }
            progress?.finish()
            if let n = s.note { note(n) }
            switch s.outcome {
            case .upToDate:
                print("The personal adapter is up to date: no new long-term behaviour items or notes since the last training (use --full to retrain).")
            case .trained:
                let notes = s.newNotes == 0 ? "" : String(format: ", %d new note(s), %d general question(s) answered as the base model does",
                                                           s.newNotes, s.distillationExamples)
                print(String(format: "%@ on %d example(s) (%d new item(s)%@%@): %d steps, loss %.4f → %.4f, %.0f tok/s, %.1f s.",
                             s.incremental ? "Continued training" : "Trained", s.examples, s.newItems, notes,
                             s.usedSharedAdapter ? ", on top of the shared adapter" : "",
                             s.steps, s.firstLoss ?? 0, s.lastLoss ?? 0, s.tokensPerSecond, s.seconds))
                print("Sealed in \(PersonalAdapterStore(home: home).path)")
            }
        }
    }

    struct AdapterCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "adapter", abstract: "Look at or export your personal adapter.",
            subcommands: [Info.self, ExportAdapter.self])
    }
}

extension PClient.AdapterCommand {
    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what the personal adapter was trained on (no weights).")
        @OptionGroup var homeOptions: HomeOptions

        func run() throws {
            let home = try homeOptions.unlock()
            guard let m = try PersonalAdapterStore(home: home).metadata() else {
                print("No personal adapter yet: run `pclient train`.")
                return
            }
            print("rank \(m.rank), alpha \(m.alpha), targets \(m.targets.joined(separator: ",")), retrieval k \(m.ragK)")
            print("trained \(m.trainings) time(s), last \(m.trainedAt), on \(m.trainedItemIDs.count) long-term item(s) and \(m.trainedNoteIDs?.count ?? 0) note(s); last loss \(m.lastLoss.map { String(format: "%.4f", $0) } ?? "–")")
            print("base model SHA-256 \(m.baseModelSHA256)\(m.sharedAdapterFingerprint == nil ? "" : "; on top of the shared adapter")")
        }
    }

    struct ExportAdapter: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write the personal adapter as a plaintext PEFT folder. It then leaves the vault: anyone who reads the folder has your adapter.")
        @OptionGroup var homeOptions: HomeOptions
        @Option(help: "The GGUF model file the adapter was trained on (default: $PCLIENT_MODEL, then the cache).")
        var model: String?
        @Option(help: "The folder to write adapter_model.safetensors and adapter_config.json to.")
        var out: String

        func run() throws {
            let path = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
            let home = try homeOptions.unlock()
            let config = try LlamaConfig(gguf: GGUFFile(path: path))
            try PersonalAdapterStore(home: home).export(to: out, model: config, baseModel: URL(fileURLWithPath: path).lastPathComponent)
            print("Wrote \(out) (plaintext: keep it safe, or delete it when done).")
        }
    }
}

extension PClient.Train: LoRATrainingDefaults {
    static let maxSeq = 256
    static let minimumMaxSeq = 16
    static let maxSeqHelp = "Longest training sequence in tokens."
    static let epochsHelp = "Passes over the examples."
}
