import ArgumentParser
import Evaluation
import Foundation
import Seal

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

        @Option(help: "The method: none, rag, pag, oppu, oppu+rag, malp or fed.")
        var method: String = "none"

        @Option(help: "Profile items retrieved per question (rag, oppu+rag, malp).")
        var k: Int = 4

        @Option(help: "Federated rounds before personal training (fed).")
        var rounds: Int = 3

        @Flag(help: "Constrain classification answers to the task's labels (choice-constrained decoding) instead of free text.")
        var choices = false

        @Option(help: "Who answers: model (the assistant pipeline), nearest or majority (references without a model).")
        var engine: String = "model"

        @Option(help: "Write the report (metrics, per-user metrics, every answer) to this JSON file.")
        var report: String?

        @Option(help: "Also write the answers as a LaMP predictions file.")
        var predictions: String?

        func validate() throws {
            guard PersonalizationMethod(rawValue: method) != nil else {
                throw ValidationError("Please give --method none, rag, pag, oppu, oppu+rag, malp or fed.")
            }
            guard k >= 0 else { throw ValidationError("Please give --k of 0 or more.") }
            guard rounds >= 1 else { throw ValidationError("Please give --rounds of at least 1.") }
            guard ["model", "nearest", "majority"].contains(engine) else {
                throw ValidationError("Please give --engine model, nearest or majority.")
            }
        }

        func run() async throws {
            do {
                guard let method = PersonalizationMethod(rawValue: method) else { return }
                let golds = try LaMPFile.readOutputs(path: outputs)
                let examples = try LaMPFile.join(questions: LaMPFile.readQuestions(path: questions), outputs: golds)
                let runner = ExperimentRunner(settings: RunSettings(task: golds.task, method: method, k: k, constrained: choices, rounds: rounds))
                var answerEngine: any AnswerEngine
                switch engine {
                case "nearest": answerEngine = NearestItemEngine()
                case "majority": answerEngine = MajorityEngine()
                default:
                    // TODO(lead): plug in the Client assistant pipeline (Assistant + PersonalTrainer):
                    // an AnswerEngine whose prepare() opens a fresh client home per user, imports the
                    // profile as memory, trains the personal adapter for oppu/oppu+rag/malp/fed (after
                    // `rounds` federated rounds through a loopback pcoord for fed), and whose answer()
                    // asks with the method's AskOptions (choices = task.labels when settings.constrained).
                    throw EvaluationError(.engine, "the model engine is not connected to peval yet; use --engine nearest or --engine majority for the references without a model")
                }
                FileHandle.standardError.write(Data("\(golds.task) \(method.rawValue): \(examples.count) questions\n".utf8))
                let result = try await runner.run(examples: examples, engine: &answerEngine) { done, total in
                    if done == total || done % 10 == 0 {
                        FileHandle.standardError.write(Data("  \(done)/\(total)\n".utf8))
                    }
                }
                print(ExperimentReport.table([result]), terminator: "")
                if let report {
                    try AtomicFile.write(result.encoded(), to: report, permissions: 0o644)
                }
                if let predictions {
                    try LaMPFile.writeOutputs(result.predictionsFile, path: predictions)
                }
            }
        }
    }
}
