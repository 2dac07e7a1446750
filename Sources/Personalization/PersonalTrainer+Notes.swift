import Diagnostics
import Foundation
import LLM
import Memory
import Randomness
import Seal
import Tokenizer
import Tuning
import Vault

/// The examples notes add: their questions, and the base model's own answers to general questions.
extension PersonalTrainer {
    /// Fewest distillation examples a training with notes mixes in.
    static let minimumDistillationExamples = 8
    /// Tokens of each distillation answer: enough for the base model's first sentences, which is
    /// what an adapter trained on short note answers would otherwise change.
    public static let distillationMaxTokens = 48

    /// A note's questions, each answered from its own words (`NoteQuestions`).
    func noteExamples(_ note: MemoryItem, options: PersonalTrainingOptions) throws -> [TrainingExample] {
        try NoteQuestions.pairs(for: note.content.text).map {
            try questionExample($0.question, answer: $0.answer, ended: true, options: options)
        }
    }

    /// `count` general questions (`DistillationPrompts`, a seeded pick, repeated when more are asked
    /// for than there are) with the base model's own answers as targets.
    func distillationExamples(count: Int, options: PersonalTrainingOptions) throws -> [TrainingExample] {
        var rng = SplitMix64(seed: options.seed ^ 0x6469_7374_696C_6C)
        var order: [String] = []
        while order.count < count { order += DistillationPrompts.all.shuffled(using: &rng) }
        let questions = Array(order.prefix(count))
        let answers = try baseAnswers(to: questions, options: options)
        return try questions.map { q in
            let a = answers[q]!
            return try questionExample(q, answer: a.text, ended: a.ended, options: options)
        }
    }

    /// A bare question as the user turn (default system message), as the assistant renders it with
    /// memory off; target = `answer`, then the end token when the answer ended there.
    func questionExample(_ question: String, answer: String, ended: Bool, options: PersonalTrainingOptions) throws -> TrainingExample {
        let tok = generator.tokenizer
        var target = tok.encode(answer, parseSpecial: false)
        if ended, let end = tok.id(of: LLM.ChatTemplate.end) { target.append(end) }
        let prompt = try questionPrompt(question, budget: max(8, options.maxSequenceLength - target.count))
        return TrainingExample(prompt: prompt, target: target)
    }

    func questionPrompt(_ question: String, budget: Int) throws -> [Int] {
        let builder = PromptBuilder(generator: generator, style: style)
        do {
            return try builder.assemble(question: question, profile: nil, candidates: [], budget: budget).tokens
        } catch {
            // The question alone is longer than the budget: the trainer keeps the sequence's end.
            return builder.tokens(builder.messages(question: question, profile: nil, items: [], history: []))
        }
    }

    /// The base model's answers (no adapters, `SamplingParameters.answer`, `distillationMaxTokens`)
    /// to `questions`: from the home's sealed cache, the missing ones generated and added to it.
    func baseAnswers(to questions: [String], options: PersonalTrainingOptions) throws -> [String: DistillationCache.Answer] {
        let cache = DistillationCache(home: home)
        let sampling = SamplingParameters.answer
        var contents = try cache.load()
        if contents?.baseModelSHA256 != baseModelSHA256 || contents?.maxTokens != Self.distillationMaxTokens
            || contents?.noRepeatNgram != sampling.noRepeatNgram {
            contents = DistillationCache.Contents(baseModelSHA256: baseModelSHA256, maxTokens: Self.distillationMaxTokens,
                                                  noRepeatNgram: sampling.noRepeatNgram, answers: [:])
        }
        var answers = contents!.answers
        let missing = Array(Set(questions.filter { answers[$0] == nil })).sorted()
        guard !missing.isEmpty else { return answers }
        let session = InferenceSession(model: generator.model, capacity: min(generator.model.config.contextLength, 512))
        for question in missing {
            session.reset()
            let prompt = try questionPrompt(question, budget: session.capacity - Self.distillationMaxTokens - 1)
            let result = try generator.generate(prompt: prompt, maxTokens: Self.distillationMaxTokens, sampling: sampling,
                                                session: session)
            answers[question] = DistillationCache.Answer(text: result.text, ended: result.stopReason == .endOfGeneration)
        }
        contents!.answers = answers
        try cache.save(contents!)
        return answers
    }
}

/// The base model's own answers to `DistillationPrompts`, cached sealed at
/// `<home>/adapters/distillation.sealed` (JSON under the file-sealing subkey), for one base model and
/// generation setting: answering them costs seconds at every training, reading them none. The text
/// is not the user's, but everything the home keeps is sealed.
struct DistillationCache {
    struct Answer: Codable, Sendable, Equatable {
        var text: String
        /// The answer ended with the end token (not cut at the token limit).
        var ended: Bool
    }

    struct Contents: Codable, Sendable {
        var format = 1
        var baseModelSHA256: String
        var maxTokens: Int
        var noRepeatNgram: Int
        /// Question → answer.
        var answers: [String: Answer]
    }

    let home: UnlockedHome

    var directory: String { home.home.path + "/adapters" }
    var path: String { SealedHomeFile(.distillation, in: home).path }

    func load() throws -> Contents? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let plain = try SealedHomeFile(.distillation, in: home).read()
            return try JSONDecoder().decode(Contents.self, from: Data(plain))
        } catch {
            throw ClientError(.corrupt, "\(path) does not open with this home's key or cannot be read",
                              remedy: "delete it: the next `pclient train` answers the general questions again", cause: error)
        }
    }

    func save(_ contents: Contents) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClientError(.io, "cannot create \(directory): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try SealedHomeFile(.distillation, in: home).write(Array(try encoder.encode(contents)))
    }
}
