import ArgumentParser
import Evaluation
import Foundation
import LLM
import Personalization
import Seal
import Tensor

/// The shape of the synthetic users, shared by `qa synth` and `qa run`.
struct QAUserShape: ParsableArguments {
    @Option(help: "How many users.")
    var users: Int = 6

    @Option(help: "The random seed: the same seed gives the same users.")
    var seed: UInt64 = 1

    @Option(help: "Facts per user (each asked with two paraphrased personal questions).")
    var facts: Int = 12

    @Option(help: "Facts per user replaced by a later note.")
    var replaced: Int = 3

    @Option(help: "General questions per user (up to 4 of them related to the user's notes).")
    var general: Int = 10

    func validate() throws {
        guard users >= 1 else { throw ValidationError("Please give --users of at least 1.") }
        guard facts >= 1, replaced >= 0, replaced <= facts, general >= 0 else {
            throw ValidationError("Please give --facts ≥ 1, --replaced between 0 and --facts, and --general ≥ 0.")
        }
    }

    func generator(_ split: QASplit) throws -> QAUsers {
        try QAUsers(split: split, users: users, seed: seed, factsPerUser: facts, replacedPerUser: replaced,
                    generalPerUser: general, relatedGeneralPerUser: min(4, general))
    }
}

extension PEval.QA {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask synthetic users' personal and general questions with each method and print recall, newest-wins, retention and leakage.",
            discussion: """
            Each user's notes go into a fresh temporary home, a day apart, replacements last. recall: \
            personal answers holding the current value; newest-wins: answers about replaced facts with \
            the new value and without the old; retention: of the general questions `none` answers \
            right, the fraction this method answers right; leakage: general answers holding one of \
            the user's personal values. `none` runs whenever a model method does (it is retention's \
            base). --engine nearest answers with the most similar note instead of a model.
            """)

        @OptionGroup var shape: QAUserShape

        @Option(help: "The split the users are drawn from: test (for reporting; the default) or tune (for calibrating).", transform: parseSplit)
        var split: QASplit = .test

        @Option(help: "Comma-separated methods: none, memory, memory+adapter, nearest.")
        var methods: String = "none,memory,memory+adapter"

        @Option(help: "Who answers: model (the assistant pipeline) or nearest (the most similar note, no model).")
        var engine: String = "model"

        @Option(help: "The GGUF model file (default: $PCLIENT_MODEL, then the cache).")
        var model: String?

        @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache). Without one, search is BM25 only.")
        var encoder: String?

        @Flag(name: .customLong("no-encoder"), help: "Search with BM25 only, as a home without the encoder does.")
        var noEncoder = false

        @Flag(name: .customLong("no-profile"), help: "Leave the profile summary out of the memory methods' prompts.")
        var noProfile = false

        @Option(help: "Notes retrieved per question (memory methods).")
        var k: Int = 4

        @Option(name: .customLong("max-tokens"), help: "Longest answer, in tokens.")
        var maxTokens: Int = 48

        @Option(help: "Threads for the matrix products.")
        var threads: Int = 2

        @Option(help: "Personal adapter training epochs (memory+adapter).")
        var epochs: Int = 5

        @Option(help: "Write every answer (question, answer, expected, judgement, retrieved notes) to this JSON-lines file.")
        var answers: String?

        @Option(help: "Write the report (per-method scores and failures) to this JSON file.")
        var json: String?

        var chosen: [QAMethod]? {
            if engine == "nearest" { return [.nearest] }
            let list = methods.split(separator: ",").map { QAMethod(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            guard !list.isEmpty, !list.contains(nil) else { return nil }
            return list.compactMap { $0 }
        }

        func validate() throws {
            guard ["model", "nearest"].contains(engine) else { throw ValidationError("Please give --engine model or nearest.") }
            guard chosen != nil else {
                throw ValidationError("Please give --methods as a comma-separated list of none, memory, memory+adapter and nearest.")
            }
            guard k >= 0, maxTokens >= 1, threads >= 1, epochs >= 1 else {
                throw ValidationError("Please give --k ≥ 0, --max-tokens ≥ 1, --threads ≥ 1 and --epochs ≥ 1.")
            }
        }

        func run() async throws {
            guard let chosen else { return }
            let env = ProcessInfo.processInfo.environment
            var options = QARunOptions(methods: chosen)
            if chosen.contains(where: \.usesModel) {
                options.modelPath = try ModelLocation.resolve(explicit: model, environment: env)
            }
            if !noEncoder {
                if let dir = try? SentenceEncoder.locate(explicit: encoder, environment: env) {
                    options.encoderDirectory = dir
                } else if encoder != nil || env["PCLIENT_ENCODER"] != nil {
                    _ = try SentenceEncoder.locate(explicit: encoder, environment: env)   // says why
                }
            }
            options.threads = threads
            options.k = k
            options.maxTokens = maxTokens
            options.useProfile = !noProfile
            options.training.epochs = epochs
            options.log = { FileHandle.standardError.write(Data("  \($0)\n".utf8)) }
            BLAS.setThreads(threads)

            let users = try shape.generator(split).generate()
            let runner = try QARunner(options: options)
            let all = users.flatMap(\.questions)
            let personal = all.filter { $0.kind == .personal }
            FileHandle.standardError.write(Data("""
                \(users.count) \(split.rawValue) user\(users.count == 1 ? "" : "s") (seed \(shape.seed)): \(personal.count) personal questions \
                (\(personal.filter(\.isAboutReplacedFact).count) about replaced facts), \(all.count - personal.count) general \
                (\(all.filter(\.related).count) related to a note); methods \(runner.methods.map(\.rawValue).joined(separator: ", "))

                """.utf8))
            let report = try runner.run(users: users)
            var settings = "search: " + (report.search == "hybrid" ? "hybrid (BM25 + \(SentenceEncoder.defaultDirectoryName))" : "BM25 only")
            if chosen.contains(where: { $0 == .memory || $0 == .memoryAdapter }) {
                settings += "; memory methods: k \(k), profile summary \(noProfile ? "off" : "as pclient ask (models of 1B parameters or more)")"
            }
            print("\(users.count) \(split.rawValue) user\(users.count == 1 ? "" : "s"), seed \(shape.seed); " + settings + "\n")
            print(report.table(), terminator: "")
            if let answers {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                var lines = Data()
                for a in report.answers {
                    lines.append(try e.encode(a))
                    lines.append(0x0A)
                }
                try AtomicFile.write(lines, to: answers, permissions: 0o644)
            }
            if let json {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                try AtomicFile.write(try e.encode(report), to: json, permissions: 0o644)
            }
        }
    }
}
