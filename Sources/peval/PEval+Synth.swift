import ArgumentParser
import Evaluation
import Foundation

extension PEval {
    struct Synth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write LaMP-format synthetic users whose golds follow their own history (DIR/questions.json, DIR/outputs.json).",
            discussion: """
            lamp2: each user gives each kind of film their own tag; lamp3: each user rates with their own \
            bias (harsh, fair, generous); lamp4, lamp5, lamp7: each user writes headlines, titles or tweets \
            with their own opening, casing and ending. The same options give byte-identical files.
            """)

        @Option(help: "The task: lamp2, lamp3, lamp4, lamp5 or lamp7.")
        var task: String

        @Option(help: "How many users.")
        var users: Int

        @Option(help: "The random seed: the same seed gives the same files.")
        var seed: UInt64

        @Option(help: "Profile items per user.")
        var items: Int = 40

        @Option(help: "Questions per user.")
        var questions: Int = 5

        @Option(help: "The output folder (created if needed).")
        var out: String

        func validate() throws {
            let t = try parseTask(task)
            guard SyntheticUsers.supportedTasks.contains(t) else {
                throw ValidationError("Please give --task lamp2, lamp3, lamp4, lamp5 or lamp7: there are no synthetic users for \(t.shortName).")
            }
            guard users >= 1 else { throw ValidationError("Please give --users of at least 1.") }
            guard items >= 6 else { throw ValidationError("Please give --items of at least 6, enough to show each user's habits.") }
            guard questions >= 1 else { throw ValidationError("Please give --questions of at least 1.") }
        }

        func run() async throws {
            do {
                let synth = try SyntheticUsers(task: parseTask(task), users: users, seed: seed, items: items, questions: questions)
                try synth.write(to: out)
                print("wrote \(users) \(synth.task) users (\(items) profile items, \(questions) questions each) to \(out)/questions.json and \(out)/outputs.json")
            }
        }
    }
}
