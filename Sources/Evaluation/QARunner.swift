import Diagnostics
public import Foundation
public import LLM
import Memory
public import Personalization
import Seal
import Vault

/// How `peval qa run` answers a user's questions.
public enum QAMethod: String, Codable, Sendable, CaseIterable {
    /// The base model alone (`AskOptions.plain`): the reference for general retention.
    case none
    /// Retrieval from the user's notes (and the profile summary, unless turned off); no adapters.
    case memory
    /// The personal adapter trained on the home first, then as `memory` with the adapter.
    case memoryAdapter = "memory+adapter"
    /// No model: the text of the single most similar note (empty when search finds none). A
    /// reference for retrieval alone; its leakage is how often a general question finds a note.
    case nearest

    public var usesModel: Bool { self != .nearest }
}

/// Settings of a `QARunner`, the same for every user and method of a run.
public struct QARunOptions: Sendable {
    /// The GGUF model; needed unless every method is `nearest`.
    public var modelPath: String?
    public var methods: [QAMethod]
    public var threads = 2
    /// Positions of the KV cache (prompt and answer).
    public var contextWindow = 1024
    public var maxTokens = 48
    /// Notes retrieved per question (memory methods).
    public var k = AskOptions().k
    /// The profile summary (PAG) in memory methods' prompts, as `pclient ask` does by default.
    public var useProfile = true
    /// The sentence encoder folder: search is hybrid (BM25 + dense) as in `pclient ask`. Nil: BM25 only.
    public var encoderDirectory: String?
    /// The personal adapter's recipe (memory+adapter); `full` is always on (every home is fresh).
    public var training = PersonalTrainingOptions()
    /// Where the temporary homes go (default: the system's temporary folder).
    public var scratch: String?
    /// Progress lines for the terminal.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(methods: [QAMethod], modelPath: String? = nil) {
        self.methods = methods
        self.modelPath = modelPath
    }

    /// The switches of a model method's questions (`none`: `AskOptions.plain`).
    public func askOptions(_ method: QAMethod) -> AskOptions {
        guard method != .none else {
            var o = AskOptions.plain
            o.maxTokens = maxTokens
            return o
        }
        var o = AskOptions()
        o.useAdapters = method == .memoryAdapter
        o.useProfile = useProfile
        o.remember = false
        o.useWorkingMemory = false
        // Decoding as `none` and `pclient ask` (greedy, no repeated 4-grams): only memory and adapters differ.
        o.maxTokens = maxTokens
        o.k = k
        return o
    }
}

/// One method's row of a QA report.
public struct QAMethodResult: Codable, Sendable {
    public var method: String
    /// Over the users whose questions were answered; nil when none were.
    public var scores: QAScores?
    /// Users this method failed for (training, or a question), with the error.
    public var failures: [String: String]
    /// Wall time of the method over all users: homes, training and answers.
    public var seconds: Double
}

/// What `QARunner.run` measured.
public struct QAReport: Codable, Sendable {
    public var users: [String]
    /// hybrid or bm25.
    public var search: String
    public var results: [QAMethodResult]
    /// Every answer, method by method (written with `--answers`, not in the report's JSON).
    public var answers: [QAAnswer] = []

    enum CodingKeys: String, CodingKey { case users, search, results }

    /// The report as a markdown table: one row per method.
    public func table() -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.2f", $0) } ?? "–" }
        var out = "| method | recall | newest-wins | retention | base-right now wrong | leakage | seconds |\n"
        out += "|---|---|---|---|---|---|---|\n"
        for r in results {
            let time = String(format: "%.0f", r.seconds)
            guard let s = r.scores else {
                let why = r.failures.values.sorted().first ?? "no answers"
                out += "| \(r.method) | failed: \(why.replacingOccurrences(of: "|", with: "/")) | | | | | \(time) |\n"
                continue
            }
            let wrong = s.baseRightNowWrong.map { "\($0) of \(s.baseRight ?? 0)" } ?? "–"
            let failed = r.failures.isEmpty ? "" : " (failed for \(r.failures.count) user(s))"
            out += "| \(r.method)\(failed) | \(f(s.personalRecall)) | \(f(s.newestWins)) | \(f(s.generalRetention)) | \(wrong) | \(f(s.leakage)) | \(time) |\n"
        }
        return out
    }
}

/// Runs the open-question task (`peval qa run`): for each user and method, a fresh temporary home
/// (cheapest Argon2 limits, a random passphrase, deleted afterwards) into which the user's notes are
/// added one at a time as long-term `.note` items, a day apart, replacements last; then every
/// question, each on its own (no session turns, nothing remembered). A home per method keeps one
/// method's searches (which rehearse what they find) from reordering another's.
///
/// The model is loaded once per run and shared by one `Assistant` per home (an assistant belongs to
/// its home); memory+adapter trains on a second, exact-path copy loaded on first use, since training
/// densifies the model it is given. A failure of one method for one user (training that finds
/// nothing to learn, an unusable adapter) is recorded in its row and the run goes on.
public final class QARunner {
    public let options: QARunOptions
    let generator: TextGenerator?
    let baseModelSHA256: String?
    let embedder: SentenceEncoder?
    private var trainingGenerator: TextGenerator?

    /// Loads the model (when a method needs it) and the sentence encoder (when given).
    public init(options: QARunOptions) throws {
        guard !options.methods.isEmpty else { throw EvaluationError(.badArgument, "give at least one method") }
        self.options = options
        if options.methods.contains(where: \.usesModel) {
            guard let path = options.modelPath else {
                throw EvaluationError(.badArgument, "the methods \(options.methods.filter(\.usesModel).map(\.rawValue).joined(separator: ", ")) need a model file")
            }
            var builder = AssistantBuilder(modelPath: path)
            builder.threads = options.threads
            generator = try builder.loadGenerator()
            baseModelSHA256 = try builder.baseModelSHA256()
        } else {
            generator = nil
            baseModelSHA256 = nil
        }
        embedder = try options.encoderDirectory.map { try SentenceEncoder(directory: $0) }
    }

    /// The methods in the order they run: `none` first (added when a model method needs a base for
    /// general retention), `nearest` last.
    public var methods: [QAMethod] {
        var list = QAMethod.allCases.filter(options.methods.contains)
        if list.contains(where: { $0 != .none && $0.usesModel }), !list.contains(.none) { list.insert(.none, at: 0) }
        return list
    }

    /// Answers every user's questions with every method and scores them.
    public func run(users: [QAUser], now: Date = Date()) throws -> QAReport {
        var answers: [QAMethod: [QAAnswer]] = [:]
        var failures: [QAMethod: [String: String]] = [:]
        var seconds: [QAMethod: Double] = [:]
        for (n, user) in users.enumerated() {
            for method in methods {
                let start = Date()
                do {
                    let got = try answer(user, with: method, now: now)
                    answers[method, default: []] += got
                    let right = got.filter { $0.kind == .personal && $0.judgement.right }.count
                    options.log("user \(user.id) (\(n + 1)/\(users.count)) \(method.rawValue): \(right) of \(got.filter { $0.kind == .personal }.count) personal right, \(String(format: "%.0f", Date().timeIntervalSince(start))) s")
                } catch {
                    failures[method, default: [:]][user.id] = "\(error)"
                    options.log("user \(user.id) \(method.rawValue) failed: \(error)")
                }
                seconds[method, default: 0] += Date().timeIntervalSince(start)
            }
        }
        let base = answers[.none].map { Set($0.filter { $0.kind == .general && $0.judgement.right }.map(\.questionID)) }
        let results = methods.map { m in
            let got = answers[m] ?? []
            return QAMethodResult(method: m.rawValue,
                                  scores: got.isEmpty ? nil : QAScores.compute(got, baseRight: base),
                                  failures: failures[m] ?? [:], seconds: seconds[m] ?? 0)
        }
        return QAReport(users: users.map(\.id), search: embedder == nil ? "bm25" : "hybrid", results: results,
                        answers: methods.flatMap { answers[$0] ?? [] })
    }

    /// One user's answers with one method, in a home of their own that is deleted afterwards.
    func answer(_ user: QAUser, with method: QAMethod, now: Date) throws -> [QAAnswer] {
        let path = (options.scratch ?? FileManager.default.temporaryDirectory.path) + "/peval-qa-home-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        let home = try freshHome(at: path, notes: user.notes, now: now)
        let values = user.personalValues
        var out: [QAAnswer] = []

        if method == .nearest {
            for q in user.questions {
                let start = Date()
                let hit = try home.memory.search(q.text, limit: 1, tiers: [.short, .long], rehearse: false).first
                let text = hit?.item.content.text ?? ""
                var a = QAAnswer(method: method.rawValue, user: user.id, question: q, answer: text,
                                 judgement: QAScoring.judge(text, question: q, personalValues: values), seconds: Date().timeIntervalSince(start))
                a.retrieved = hit.map { [$0.item.content.text] } ?? []
                out.append(a)
            }
            return out
        }
        guard let generator, let baseModelSHA256 else {
            throw EvaluationError(.engine, "\(method.rawValue) needs the model, which this runner did not load")
        }
        if method == .memoryAdapter { try train(home) }
        var builder = AssistantBuilder(modelPath: options.modelPath ?? "")
        builder.threads = options.threads
        builder.contextWindow = options.contextWindow
        let assistant = try builder.build(home: home, generator: generator, baseModelSHA256: baseModelSHA256)
        let ask = options.askOptions(method)
        for q in user.questions {
            let start = Date()
            assistant.resetSession()
            // A fresh conversation per question, as one `pclient ask` process: no earlier question's
            // cached prefix (the fast path's numerics depend slightly on how a prompt is chunked).
            let reply = try assistant.ask(q.text, options: ask, in: Conversation())
            var a = QAAnswer(method: method.rawValue, user: user.id, question: q, answer: reply.text,
                             judgement: QAScoring.judge(reply.text, question: q, personalValues: values), seconds: Date().timeIntervalSince(start))
            if method != .none {
                a.retrieved = reply.explanation.retrieved.filter(\.included).map(\.item.content.text)
                a.profile = reply.explanation.profile
            }
            out.append(a)
        }
        return out
    }

    /// A new home holding the user's notes as long-term `.note` items, added one at a time a day
    /// apart (the last yesterday), so a replacement is always the newer statement.
    func freshHome(at path: String, notes: [QANote], now: Date) throws -> UnlockedHome {
        let passphrase = SecretBytes(randomCount: 32)
        let home: UnlockedHome
        if let embedder {
            // Reopened with the encoder, so that notes are embedded as they are added.
            _ = try ClientHome(path: path).initialize(passphrase: passphrase, limits: .minimum)
            home = try ClientHome(path: path).unlock(passphrase: passphrase, embedder: embedder)
        } else {
            home = try ClientHome(path: path).initialize(passphrase: passphrase, limits: .minimum)
        }
        let day = 86_400.0
        for (i, note) in notes.enumerated() {
            let created = now.addingTimeInterval(-Double(notes.count - i) * day)
            _ = try home.memory.add(NewItem(kind: .note, content: ItemContent(text: note.text, source: "peval"),
                                            tier: .long, importance: 1, created: created))
        }
        return home
    }

    private func train(_ home: UnlockedHome) throws {
        guard let path = options.modelPath, let baseModelSHA256 else { return }
        let model = try trainingGenerator ?? TextGenerator(model: LlamaModel(path: path, numericPath: .exact, threads: options.threads))
        trainingGenerator = model
        var recipe = options.training
        recipe.full = true
        let s = try PersonalTrainer(home: home, generator: model, baseModelSHA256: baseModelSHA256).train(recipe)
        options.log(String(format: "  trained on %d example(s), %d steps, loss %.3f → %.3f, %.0f s",
                           s.examples, s.steps, s.firstLoss ?? 0, s.lastLoss ?? 0, s.seconds))
    }
}
