import Foundation
public import LLM
import Tokenizer
public import Memory
public import Tuning
public import Vault

/// How one question is answered. The evaluation's methods map onto these switches:
/// none (no memory, no profile, no adapters), rag (k), pag (profile), oppu (adapters, k = 0),
/// oppu+rag, malp (tiers + adapter, turns remembered), fed (shared + personal adapters).
public struct AskOptions: Sendable {
    /// Memories retrieved (hybrid BM25 + dense search over `tiers`); 0 retrieves none.
    public var k = 4
    public var tiers: Set<Tier> = [.short, .long]
    /// Use the memory store at all: retrieval, profile, and remembering the turn.
    public var useMemory = true
    /// OPPU's profile summary (PAG), written from long-term memory and cached sealed.
    public var useProfile = true
    /// Attach the shared and personal adapters (when they exist).
    public var useAdapters = true
    /// Earlier turns of this session go into the prompt (working memory).
    public var useWorkingMemory = true
    /// Store the question and answer as chat turns in short-term memory and record the interaction
    /// (MaLP's schedule then consolidates and refreshes).
    public var remember = true
    /// The `source` of remembered turns ("ask", "chat", …).
    public var source = "ask"
    public var maxTokens = 256
    public var sampling: SamplingParameters = .greedy
    /// When given, the answer is the most probable of these strings (see `ConstrainedChoice`).
    public var choices: [String]?
    /// Prompt tokens allowed; default: the assistant's context window minus `maxTokens`.
    public var promptBudget: Int?

    public init() {}

    /// Everything off (no memory, no session turns, no adapters): the base model's plain answer to the question alone.
    public static var plain: AskOptions {
        var o = AskOptions()
        o.useMemory = false; o.useProfile = false; o.useAdapters = false; o.remember = false; o.useWorkingMemory = false; o.k = 0
        return o
    }
}

/// Which memories, profile and adapters shaped an answer. It holds the user's own memory text: show
/// it only to them.
public struct AnswerExplanation: Sendable {
    public var retrieved: [RetrievedMemory]
    public var profile: String?
    public var adapters: [String]
    public var promptTokens: Int
    public var workingTurns: Int
    public var choiceScores: [ChoiceScore]?
    /// Things the user should know (e.g. no home, an adapter for another model).
    public var notes: [String]
}

public struct AssistantAnswer: Sendable {
    public var text: String
    public var explanation: AnswerExplanation
    /// Nil for a choice-constrained answer (it is scored, not generated).
    public var generation: GenerationResult?
}

/// The assistant pipeline over one loaded model: working memory of the session, hybrid retrieval
/// from short- and long-term memory, the profile summary, prompt assembly within the context
/// budget, generation with base + shared + personal adapters, the turn remembered. Built once and
/// asked many times (the model and the KV cache are reused). Not thread-safe.
public final class Assistant {
    public let generator: TextGenerator
    public let home: UnlockedHome?
    public var style: PromptStyle
    public let baseModelSHA256: String
    public let sharedAdapterSource: SharedAdapterSource?
    /// Adapters always attached (e.g. `--adapter` folders), below the shared and personal ones.
    public var extraAdapters: [LoRAAdapter]
    /// Positions of the KV cache: prompt and answer together.
    public let contextWindow: Int
    /// The session's turns (working memory), oldest first.
    public private(set) var history: [ChatMessage] = []

    private var sessionItemIDs: Set<Int64> = []
    private var loadedAdapters = false
    private var shared: LoRAAdapter?
    private var personal: LoRAAdapter?
    private var adapterNotes: [String] = []
    private lazy var session = InferenceSession(model: generator.model, capacity: contextWindow)

    public init(generator: TextGenerator, home: UnlockedHome?, baseModelSHA256: String,
                sharedAdapter: SharedAdapterSource? = nil, style: PromptStyle = .default,
                extraAdapters: [LoRAAdapter] = [], contextWindow: Int = 2048) {
        self.generator = generator
        self.home = home
        self.baseModelSHA256 = baseModelSHA256
        self.sharedAdapterSource = sharedAdapter
        self.style = style
        self.extraAdapters = extraAdapters
        self.contextWindow = min(max(64, contextWindow), generator.model.config.contextLength)
    }

    /// Forgets the session's turns (working memory); remembered turns stay in short-term memory.
    public func resetSession() {
        history = []
        sessionItemIDs = []
    }

    /// Reads the shared and personal adapters again (after training, or a new shared adapter).
    public func reloadAdapters() { loadedAdapters = false }

    private func loadAdapters() {
        guard !loadedAdapters else { return }
        loadedAdapters = true
        adapterNotes = []
        let config = generator.model.config
        do { shared = try sharedAdapterSource?(config) } catch {
            shared = nil
            adapterNotes.append("the shared adapter could not be loaded: \(error)")
        }
        personal = nil
        guard let home else { return }
        do {
            if let (adapter, meta) = try PersonalAdapterStore(home: home).load(model: config) {
                if meta.baseModelSHA256 == baseModelSHA256 {
                    personal = adapter
                } else {
                    adapterNotes.append("the personal adapter was trained on another base model and is not used: run `pclient train --full`")
                }
            }
        } catch {
            adapterNotes.append("the personal adapter could not be loaded: \(error)")
        }
    }

    /// Attaches exactly `adapters` to the model's maps. Done before every use (it only swaps
    /// references), so several assistants (one per user in an evaluation) can share one model.
    private func attach(_ adapters: [LoRAAdapter]) throws {
        for block in generator.model.blocks {
            for t in LoRATarget.allCases { t.linear(in: block).detachAll() }
        }
        for a in adapters { try a.attach(to: generator.model) }
    }

    /// Answers `question`, streaming generated text to `onToken` (return false to stop).
    public func ask(_ question: String, options: AskOptions = AskOptions(),
                    onToken: (String) -> Bool = { _ in true }) throws -> AssistantAnswer {
        let trimmed = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ClientError(.badInput, "the question is empty") }
        var notes: [String] = []
        let memory = options.useMemory ? home?.memory : nil
        if options.useMemory && home == nil { notes.append("no pclient home: answering without memory or adapters (run `pclient init`)") }

        // Adapters: extra, then shared, then personal.
        var active = extraAdapters
        var names = extraAdapters.isEmpty ? [] : ["extra ×\(extraAdapters.count)"]
        if options.useAdapters {
            loadAdapters()
            notes += adapterNotes
            if let shared { active.append(shared); names.append("shared") }
            if let personal { active.append(personal); names.append("personal") }
        }

        // Profile (written with the base and shared adapter only, not the personal one).
        var profile: String?
        if let home, memory != nil, options.useProfile {
            try attach(active.filter { $0 !== personal })
            profile = try ProfileStore(home: home).current(generator: generator, style: style)?.summary.text
        }
        try attach(active)

        // Retrieval, the session's own turns excluded (they are in the prompt already).
        var candidates: [RetrievedMemory] = []
        if let memory, options.k > 0 {
            candidates = try memory.search(question, limit: options.k + sessionItemIDs.count, tiers: options.tiers)
                .filter { !sessionItemIDs.contains($0.item.id) }.prefix(options.k)
                .map { RetrievedMemory(item: $0.item, score: $0.score) }
        }
        let answerRoom = options.choices == nil ? options.maxTokens : 64
        let budget = min(options.promptBudget ?? contextWindow - answerRoom, contextWindow - answerRoom)
        let prompt = try PromptBuilder(generator: generator, style: style).assemble(
            question: question, profile: profile, candidates: candidates,
            history: options.useWorkingMemory ? history : [], budget: budget)

        var text: String
        var generation: GenerationResult?
        var scores: [ChoiceScore]?
        session.reset()
        if let choices = options.choices {
            let ranked = try ConstrainedChoice.rank(choices, prompt: prompt.tokens, generator: generator, session: session)
            scores = ranked
            text = ranked[0].choice
            _ = onToken(text)
        } else {
            let result = try generator.generate(prompt: prompt.tokens, maxTokens: options.maxTokens,
                                                sampling: options.sampling, session: session) { _, piece in onToken(piece) }
            generation = result
            text = result.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        if options.useWorkingMemory {
            history += [ChatMessage(role: "user", content: question), ChatMessage(role: "assistant", content: text)]
            let capacity = home?.memory.schedule.workingCapacity ?? 50
            if history.count > capacity { history.removeFirst(history.count - capacity) }
        }
        if let memory, options.remember {
            let ids = try memory.add([
                NewItem(kind: .chatTurn, content: ItemContent(text: question, source: options.source, role: "user")),
                NewItem(kind: .chatTurn, content: ItemContent(text: text, source: options.source, role: "assistant")),
            ])
            sessionItemIDs.formUnion(ids)
            try memory.recordInteraction()
        }
        let explanation = AnswerExplanation(
            retrieved: prompt.retrieved, profile: prompt.profileUsed ? profile : nil, adapters: names,
            promptTokens: prompt.tokens.count, workingTurns: prompt.workingTurns, choiceScores: scores, notes: notes)
        return AssistantAnswer(text: text, explanation: explanation, generation: generation)
    }
}
