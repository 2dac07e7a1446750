import Diagnostics
public import Foundation

/// The personalisation methods compared (see docs/personalization.md).
public enum PersonalizationMethod: String, Sendable, CaseIterable, Codable {
    /// The base model (and shared adapter, if any) with the bare question.
    case none
    /// Retrieval: the top-k profile items in LaMP's prompt format, then the question.
    case rag
    /// Profile-augmented: a summary of the user's profile written by the model, then the question.
    case pag
    /// A personal adapter trained on the user's profile (OPPU).
    case oppu
    /// The personal adapter and retrieval together.
    case oppuRag = "oppu+rag"
    /// MaLP-style tiered memory with the personal adapter.
    case malp
    /// A shared adapter trained across users by federated rounds, then each user's personal adapter on top.
    case fed

    /// Whether the method puts retrieved profile items in the prompt (and so uses `k`).
    public var retrieves: Bool { [.rag, .oppuRag, .malp, .fed].contains(self) }
}

/// How a run answers: the same for every user of the run.
public struct RunSettings: Sendable, Equatable, Codable {
    public var task: LaMPTask
    public var method: PersonalizationMethod
    /// Retrieved profile items per question (rag, oppu+rag, malp).
    public var k: Int
    /// Classification answers constrained to the task's labels (`task.labels`) instead of free text.
    public var constrained: Bool
    /// Federated rounds of the shared adapter before personal training (fed).
    public var rounds: Int

    public init(task: LaMPTask, method: PersonalizationMethod, k: Int = 4, constrained: Bool = false, rounds: Int = 3) {
        self.task = task
        self.method = method
        self.k = k
        self.constrained = constrained
        self.rounds = rounds
    }

    enum CodingKeys: String, CodingKey { case task, method, k, constrained, rounds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decodeLaMPTask(forKey: .task)
        method = try c.decode(PersonalizationMethod.self, forKey: .method)
        k = try c.decode(Int.self, forKey: .k)
        constrained = try c.decode(Bool.self, forKey: .constrained)
        rounds = try c.decode(Int.self, forKey: .rounds)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task.fileName, forKey: .task)
        try c.encode(method, forKey: .method)
        try c.encode(k, forKey: .k)
        try c.encode(constrained, forKey: .constrained)
        try c.encode(rounds, forKey: .rounds)
    }
}

/// What the runner needs from a model: get ready for one user, then answer that user's questions.
/// `prepare` must start from nothing each time (the real engine opens a fresh, isolated client home
/// per user): no user's data may reach another user's memory or adapter.
public protocol AnswerEngine {
    /// A short name for reports (`model`, `nearest`…).
    var name: String { get }
    /// Loads one user's profile for `settings.method`: stores it as memory, trains the personal adapter…
    mutating func prepare(user: String, profile: [LaMPProfileItem], settings: RunSettings) async throws
    /// The answer to one question of the prepared user, as generated text.
    mutating func answer(_ question: LaMPQuestion) async throws -> String
    /// Called once before the first user, with every user of the run: where the method needs all
    /// users together (fed: federated rounds of the shared adapter, each user's client training on
    /// its own profile only). The default does nothing.
    mutating func prepareRun(users: [UserQuestions], settings: RunSettings) async throws
}

extension AnswerEngine {
    public mutating func prepareRun(users: [UserQuestions], settings: RunSettings) async throws {}
}

/// One method's results on one task.
public struct ExperimentReport: Sendable, Equatable, Codable {
    public struct Prediction: Sendable, Equatable, Codable {
        public var id: String
        public var user: String
        public var answer: String
        public var gold: String
    }

    public var settings: RunSettings
    public var engine: String
    public var users: Int
    public var questions: Int
    public var metrics: [MetricValue]
    /// The same metrics for each user, by user id.
    public var perUser: [String: [MetricValue]]
    public var predictions: [Prediction]
    public var seconds: Double

    public var method: PersonalizationMethod { settings.method }
    public var task: LaMPTask { settings.task }

    public init(settings: RunSettings, engine: String, users: Int, questions: Int,
                metrics: [MetricValue], perUser: [String: [MetricValue]], predictions: [Prediction], seconds: Double) {
        self.settings = settings
        self.engine = engine
        self.users = users
        self.questions = questions
        self.metrics = metrics
        self.perUser = perUser
        self.predictions = predictions
        self.seconds = seconds
    }

    /// The predictions as a LaMP outputs file (for `peval score` or LaMP's own scorer).
    public var predictionsFile: LaMPOutputs {
        LaMPOutputs(task: task, golds: predictions.map { LaMPGold(id: $0.id, output: $0.answer) })
    }

    /// Canonical JSON bytes (sorted keys).
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try e.encode(self)
    }

    /// A table of reports: method, task, engine, k, choices, users, questions, then each metric.
    public static func table(_ reports: [ExperimentReport]) -> String {
        var names: [String] = []
        for r in reports { for m in r.metrics where !names.contains(m.name) { names.append(m.name) } }
        let header = ["method", "task", "engine", "k", "choices", "users", "questions"] + names
        var rows = [header]
        for r in reports {
            let choices = r.task.kind == .generation ? "-" : r.settings.constrained ? "yes" : "no"
            let k = r.method.retrieves ? String(r.settings.k) : "-"
            var row = [r.method.rawValue, r.task.description, r.engine, k, choices, String(r.users), String(r.questions)]
            for name in names {
                row.append(r.metrics.first { $0.name == name }.map { format($0.value) } ?? "-")
            }
            rows.append(row)
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                i < 3 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                      : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  ")
        }
        var out = line(header) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows.dropFirst() { out += line(row) + "\n" }
        return out
    }

    static func format(_ value: Double) -> String { String(format: "%.4f", value) }
}

/// Runs one method over every user of a LaMP split: for each user, `prepare` with that user's
/// profile only, then answer that user's questions; scores with the task's metrics overall and per user.
public struct ExperimentRunner: Sendable {
    public var settings: RunSettings

    public init(settings: RunSettings) {
        self.settings = settings
    }

    public init(task: LaMPTask, method: PersonalizationMethod, k: Int = 4) {
        self.settings = RunSettings(task: task, method: method, k: k)
    }

    var task: LaMPTask { settings.task }

    /// `progress` is called after each answered question with (done, total).
    public func run(examples: [LaMPExample], engine: inout some AnswerEngine,
                    progress: (Int, Int) -> Void = { _, _ in }) async throws -> ExperimentReport {
        let start = Date()
        let groups = UserGroups.group(examples)
        var predictions: [ExperimentReport.Prediction] = []
        var perUser: [String: [MetricValue]] = [:]
        var done = 0
        for group in groups {
            for (i, item) in group.profile.enumerated() where task.trainingExample(item) == nil {
                throw EvaluationError(.mismatch, "user \(group.user), profile item \(i + 1) lacks the fields of \(task) (it has \(item.fields.keys.sorted().joined(separator: ", "))); are the questions and outputs files of the same task?")
            }
            for (n, example) in group.examples.enumerated() where example.question.profile != group.profile {
                throw EvaluationError(.badFile, "question \(example.question.id) (\(n + 1) of user \(group.user)) has another profile than the user's first question; one user, one profile")
            }
        }
        do {
            try await engine.prepareRun(users: groups, settings: settings)
        } catch let e as EvaluationError {
            throw e
        } catch {
            throw EvaluationError(.engine, "the \(engine.name) engine could not prepare the run: \(error)")
        }
        for group in groups {
            do {
                try await engine.prepare(user: group.user, profile: group.profile, settings: settings)
            } catch let e as EvaluationError {
                throw e
            } catch {
                throw EvaluationError(.engine, "the \(engine.name) engine could not prepare user \(group.user): \(error)")
            }
            var answers: [String] = []
            for example in group.examples {
                let answer: String
                do {
                    answer = try await engine.answer(example.question)
                } catch {
                    throw EvaluationError(.engine, "the \(engine.name) engine could not answer question \(example.question.id): \(error)")
                }
                answers.append(answer)
                predictions.append(.init(id: example.question.id, user: group.user, answer: answer, gold: example.gold))
                done += 1
                progress(done, examples.count)
            }
            perUser[group.user] = try task.score(answers: answers, golds: group.examples.map(\.gold))
        }
        let metrics = try task.score(answers: predictions.map(\.answer), golds: predictions.map(\.gold))
        return ExperimentReport(settings: settings, engine: engine.name, users: groups.count,
                                questions: predictions.count, metrics: metrics, perUser: perUser,
                                predictions: predictions, seconds: Date().timeIntervalSince(start))
    }
}
