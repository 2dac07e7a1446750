import ArgumentParser
import Evaluation
import Foundation

@main
struct PEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peval",
        abstract: "Evaluate personalisation on LaMP-format data: synthetic users, experiment runs, scores.",
        subcommands: [Synth.self, Run.self, Score.self, Table.self, QA.self]
    )
}

/// `lamp2`, `LaMP_2`, `2` → the task.
func parseTask(_ name: String) throws -> LaMPTask {
    guard let task = LaMPTask(name: name) else {
        throw ValidationError("Please give a task as lamp1 … lamp7 (or LaMP_2, 2); \"\(name)\" is none of them.")
    }
    return task
}
