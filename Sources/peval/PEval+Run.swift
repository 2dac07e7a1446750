import Diagnostics
import ArgumentParser
import Evaluation
import Foundation
import LLM
import Personalization
import Seal
import Tensor

extension PEval {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer every user's questions with one personalisation method and report LaMP's metrics.",
            discussion: """
            Questions are grouped by user (ids USER-qN, else identical profiles); each user is prepared \
            from their own profile only, then answers their questions. The engines `nearest` (copy the \
            output of the most similar profile item) and `majority` (the user's most frequent output) \
            need no model and serve as references.
            """)

        @Option(help: "The LaMP questions file.")
        var questions: String

        @Option(help: "The LaMP outputs (golds) file; it also names the task.")
        var outputs: String

        @Option(help: "The method: none, rag, pag, oppu, oppu+rag, malp or fed; a comma-separated list runs each and prints one table.")
        var method: String = "none"

        @Option(help: "Profile items retrieved per question (rag, oppu+rag, malp).")
        var k: Int = 4

        @Option(help: "Federated rounds before personal training (fed).")
        var rounds: Int = 3

        @Option(name: .customLong("fed-local-steps"), help: "Local steps each client trains the shared adapter per round (fed on fresh homes).")
        var fedLocalSteps: Int = 8

        @Option(name: .customLong("fed-noise"), help: "DP noise multiplier z of the federated rounds (fed on fresh homes); pcoord reports the ε it spends.")
        var fedNoise: Double = 0.02

        @Flag(help: "Constrain classification answers to the task's labels (choice-constrained decoding) instead of free text.")
        var choices = false

        @Option(help: "Who answers: model (the assistant pipeline), nearest or majority (references without a model).")
        var engine: String = "model"

        @Option(help: "The GGUF model file of the model engine (default: $PCLIENT_MODEL, then the cache).")
        var model: String?

        @Option(help: "Threads for the matrix products (model engine).")
        var threads: Int = 2

        @Option(help: "Existing client homes, DIR/<user> or DIR/<user id prefix such as u01>: no import, no training (methods none, rag, oppu, oppu+rag, fed).")
        var homes: String?

        @Option(name: .customLong("passphrase-template"), help: "The passphrase of each home in --homes, {user} replaced by the folder name (default: $PCLIENT_PASSPHRASE_<FOLDER>).")
        var passphraseTemplate: String?

        @Option(help: "Personal adapter training epochs (oppu, oppu+rag, malp).")
        var epochs: Int = 5

        @Option(help: "Personal adapter peak learning rate.")
        var lr: Float = 1e-3

        @Option(help: "Personal adapter LoRA rank.")
        var rank: Int = 8

        @Option(help: "Write the report (metrics, per-user metrics, every answer) to this JSON file.")
        var report: String?

        @Option(help: "Also write the answers as a LaMP predictions file.")
        var predictions: String?

        func validate() throws {
            guard methods != nil else {
                throw ValidationError("Please give --method none, rag, pag, oppu, oppu+rag, malp or fed (or a comma-separated list of them).")
            }
            guard epochs >= 1, lr > 0, rank >= 1 else { throw ValidationError("Please give --epochs ≥ 1, --lr > 0 and --rank ≥ 1.") }
            if homes != nil && engine != "model" { throw ValidationError("--homes needs --engine model.") }
            guard k >= 0 else { throw ValidationError("Please give --k of 0 or more.") }
            guard fedLocalSteps >= 1, fedNoise >= 0 else { throw ValidationError("Please give --fed-local-steps ≥ 1 and --fed-noise ≥ 0.") }
            guard rounds >= 1 else { throw ValidationError("Please give --rounds of at least 1.") }
            guard ["model", "nearest", "majority"].contains(engine) else {
                throw ValidationError("Please give --engine model, nearest or majority.")
            }
        }

        var methods: [PersonalizationMethod]? {
            let list = method.split(separator: ",").map { PersonalizationMethod(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            guard !list.isEmpty, !list.contains(nil) else { return nil }
            return list.compactMap { $0 }
        }

        func run() async throws {
            guard let methods else { return }
            let golds = try LaMPFile.readOutputs(path: outputs)
            let examples = try LaMPFile.join(questions: LaMPFile.readQuestions(path: questions), outputs: golds)
            var modelEngine: ModelAnswerEngine?
            if engine == "model" {
                var o = ModelEngineOptions(modelPath: try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment))
                o.threads = threads
                o.homes = homes
                o.passphraseTemplate = passphraseTemplate
                o.training.epochs = epochs
                o.training.learningRate = lr
                o.training.rank = rank
                o.federation.localSteps = fedLocalSteps
                o.federation.noise = fedNoise
                o.log = { FileHandle.standardError.write(Data("  \($0)\n".utf8)) }
                BLAS.setThreads(threads)
                modelEngine = try ModelAnswerEngine(options: o)
            }
            var results: [ExperimentReport] = []
            for method in methods {
                let runner = ExperimentRunner(settings: RunSettings(task: golds.task, method: method, k: k, constrained: choices, rounds: rounds))
                var answerEngine: any AnswerEngine
                switch engine {
                case "nearest": answerEngine = NearestItemEngine()
                case "majority": answerEngine = MajorityEngine()
                default:
                    guard let modelEngine else { return }
                    answerEngine = modelEngine
                }
                FileHandle.standardError.write(Data("\(golds.task) \(method.rawValue): \(examples.count) questions\n".utf8))
                let result = try await runner.run(examples: examples, engine: &answerEngine) { done, total in
                    if done == total || done % 10 == 0 {
                        FileHandle.standardError.write(Data("  \(done)/\(total)\n".utf8))
                    }
                }
                modelEngine?.finish()
                results.append(result)
            }
            print(ExperimentReport.table(results), terminator: "")
            if let report {
                if results.count == 1 {
                    try AtomicFile.write(results[0].encoded(), to: report, permissions: 0o644)
                } else {
                    let e = JSONEncoder()
                    e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                    try AtomicFile.write(e.encode(results), to: report, permissions: 0o644)
                }
            }
            if let predictions {
                guard results.count == 1 else {
                    throw EvaluationError(.badArgument, "--predictions writes one method's answers: give a single --method with it")
                }
                try LaMPFile.writeOutputs(results[0].predictionsFile, path: predictions)
            }
        }
    }
}
