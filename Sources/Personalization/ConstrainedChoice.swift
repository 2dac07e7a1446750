#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import LLM
import Diagnostics
import Tokenizer
import Vault

/// Choice-constrained decoding by scoring: the answer is the choice whose whole token sequence,
/// followed by the end-of-turn token, is most probable after the prompt:
///
///     score(c) = log p(c₁ | prompt) + Σᵢ log p(cᵢ | prompt, c₁…cᵢ₋₁) + log p(<|im_end|> | prompt, c)
///
/// The end token makes "Bar" and "Barn" different answers and lets a short choice win only when
/// the model would stop there. The prompt runs through the model once; each choice then reuses its
/// KV cache (the session is rewound to the end of the prompt), so a label set costs one prompt pass
/// plus one batched pass per choice. The result is always one of the choices.
public struct ChoiceScore: Sendable, Equatable {
    public var choice: String
    /// Sum of token log-probabilities (natural log), end token included.
    public var logProbability: Double
    public var tokens: Int
}

public enum ConstrainedChoice {
    /// Scores every choice after `prompt` and returns them best first, in `session` (with its adapters)
    /// when given, else in a new one with `adapters`. Duplicates and empty choices are refused; at
    /// least one choice is needed.
    public static func rank(_ choices: [String], prompt: [Int], generator: TextGenerator, adapters: AdapterStack = .none,
                            session existing: InferenceSession? = nil) throws -> [ChoiceScore] {
        let distinct = Array(Set(choices))
        guard !choices.isEmpty else { throw ClientError(.badInput, "choice-constrained decoding needs at least one choice") }
        guard distinct.count == choices.count else { throw ClientError(.badInput, "the choices repeat a value: give each choice once") }
        guard !choices.contains(where: { $0.isEmpty }) else { throw ClientError(.badInput, "a choice is empty: give non-empty choices") }
        let tok = generator.tokenizer
        let end = tok.id(of: ChatTemplate.end) ?? tok.eosID
        let sequences = choices.map { tok.encode($0, parseSpecial: false) + (end.map { [$0] } ?? []) }
        let longest = sequences.map(\.count).max() ?? 0
        let session = existing ?? InferenceSession(model: generator.model, adapters: adapters,
                                                   capacity: min(generator.model.config.contextLength, prompt.count + longest + 1))
        guard prompt.count + longest <= session.capacity else {
            throw ClientError(.badInput, "the prompt (\(prompt.count) tokens) and the longest choice (\(longest)) do not fit the context of \(session.capacity)")
        }
        session.reset()
        let first = try session.forward(prompt)
        let start = session.position
        let vocab = generator.model.config.vocabularySize
        var scores: [ChoiceScore] = []
        for (choice, ids) in zip(choices, sequences) {
            var total = logSoftmax(first, at: ids[0], offset: 0, vocab: vocab)
            if ids.count > 1 {
                session.rewind(to: start)
                // Rows 0…n−2 predict ids[1…n−1].
                let rows = try session.forward(Array(ids.dropLast()), allLogits: true)
                for i in 1..<ids.count { total += logSoftmax(rows, at: ids[i], offset: (i - 1) * vocab, vocab: vocab) }
            }
            scores.append(ChoiceScore(choice: choice, logProbability: total, tokens: ids.count))
        }
        session.rewind(to: start)
        return scores.sorted { $0.logProbability > $1.logProbability }
    }

    /// log softmax(logits[offset ..< offset + vocab])[id], in double precision.
    static func logSoftmax(_ logits: [Float], at id: Int, offset: Int, vocab: Int) -> Double {
        var m = -Float.infinity
        for j in offset..<(offset + vocab) where logits[j] > m { m = logits[j] }
        var sum = 0.0
        for j in offset..<(offset + vocab) { sum += exp(Double(logits[j] - m)) }
        return Double(logits[offset + id] - m) - log(sum)
    }
}
