import Diagnostics
import Foundation
public import LLM
import Tokenizer
public import Memory
public import Tuning
public import Vault

/// What an adapter that cannot be used does to a question.
public enum UnusableAdapterPolicy: Sendable {
    /// The question fails with the adapter's error (and its remedy).
    case fail
    /// The answer comes without the adapter, and its explanation carries a warning to show with it.
    case warn
}

/// How one question is answered. The evaluation's methods map onto these switches:
/// none (no memory, no profile, no adapters), rag (k), pag (profile), oppu (adapters, k = 0),
/// oppu+rag, malp (tiers + adapter, turns remembered), fed (shared + personal adapters).
public struct AskOptions: Sendable {
    /// How memories are chosen for the prompt.
    public enum Retrieval: Sendable {
        /// Only memories the relevance model accepts (at most `k`): an unrelated question retrieves
        /// nothing, and its prompt is the no-memory prompt.
        case relevant(RelevanceModel)
        /// The `k` best whatever their relevance (OPPU's retrieval for LaMP tasks, whose questions are
        /// always about the user's history).
        case topK
    }

    /// Memories retrieved at most (hybrid BM25 + dense search over `tiers`); 0 retrieves none.
    public var k = 4
    public var tiers: Set<Tier> = [.short, .long]
    public var retrieval: Retrieval = .relevant(.calibrated)
    /// What retrieval may return: notes and behaviour by default. Conversation turns are working
    /// memory of their own session, and the assistant's replies are never facts about the user.
    public var kinds: Set<ItemKind> = ItemKind.retrievable
    /// Use the memory store at all: retrieval, profile, and remembering the turn.
    public var useMemory = true
    /// OPPU's profile summary (PAG), written from long-term memory and cached sealed, for models of
    /// at least `profileMinimumParameters`: a small model's summary is generic ("The user's preference
    /// is for technology…") and leaks into unrelated answers (docs/personalization.md).
    public var useProfile = true
    public var profileMinimumParameters = 1_000_000_000
    /// Attach the shared and personal adapters (when they exist).
    public var useAdapters = true
    /// When the personal adapter applies.
    public enum PersonalAdapterUse: Sendable {
        /// To every question (OPPU's method: LaMP tasks are always about the user's history).
        case always
        /// To questions about the user: a memory was used, or the question is in the first person and
        /// not a request for advice. A general question gets the base model's answer.
        case personalQuestions
    }
    public var personalAdapter: PersonalAdapterUse = .personalQuestions
    /// Earlier turns of this session go into the prompt (working memory).
    public var useWorkingMemory = true
    /// Store the question and answer as a chat turn and a reply in short-term memory, each statement the
    /// user makes about themselves ("My dog is called Biscuit.") as a note in their own words, and record
    /// the interaction (MaLP's schedule then consolidates and refreshes).
    public var remember = true
    /// The `source` of remembered turns ("ask", "chat", …).
    public var source = "ask"
    public var maxTokens = 256
    public var sampling: SamplingParameters = .answer
    /// When given, the answer is the most probable of these strings (see `ConstrainedChoice`).
    public var choices: [String]?
    /// Prompt tokens allowed; default: the assistant's context window minus `maxTokens`.
    public var promptBudget: Int?
    /// What a shared or personal adapter that cannot be used (corrupt, or made for another base model)
    /// does to the question: an error (the default), or an answer without it carrying a warning.
    public var unusableAdapter: UnusableAdapterPolicy = .fail
    /// Worker threads of this question's generation; default: the model's.
    public var threads: Int?

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
    /// The prompt's token ids as the model saw them.
    public var promptIDs: [Int] = []
    public var workingTurns: Int
    public var choiceScores: [ChoiceScore]?
    /// Things the user should know (e.g. no home).
    public var notes: [String]
    /// What made this answer worse than asked (an adapter left out): shown with every answer, not
    /// only when the explanation is asked for.
    public var warnings: [String]
    /// Notes taken from what the user said about themselves in the question (and what they superseded).
    public var learned: [Remembered] = []
}

public struct AssistantAnswer: Sendable {
    public var text: String
    public var explanation: AnswerExplanation
    /// Nil for a choice-constrained answer (it is scored, not generated).
    public var generation: GenerationResult?
}

/// One conversation's state: its turns (working memory), the memory items it stored, and the KV
/// cache it reuses. One per task: a conversation is not shared between threads, an assistant is.
public final class Conversation {
    /// The session's turns, oldest first.
    public fileprivate(set) var history: [ChatMessage] = []
    fileprivate var storedItemIDs: Set<Int64> = []
    fileprivate var session: InferenceSession?

    public init() {}

    /// Forgets the turns; remembered turns stay in short-term memory.
    public func reset() {
        history = []
        storedItemIDs = []
    }
}

/// The assistant pipeline over one loaded, shared model: working memory of a conversation, hybrid
/// retrieval from short- and long-term memory, the profile summary, prompt assembly within the context
/// budget, generation with base + shared + personal adapters (passed to the session, never attached to
/// the model), the turn remembered. Built once and asked many times; questions in different
/// `Conversation`s may be asked from several tasks at once.
public final class Assistant: @unchecked Sendable {
    public let generator: TextGenerator
    public let home: UnlockedHome?
    public let style: PromptStyle
    public let baseModelSHA256: String
    public let sharedAdapterSource: SharedAdapterSource?
    /// Adapters always applied (e.g. `--adapter` folders), below the shared and personal ones.
    public let extraAdapters: [LoRAAdapter]
    /// Positions of the KV cache: prompt and answer together.
    public let contextWindow: Int

    /// The adapters as stacks for the loaded model, read once (until `reloadAdapters`): the extra
    /// ones, and the home's shared and personal ones or why they cannot be used.
    private struct LoadedAdapters {
        var extra: Result<AdapterStack, any Error>
        var shared: Result<AdapterStack?, any Error>
        var personal: Result<AdapterStack?, any Error>
    }
    private let lock = NSLock()
    private var loadedAdapters: LoadedAdapters?
    /// The conversation of `ask(_:options:onToken:)`; its questions run one at a time.
    private let defaultConversation = Conversation()
    private let defaultLock = NSLock()

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

    /// The default conversation's turns, oldest first.
    public var history: [ChatMessage] {
        defaultLock.lock()
        defer { defaultLock.unlock() }
        return defaultConversation.history
    }

    /// Forgets the default conversation's turns (working memory); remembered turns stay in short-term memory.
    public func resetSession() {
        defaultLock.lock()
        defer { defaultLock.unlock() }
        defaultConversation.reset()
    }

    /// Reads the shared and personal adapters again (after training, or a new shared adapter).
    public func reloadAdapters() {
        lock.lock()
        defer { lock.unlock() }
        loadedAdapters = nil
    }

    private func adapters() -> LoadedAdapters {
        lock.lock()
        defer { lock.unlock() }
        if let loadedAdapters { return loadedAdapters }
        let model = generator.model
        let config = model.config
        let extra = Result { try extraAdapters.stack(for: model) }
        let shared = Result<AdapterStack?, any Error> {
            do { return try sharedAdapterSource?(config)?.stack(for: model) } catch {
                throw ClientError(.corrupt, "the shared adapter cannot be used: \(error)",
                                  remedy: "`pclient sync` fetches it again; --no-adapters answers without adapters, --skip-unusable-adapters without this one")
            }
        }
        let personal = Result<AdapterStack?, any Error> {
            guard let home else { return nil }
            let loaded: (LoRAAdapter, PersonalAdapterMetadata)?
            do { loaded = try PersonalAdapterStore(home: home).load(model: config) } catch {
                throw ClientError(.corrupt, "the personal adapter cannot be used: \(error)",
                                  remedy: "--no-adapters answers without adapters, --skip-unusable-adapters without this one")
            }
            guard let (adapter, meta) = loaded else { return nil }
            guard meta.baseModelSHA256 == baseModelSHA256 else {
                throw ClientError(.badInput, "the personal adapter was trained on another base model and cannot be used with this one",
                                  remedy: "`pclient train --full` retrains it on this model; --no-adapters answers without adapters, --skip-unusable-adapters without this one")
            }
            return try adapter.stack(for: model)
        }
        let loaded = LoadedAdapters(extra: extra, shared: shared, personal: personal)
        loadedAdapters = loaded
        return loaded
    }

    /// The memories for `question`: with `.relevant`, every candidate the search found (up to k + 4)
    /// with its relevance, those below the threshold or replaced since marked left out; only the used
    /// ones are rehearsed.
    func retrieve(_ question: String, from memory: MemoryStore, options: AskOptions, excluding own: Set<Int64>) throws -> [RetrievedMemory] {
        switch options.retrieval {
        case .topK:
            return try memory.search(question, limit: options.k + own.count, tiers: options.tiers, kinds: options.kinds)
                .filter { !own.contains($0.item.id) }.prefix(options.k)
                .map { RetrievedMemory(item: $0.item, score: $0.score) }
        case .relevant(let model):
            let everything = model.withThreshold(0)
            let hits = try memory.search(question, limit: options.k + own.count + 4, tiers: options.tiers, kinds: options.kinds,
                                         includeReplaced: true, relevance: everything, rehearse: false)
                .filter { !own.contains($0.item.id) }
            var used = 0
            let out = hits.map { hit -> RetrievedMemory in
                let threshold = model.threshold(dense: hit.similarity != nil)
                var r = RetrievedMemory(item: hit.item, score: hit.score, relevance: hit.relevance, threshold: threshold)
                if let by = hit.item.replacedBy {
                    r.included = false
                    r.leftOut = hit.item.replacement == .edited ? "edited since (#\(by))" : "superseded by #\(by)"
                } else if hit.item.kind == .behaviour ? !model.acceptsBehaviour(similarity: hit.similarity, coverage: hit.coverage ?? 0)
                                                      : (hit.relevance ?? 0) < threshold {
                    r.included = false
                    r.leftOut = hit.item.kind == .behaviour ? "not like this question (a past task of yours)" : "not relevant enough"
                } else if used >= options.k {
                    r.included = false
                    r.leftOut = "beyond k = \(options.k)"
                } else {
                    used += 1
                }
                return r
            }
            try memory.rehearse(out.filter(\.included).map(\.item.id))
            return out
        }
    }

    /// Answers `question` in the assistant's default conversation (one question at a time), streaming
    /// generated text to `onToken` (return false to stop).
    public func ask(_ question: String, options: AskOptions = AskOptions(),
                    onToken: (String) -> Bool = { _ in true }) throws -> AssistantAnswer {
        defaultLock.lock()
        defer { defaultLock.unlock() }
        return try ask(question, options: options, in: defaultConversation, onToken: onToken)
    }

    /// Answers `question` in `conversation`, streaming generated text to `onToken` (return false to stop).
    public func ask(_ question: String, options: AskOptions = AskOptions(), in conversation: Conversation,
                    onToken: (String) -> Bool = { _ in true }) throws -> AssistantAnswer {
        let trimmed = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw ClientError(.badInput, "the question is empty") }
        var notes: [String] = []
        var warnings: [String] = []
        let memory = options.useMemory ? home?.memory : nil
        if options.useMemory && home == nil { notes.append("no pclient home: answering without memory or adapters (run `pclient init`)") }

        // Adapters: extra, then shared, then personal.
        let loaded = adapters()
        var names = extraAdapters.isEmpty ? [] : ["extra ×\(extraAdapters.count)"]
        var base = try loaded.extra.get()
        var personal: AdapterStack?
        if options.useAdapters {
            func usable(_ result: Result<AdapterStack?, any Error>) throws -> AdapterStack? {
                do { return try result.get() } catch {
                    guard options.unusableAdapter == .warn else { throw error }
                    warnings.append("\(error)")
                    return nil
                }
            }
            if let shared = try usable(loaded.shared) {
                base = try base.appending(shared)
                names.append("shared")
            }
            personal = try usable(loaded.personal)
        }

        // Profile (written with the base and shared adapter only, not the personal one).
        var profile: String?
        if let home, memory != nil, options.useProfile, generator.model.config.parameterCount >= options.profileMinimumParameters {
            profile = try ProfileStore(home: home).current(generator: generator, style: style, adapters: base)?.summary.text
        }

        // Retrieval: the relevant current notes and behaviour (the conversation's own turns are in the
        // prompt already). Candidates below the threshold or replaced since are kept for the explanation.
        var candidates: [RetrievedMemory] = []
        if let memory, options.k > 0 {
            candidates = try retrieve(question, from: memory, options: options, excluding: conversation.storedItemIDs)
        }

        // The personal adapter answers questions about the user: what retrieval found memories for, or
        // what is asked in the first person and is not a request for advice. Others get the base (and
        // shared) model's answer, so personalisation cannot spoil them (docs/personalization.md).
        if personal != nil, options.personalAdapter == .personalQuestions,
           !candidates.contains(where: \.included),
           !(RelevanceModel.refersToUser(question) && !RelevanceModel.asksAdvice(question)) {
            personal = nil
            notes.append("personal adapter not used: the question is not about you and no memory was used (AskOptions.personalAdapter = .always uses it anyway)")
        }
        if personal != nil { names.append("personal") }
        let active = try personal.map { try base.appending($0) } ?? base
        let answerRoom = options.choices == nil ? options.maxTokens : 64
        let budget = min(options.promptBudget ?? contextWindow - answerRoom, contextWindow - answerRoom)
        let prompt = try PromptBuilder(generator: generator, style: style).assemble(
            question: question, profile: profile, candidates: candidates,
            history: options.useWorkingMemory ? conversation.history : [], budget: budget)

        var text: String
        var generation: GenerationResult?
        var scores: [ChoiceScore]?
        let session: InferenceSession
        if let existing = conversation.session, options.threads == nil || existing.threads == options.threads {
            session = existing
            session.reset(adapters: active)
        } else {
            session = InferenceSession(model: generator.model, adapters: active, capacity: contextWindow, threads: options.threads)
            conversation.session = session
        }
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
            conversation.history += [ChatMessage(role: "user", content: question), ChatMessage(role: "assistant", content: text)]
            let capacity = home?.memory.schedule.workingCapacity ?? 50
            if conversation.history.count > capacity { conversation.history.removeFirst(conversation.history.count - capacity) }
        }
        var learned: [Remembered] = []
        if let memory, options.remember {
            let ids = try memory.add([
                NewItem(kind: .chatTurn, content: ItemContent(text: question, source: options.source, role: "user")),
                NewItem(kind: .reply, content: ItemContent(text: text, source: options.source, role: "assistant")),
            ])
            conversation.storedItemIDs.formUnion(ids)
            // What the user said about themselves becomes a note, in their own words (MaLP's consolidation, by rules).
            let statements = NoteExtraction.statements(in: question)
            if !statements.isEmpty {
                learned = try memory.remember(statements.map {
                    NewItem(kind: .note, content: ItemContent(text: $0, source: options.source), tier: .long, importance: 0.9)
                })
            }
            try memory.recordInteraction()
        }
        var explanation = AnswerExplanation(
            retrieved: prompt.retrieved, profile: prompt.profileUsed ? profile : nil, adapters: names,
            promptTokens: prompt.tokens.count, workingTurns: prompt.workingTurns, choiceScores: scores, notes: notes,
            warnings: warnings, learned: learned)
        explanation.promptIDs = prompt.tokens
        return AssistantAnswer(text: text, explanation: explanation, generation: generation)
    }
}
