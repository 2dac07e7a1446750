import Diagnostics
public import Foundation
import LLM
public import Memory
public import Personalization
import Seal
public import Tuning
import Vault

/// Settings of the model engine that are the same for every user and method of a run.
public struct ModelEngineOptions: Sendable {
    /// The GGUF model file.
    public var modelPath: String
    /// Threads for the matrix products.
    public var threads = 2
    /// Positions of the KV cache (prompt and answer).
    public var contextWindow = 1024
    /// The personal adapter's recipe (oppu, oppu+rag, malp); `ragK` is set from the run's `k` for
    /// oppu+rag and malp, and `full` is always on (every home is fresh).
    public var training = PersonalTrainingOptions()
    /// Longest generated answer; nil: 16 tokens for classification and rating, 48 for generation.
    public var maxTokens: Int?
    /// Words of a retrieved item's long text kept in the prompt (LaMP truncates to fit its budget).
    public var itemWords = 60
    /// Existing client homes, one folder per user (`DIR/<user>` or `DIR/<user id before the first
    /// -, _ or .>`): no import, no training. Nil: a fresh temporary home per user.
    public var homes: String?
    /// The passphrase of an existing home; `{user}` is replaced by the folder's name. Without it,
    /// `$PCLIENT_PASSPHRASE_<FOLDER IN CAPITALS>`.
    public var passphraseTemplate: String?
    /// Where the temporary homes go (default: the system's temporary folder).
    public var scratch: String?
    /// The coordinator and rounds of method fed on fresh homes.
    public var federation = FederatedRunOptions()
    /// Called with progress lines (training, homes) for the terminal.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(modelPath: String) { self.modelPath = modelPath }
}

/// The real assistant pipeline as an `AnswerEngine`: one inference model (fast Q16 path) loaded for
/// the whole run and, only when a method trains, a separate exact-path model for training (training
/// densifies the model it is given, so the inference instance is never trained on).
///
/// `prepare` opens a fresh temporary client home for each user (cheapest Argon2 limits, a random
/// passphrase; deleted when the next user starts and when the engine is finished) and imports the
/// user's profile as behaviour items whose text is the task's question for the item
/// (`LaMPTask.trainingExample`) and whose output is the user's own answer, so that retrieval and
/// training see the task's format. Per method:
///   - none: `AskOptions.plain` (no memory, profile or adapters);
///   - rag: the top-k items (BM25 over long-term memory) rendered as LaMP's history entries;
///   - pag: the profile summary written by the model from long-term memory, no retrieval, no adapters;
///   - oppu: `PersonalTrainer` on long-term memory (the recipe of `options.training`), the adapter, k = 0;
///   - oppu+rag: training prompts carry `ragK = k` retrieved items, the adapter and k items when answering;
///   - malp: the items arrive one by one in short-term memory, oldest first; each arrival is one
///     interaction (`recordInteraction`), preceded by a search for the new item over short- and
///     long-term memory that rehearses similar earlier items. MaLP's schedule (consolidation every
///     5 interactions of items rehearsed 3 times; short-term refresh every 25) decides what becomes
///     long-term; a last `consolidate()` closes the stream. The adapter trains (ragK = k) on the
///     long-term items only (none: no adapter); answers retrieve k items from short + long and use
///     the adapter;
///   - fed: fresh homes for all users take part in real federated rounds first (`FederatedHomes`:
///     a `pcoord` process on loopback, one `pclient sync` process per user, each training the shared
///     adapter on its own profile only); then each user's personal adapter trains as for oppu+rag on
///     top of the shared adapter, and answers use both. With `homes`, the homes' own adapters.
/// Answers are greedy, never remembered (`remember = false`), without session turns, and choose among
/// `task.labels` when the run is constrained.
public final class ModelAnswerEngine: AnswerEngine {
    public let name = "model"
    public let options: ModelEngineOptions
    let generator: TextGenerator
    let baseModelSHA256: String
    private var trainingGenerator: TextGenerator?
    private var assistant: Assistant?
    private var settings: RunSettings?
    private var temporaryHome: String?
    private var federatedHomes: FederatedHomes?

    /// Loads the inference model. Throws when the file is missing or not a llama GGUF.
    public init(options: ModelEngineOptions) throws {
        self.options = options
        var builder = AssistantBuilder(modelPath: options.modelPath)
        builder.threads = options.threads
        generator = try builder.loadGenerator()
        baseModelSHA256 = try builder.baseModelSHA256()
    }

    deinit {
        removeTemporaryHome()
        federatedHomes?.remove()
    }

    /// Deletes the last user's temporary home (also done before each user and at deinit).
    public func finish() {
        removeTemporaryHome()
        assistant = nil
        federatedHomes?.remove()
        federatedHomes = nil
    }

    private func removeTemporaryHome() {
        if let path = temporaryHome { try? FileManager.default.removeItem(atPath: path) }
        temporaryHome = nil
    }

    public func prepareRun(users: [UserQuestions], settings: RunSettings) async throws {
        federatedHomes?.remove()
        federatedHomes = nil
        if settings.method == .fed, options.homes == nil {
            var federation = options.federation
            federation.rounds = settings.rounds
            federatedHomes = try FederatedHomes.prepare(
                users: users, task: settings.task, modelPath: options.modelPath,
                scratch: options.scratch ?? FileManager.default.temporaryDirectory.path,
                options: federation, log: options.log)
        }
        if options.homes != nil, [.pag, .malp].contains(settings.method) {
            throw EvaluationError(.badArgument, "with --homes the methods are none, rag, oppu, oppu+rag and fed (existing homes are not re-imported or retrained); \(settings.method.rawValue) needs fresh homes: drop --homes")
        }
    }

    public func prepare(user: String, profile: [LaMPProfileItem], settings: RunSettings) async throws {
        self.settings = settings
        assistant = nil
        removeTemporaryHome()
        let home: UnlockedHome
        if let dir = options.homes {
            home = try openExisting(user: user, in: dir)
            if [.oppu, .oppuRag, .fed].contains(settings.method), try PersonalAdapterStore(home: home).metadata() == nil {
                throw EvaluationError(.engine, "the home of user \(user) has no personal adapter for \(settings.method.rawValue): run `pclient train` in it first")
            }
            if settings.method == .fed, try SharedAdapterStore.current(home.home) == nil {
                throw EvaluationError(.engine, "the home of user \(user) has no shared adapter for fed: run `pclient sync` in it first")
            }
        } else if let federated = federatedHomes {
            guard let h = federated.home(of: user) else {
                throw EvaluationError(.engine, "user \(user) did not take part in this run's federated rounds")
            }
            home = try ClientHome(path: h.path).unlock(passphrase: SecretBytes(utf8: h.passphrase))
        } else {
            home = try freshHome(profile: profile, settings: settings)
        }
        var style = PromptStyle(contextHeader: "The user's earlier answers:")
        let task = settings.task
        let words = options.itemWords
        style.renderItem = { item in ModelAnswerEngine.render(item, task: task, maxWords: words) }
        if let trainingNeeded = trainingRagK(settings), options.homes == nil {
            try train(home: home, ragK: trainingNeeded, style: style, user: user)
        }
        var builder = AssistantBuilder(modelPath: options.modelPath)
        builder.threads = options.threads
        builder.style = style
        builder.contextWindow = options.contextWindow
        assistant = try builder.build(home: home, generator: generator, baseModelSHA256: baseModelSHA256)
    }

    public func answer(_ question: LaMPQuestion) async throws -> String {
        guard let assistant, let settings else {
            throw EvaluationError(.engine, "the model engine was asked before a user was prepared")
        }
        assistant.resetSession()
        return try assistant.ask(question.input, options: Self.askOptions(settings, maxTokens: options.maxTokens)).text
    }

    /// The assistant's switches for a method (see the type's documentation).
    public static func askOptions(_ settings: RunSettings, maxTokens: Int? = nil) -> AskOptions {
        var o = AskOptions.plain
        switch settings.method {
        case .none: break
        case .rag:
            o.useMemory = true; o.k = settings.k; o.tiers = [.long]
        case .pag:
            o.useMemory = true; o.useProfile = true; o.profileMinimumParameters = 0
        case .oppu:
            o.useMemory = true; o.useAdapters = true
        case .oppuRag, .fed:
            o.useMemory = true; o.useAdapters = true; o.k = settings.k; o.tiers = [.long]
        case .malp:
            o.useMemory = true; o.useAdapters = true; o.k = settings.k; o.tiers = [.short, .long]
        }
        o.remember = false
        // OPPU's method: the k most similar history items, and the personal adapter on every question
        // (a LaMP question is always about the user's history).
        o.retrieval = .topK
        o.personalAdapter = .always
        o.useWorkingMemory = false
        o.sampling = .greedy
        o.maxTokens = maxTokens ?? (settings.task.kind == .generation ? 48 : 16)
        if settings.constrained, !settings.task.labels.isEmpty { o.choices = settings.task.labels }
        return o
    }

    /// The `ragK` the method trains with, or nil when it does not train.
    func trainingRagK(_ settings: RunSettings) -> Int? {
        switch settings.method {
        case .oppu: 0
        case .oppuRag, .malp: settings.k
        case .fed: options.homes == nil ? settings.k : nil
        case .none, .rag, .pag: nil
        }
    }

    // MARK: Homes

    private func freshHome(profile: [LaMPProfileItem], settings: RunSettings) throws -> UnlockedHome {
        let base = options.scratch ?? FileManager.default.temporaryDirectory.path
        let path = base + "/peval-home-" + UUID().uuidString
        temporaryHome = path
        let home = try ClientHome(path: path).initialize(passphrase: SecretBytes(randomCount: 32), limits: .minimum)
        let items = try Self.memoryItems(profile, task: settings.task, tier: settings.method == .malp ? .short : .long)
        if settings.method == .malp {
            // One item per interaction, oldest first: searching for it rehearses similar earlier items.
            for item in items {
                _ = try home.memory.search(item.content.text, limit: max(1, settings.k), tiers: [.short, .long])
                _ = try home.memory.add(item)
                try home.memory.recordInteraction()
            }
            try home.memory.consolidate()
        } else {
            _ = try home.memory.add(items)
        }
        return home
    }

    private func openExisting(user: String, in dir: String) throws -> UnlockedHome {
        var candidates = [user]
        if let cut = user.firstIndex(where: { "-_.".contains($0) }) { candidates.append(String(user[..<cut])) }
        guard let folder = candidates.first(where: { ClientHome(path: dir + "/" + $0).isInitialized }) else {
            throw EvaluationError(.badArgument, "no client home for user \(user) in \(dir) (looked for \(candidates.map { dir + "/" + $0 }.joined(separator: " and "))): create it with `pclient init --home`, or drop --homes")
        }
        let passphrase: String
        if let template = options.passphraseTemplate {
            passphrase = template.replacingOccurrences(of: "{user}", with: folder)
        } else {
            let variable = "PCLIENT_PASSPHRASE_" + folder.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
            guard let p = ProcessInfo.processInfo.environment[variable], !p.isEmpty else {
                throw EvaluationError(.badArgument, "no passphrase for the home \(dir)/\(folder): set $\(variable) or give --passphrase-template")
            }
            passphrase = p
        }
        return try ClientHome(path: dir + "/" + folder).unlock(passphrase: SecretBytes(utf8: passphrase))
    }

    /// The profile as behaviour items: text = the task's question for the item, output = the user's answer.
    public static func memoryItems(_ profile: [LaMPProfileItem], task: LaMPTask, tier: Tier) throws -> [NewItem] {
        try profile.enumerated().map { i, p in
            guard let example = task.trainingExample(p) else {
                throw EvaluationError(.mismatch, "profile item \(i + 1) lacks the fields of \(task)")
            }
            var item = try MemoryImport.lampProfileItem(p.jsonObject, source: "lamp")
            item.kind = .behaviour
            item.content = ItemContent(text: example.prompt, output: example.target, source: "lamp")
            item.tier = tier
            return item
        }
    }

    /// A behaviour item as LaMP's history entry (`the tag for the movie: "…" is "…"`).
    public static func render(_ item: MemoryItem, task: LaMPTask, maxWords: Int) -> String {
        let output = item.content.output ?? ""
        let text = item.content.text
        let fields: [String: String]
        switch task {
        case .citation, .scholarlyTitle:
            fields = ["abstract": LaMPTask.scholarlyTitle.retrievalQuery(text), "title": output]
        case .movieTagging: fields = ["description": task.retrievalQuery(text), "tag": output]
        case .productRating: fields = ["text": task.retrievalQuery(text), "score": output]
        case .newsHeadline, .emailSubject: fields = ["text": task.retrievalQuery(text), "title": output]
        case .tweetParaphrase: fields = ["text": output.isEmpty ? text : output]
        }
        let entry = (task == .citation ? LaMPTask.scholarlyTitle : task).historyEntry(LaMPProfileItem(fields), maxWords: maxWords)
        return entry.trimmingCharacters(in: .whitespaces)
    }

    // MARK: Training

    private func train(home: UnlockedHome, ragK: Int, style: PromptStyle, user: String) throws {
        let trainer = try trainingGenerator ?? TextGenerator(model: LlamaModel(path: options.modelPath, numericPath: .exact, threads: options.threads))
        trainingGenerator = trainer
        let personal = PersonalTrainer(home: home, generator: trainer, baseModelSHA256: baseModelSHA256,
                                       sharedAdapter: sharedAdapterSource(for: home.home), style: style)
        guard try !personal.trainingItems().isEmpty else {
            options.log("user \(user): no long-term behaviour items to train on; answering without a personal adapter")
            return
        }
        var recipe = options.training
        recipe.ragK = ragK
        recipe.full = true
        let s = try personal.train(recipe)
        options.log(String(format: "user %@: trained on %d example(s), %d steps, loss %.3f → %.3f, %.0f s",
                           user, s.examples, s.steps, s.firstLoss ?? 0, s.lastLoss ?? 0, s.seconds))
    }
}
