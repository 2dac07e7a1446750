import Diagnostics
import Foundation
import Randomness
public import LLM
import Tokenizer
public import Memory
public import Tuning
import Tensor
public import Vault

/// Where the shared (federated) adapter comes from: nil when there is none yet. It is frozen under
/// the personal adapter during training and attached with it when answering.
public typealias SharedAdapterSource = @Sendable (LlamaConfig) throws -> LoRAAdapter?

/// Settings of `pclient train`. The defaults are the recipe measured in issue 7 (r = 8 on every
/// linear map, 5 epochs at lr 1e-3: 67% on synthetic tagging users alone, 83% with retrieval, where
/// OPPU's published r = 8 on q,v at 3 epochs learned little on 40-item users).
public struct PersonalTrainingOptions: Sendable, Equatable {
    public var rank = 8
    public var alpha: Float = 16
    public var targets: [LoRATarget] = LoRATarget.allCases
    public var epochs = 5
    public var learningRate: Float = 1e-3
    public var maxSequenceLength = 256
    /// Retrieved items in each training prompt (OPPU+RAG); 0 trains on the bare inputs.
    public var ragK = 0
    /// Retrain from scratch instead of continuing from the saved adapter.
    public var full = false
    public var seed: UInt64 = 0

    public init() {}
}

/// What a training run did.
public struct PersonalTrainingSummary: Sendable {
    public enum Outcome: String, Sendable { case upToDate, trained }
    public var outcome: Outcome
    /// True when it continued from the saved adapter.
    public var incremental: Bool
    /// Long-term behaviour items not trained on before.
    public var newItems: Int
    /// Current notes not trained on before.
    public var newNotes: Int = 0
    /// All examples: behaviour items, note questions and distillation examples.
    public var examples: Int
    /// Of `examples`, the general questions with the base model's own answers (none without notes).
    public var distillationExamples: Int = 0
    public var steps: Int
    public var firstLoss: Double?
    public var lastLoss: Double?
    public var seconds: Double
    public var tokens: Int
    public var usedSharedAdapter: Bool
    /// Why a full retraining happened when an incremental one was possible to ask for.
    public var note: String?

    public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
}

/// Trains the personal adapter (an ordinary LoRA, A and B) on the home's memory, on top of the frozen
/// shared adapter when one exists, and seals it in the home:
/// - each long-term behaviour item becomes (prompt = its input as a user turn, target = the user's
///   own output);
/// - each current note (short- or long-term) the rules read (`NoteFrame`) becomes two or three
///   questions answered from its own words (`NoteQuestions`);
/// - with notes, as many general questions as note questions (at least 8) answered by the base
///   model itself (`DistillationPrompts`), so the adapter keeps answering other questions as the base
///   model did instead of answering a note to everything.
///
/// Incremental: only when there are behaviour items or notes not trained on before does it train,
/// continuing from the saved adapter on the new ones plus as many earlier ones replayed (so the
/// adapter does not forget them). `full`, another base model, other LoRA settings, another shared
/// adapter, or a note trained on that is no longer current retrain from scratch on everything.
public final class PersonalTrainer {
    public let home: UnlockedHome
    public let generator: TextGenerator
    public let baseModelSHA256: String
    public let sharedAdapter: SharedAdapterSource?
    public let style: PromptStyle

    public init(home: UnlockedHome, generator: TextGenerator, baseModelSHA256: String,
                sharedAdapter: SharedAdapterSource? = nil, style: PromptStyle = .default) {
        self.home = home
        self.generator = generator
        self.baseModelSHA256 = baseModelSHA256
        self.sharedAdapter = sharedAdapter
        self.style = style
    }

    /// The long-term behaviour items the adapter learns from, oldest first.
    public func trainingItems() throws -> [MemoryItem] {
        try home.memory.trainingSet().filter { $0.kind == .behaviour && !($0.content.output ?? "").isEmpty }
    }

    /// The current notes (short- and long-term) the adapter learns from, oldest first: those with
    /// questions to ask about them (see `NoteQuestions`).
    public func trainingNotes() throws -> [MemoryItem] {
        try home.memory.list(tiers: [.short, .long], kind: .note, limit: Int.max / 2).reversed()
            .filter { $0.isCurrent && !NoteQuestions.pairs(for: $0.content.text).isEmpty }
    }

    /// Trains when there is something new (or `options.full`), reporting every optimizer step.
    public func train(_ options: PersonalTrainingOptions, onStep: (StepReport) -> Void = { _ in }) throws -> PersonalTrainingSummary {
        let start = Date()
        let config = generator.model.config
        let items = try trainingItems()
        let notes = try trainingNotes()
        let store = PersonalAdapterStore(home: home)
        let shared = try sharedAdapter?(config)
        shared?.training = .frozen
        let sharedPrint = shared?.fingerprint
        let loraConfig = LoRAConfig(rank: options.rank, alpha: options.alpha, targets: options.targets)
        try loraConfig.validate()

        var previous: (adapter: LoRAAdapter, metadata: PersonalAdapterMetadata)?
        var note: String?
        if !options.full, let saved = try store.load(model: config, training: .full) {
            let m = saved.metadata
            if m.baseModelSHA256 != baseModelSHA256 {
                note = "the saved adapter was trained on another base model: retraining from scratch"
            } else if m.rank != loraConfig.rank || m.alpha != loraConfig.alpha || m.targets != loraConfig.targets.map(\.rawValue) {
                note = "the LoRA settings differ from the saved adapter's (rank \(m.rank), alpha \(m.alpha), targets \(m.targets.joined(separator: ","))): retraining from scratch"
            } else if m.sharedAdapterFingerprint != sharedPrint {
                note = "the shared adapter changed since the last training: retraining from scratch"
            } else {
                previous = saved
            }
        }
        if let saved = previous {
            let current = Set(notes.map(\.id))
            if saved.metadata.trainedNoteIDs?.contains(where: { !current.contains($0) }) == true {
                // An adapter cannot be told to forget one fact: training on the other notes would
                // leave the old answer in its weights. Starting again from zero drops it.
                note = "a note trained on before was replaced, edited or forgotten: retraining from scratch so the adapter no longer answers it"
                previous = nil
            }
        }
        let trained = Set(previous?.metadata.trainedItemIDs ?? [])
        let trainedNotes = Set(previous?.metadata.trainedNoteIDs ?? [])
        let fresh = items.filter { !trained.contains($0.id) }
        let freshNotes = notes.filter { !trainedNotes.contains($0.id) }
        if previous != nil, fresh.isEmpty, freshNotes.isEmpty {
            return PersonalTrainingSummary(outcome: .upToDate, incremental: true, newItems: 0, examples: 0, steps: 0,
                                           firstLoss: nil, lastLoss: nil, seconds: Date().timeIntervalSince(start), tokens: 0,
                                           usedSharedAdapter: shared != nil, note: nil)
        }
        guard !items.isEmpty || !notes.isEmpty else {
            throw ClientError(.badInput, "there is nothing to train on: long-term memory holds no behaviour items (an input and your own output), and memory holds no note read as a fact about you (\"My dog is called Biscuit.\")",
                              remedy: "import behaviour with `pclient memory import`, tell it facts with `pclient remember`, or let memory consolidate")
        }
        var chosen = fresh
        var chosenNotes = freshNotes
        if previous != nil {
            // Replay as many earlier items (and notes) as there are new ones (a seeded pick).
            var rng = SplitMix64(seed: options.seed ^ UInt64(items.count))
            let earlier = items.filter { trained.contains($0.id) }.shuffled(using: &rng)
            chosen += earlier.prefix(fresh.count)
            var noteRNG = SplitMix64(seed: options.seed ^ UInt64(notes.count) ^ 0x6E6F7465)
            let earlierNotes = notes.filter { trainedNotes.contains($0.id) }.shuffled(using: &noteRNG)
            chosenNotes += earlierNotes.prefix(freshNotes.count)
        }
        var examples = try chosen.map { try example($0, options: options) }
        let questions = try chosenNotes.flatMap { try noteExamples($0, options: options) }
        var distilled: [TrainingExample] = []
        if !questions.isEmpty {
            distilled = try distillationExamples(count: max(Self.minimumDistillationExamples, questions.count), options: options)
        }
        examples += questions + distilled

        let adapter = try previous?.adapter ?? LoRAAdapter(config: loraConfig, model: config, seed: options.seed)
        adapter.training = .full
        var trainerConfig = TrainerConfiguration()
        trainerConfig.epochs = options.epochs
        trainerConfig.learningRate = options.learningRate
        trainerConfig.seed = options.seed
        trainerConfig.maxSequenceLength = options.maxSequenceLength
        trainerConfig.warmupSteps = max(1, examples.count * options.epochs / 10)
        let trainingModel = try TrainingModel(model: generator.model, adapters: (shared.map { [$0] } ?? []) + [adapter])
        // bf16 base products where the CPU has AVX512_BF16: about twice the speed, same losses within
        // rounding (docs/benchmarks.md, "Training"); f32 elsewhere.
        trainingModel.precision = .bf16
        let reports = try Trainer(model: trainingModel, configuration: trainerConfig).train(examples, onStep: onStep)

        let metadata = PersonalAdapterMetadata(
            baseModelSHA256: baseModelSHA256, rank: loraConfig.rank, alpha: loraConfig.alpha,
            targets: loraConfig.targets.map(\.rawValue),
            trainedItemIDs: Array(trained.union(fresh.map(\.id))).sorted(), sharedAdapterFingerprint: sharedPrint,
            ragK: options.ragK, trainedAt: ISO8601DateFormatter().string(from: Date()),
            trainings: (previous?.metadata.trainings ?? 0) + 1, lastLoss: reports.last?.loss,
            trainedNoteIDs: notes.isEmpty && trainedNotes.isEmpty ? nil : Array(trainedNotes.union(freshNotes.map(\.id))).sorted())
        try store.save(adapter, metadata: metadata, model: config)
        return PersonalTrainingSummary(
            outcome: .trained, incremental: previous != nil, newItems: fresh.count, newNotes: freshNotes.count,
            examples: examples.count, distillationExamples: distilled.count,
            steps: reports.count, firstLoss: reports.first?.loss, lastLoss: reports.last?.loss,
            seconds: Date().timeIntervalSince(start), tokens: reports.reduce(0) { $0 + $1.tokens },
            usedSharedAdapter: shared != nil, note: note)
    }

    /// One behaviour item as a chat example; with `ragK`, its prompt carries the most similar other
    /// long-term items, rendered as when answering.
    func example(_ item: MemoryItem, options: PersonalTrainingOptions) throws -> TrainingExample {
        let tok = generator.tokenizer
        var target = tok.encode(item.content.output ?? "", parseSpecial: false)
        if let end = tok.id(of: LLM.ChatTemplate.end) { target.append(end) }
        var context: [RetrievedMemory] = []
        if options.ragK > 0 {
            context = try home.memory.search(item.content.text, limit: options.ragK + 1, tiers: [.long], rehearse: false)
                .filter { $0.item.id != item.id }.prefix(options.ragK)
                .map { RetrievedMemory(item: $0.item, score: $0.score) }
        }
        let builder = PromptBuilder(generator: generator, style: style)
        let budget = max(8, options.maxSequenceLength - target.count)
        let prompt: [Int]
        do {
            prompt = try builder.assemble(question: item.content.text, profile: nil, candidates: context, budget: budget).tokens
        } catch {
            // The input alone is longer than the budget: the trainer keeps the sequence's end.
            prompt = builder.tokens(builder.messages(question: item.content.text, profile: nil, items: [], history: []))
        }
        return TrainingExample(prompt: prompt, target: target)
    }
}
