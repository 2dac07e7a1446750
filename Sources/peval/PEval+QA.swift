import ArgumentParser
import Evaluation
import Foundation

extension PEval {
    struct QA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "qa",
            abstract: "Open questions: does memory help personal questions and leave general ones unspoilt?",
            discussion: """
            Synthetic users state facts as notes ("My dog is called Biscuit."), change a few later \
            ("I now live in Lisbon."), and are asked personal questions (only memory can answer; for a \
            changed fact only the new value is right) and general ones (memory must not spoil them). \
            Users come from the tune or the test split, which share no wording, question or value.
            """,
            subcommands: [Synth.self, Run.self, Calibrate.self])
    }
}

/// `--split tune|test`.
func parseSplit(_ text: String) throws -> QASplit {
    guard let split = QASplit(rawValue: text) else {
        throw ValidationError("Please give --split tune or test; \"\(text)\" is neither.")
    }
    return split
}

extension PEval.QA {
    struct Synth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write QA users, their questions and the labelled (question, note) relevance pairs as JSON.",
            discussion: """
            A personal question is relevant to its own fact's notes (original and replacement) and to \
            no other; a general question to none. The same options give byte-identical files.
            """)

        @OptionGroup var shape: QAUserShape

        @Option(help: "The split the users are drawn from: tune (for calibrating; the default) or test (for reporting).", transform: parseSplit)
        var split: QASplit = .tune

        @Option(help: "The JSON file to write.")
        var out: String

        func run() async throws {
            let synth = try shape.generator(split)
            try synth.write(to: out)
            let set = synth.dataset()
            let questions = set.users.reduce(0) { $0 + $1.questions.count }
            print("wrote \(shape.users) \(split.rawValue) users (\(questions) questions, \(set.relevancePairs.count) relevance pairs, \(set.relevancePairs.filter(\.relevant).count) relevant) to \(out)")
        }
    }
}
