import ArgumentParser
import Evaluation
import Foundation

extension PEval {
    struct Score: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Score a LaMP-format predictions file against the golds with LaMP's metrics.")

        @Option(help: "The gold outputs file ({\"task\", \"golds\": [{\"id\", \"output\"}]}).")
        var outputs: String

        @Option(help: "The predictions file, in the same format.")
        var predictions: String

        @Flag(help: "Print the metrics as JSON.")
        var json = false

        func run() async throws {
            do {
                let golds = try LaMPFile.readOutputs(path: outputs)
                let predicted = try LaMPFile.readOutputs(path: predictions)
                let metrics = try golds.task.score(predictions: predicted, golds: golds)
                if json {
                    let e = JSONEncoder()
                    e.outputFormatting = [.sortedKeys, .prettyPrinted]
                    print(String(decoding: try e.encode(metrics), as: UTF8.self))
                } else {
                    print("\(golds.task): \(golds.golds.count) questions")
                    for m in metrics { print("  \(m.name): \(String(format: "%.4f", m.value))") }
                }
            }
        }
    }
}
