import Foundation
public import LLM
import Memory
import Tokenizer
public import Vault

/// The profile summary (PAG) written by the model; the sealed cache it goes to is in Vault.
extension ProfileStore {
    /// The summary of the current long-term memory: the cached one when memory has not changed,
    /// else a new one written by `generator` with `adapters` and cached. Nil when long-term memory is empty.
    public func current(generator: TextGenerator, style: PromptStyle = .default,
                        adapters: AdapterStack = .none) throws -> (summary: ProfileSummary, fresh: Bool)? {
        let items = try home.memory.trainingSet()
        guard !items.isEmpty else { return nil }
        let mark = Self.watermark(items)
        if let c = try cached(), c.watermark == mark { return (c, false) }
        let text = try write(items: items, generator: generator, style: style, adapters: adapters)
        let summary = ProfileSummary(text: text, watermark: mark, written: ISO8601DateFormatter().string(from: Date()))
        try save(summary)
        return (summary, true)
    }

    /// Asks the model for the summary: the newest items that fit `itemBudget` tokens, then the request.
    func write(items: [MemoryItem], generator: TextGenerator, style: PromptStyle, adapters: AdapterStack = .none) throws -> String {
        var lines: [String] = []
        var used = 0
        for item in items.reversed() {
            let line = "- " + style.renderItem(item)
            let n = generator.tokenizer.encode(line, parseSpecial: false).count + 1
            if used + n > itemBudget { break }
            lines.append(line)
            used += n
        }
        let request = "Here is what a user did and said:\n" + lines.reversed().joined(separator: "\n")
            + "\n\nIn two or three short sentences, describe this user: their preferences, habits and style. Start with \"The user\"."
        var sampling = SamplingParameters.greedy
        sampling.repetitionPenalty = 1.3   // small models loop on lists otherwise
        let result = try generator.chat([ChatMessage(role: "user", content: request)], maxTokens: maxTokens, sampling: sampling,
                                    adapters: adapters)
        return Self.tidy(result.text)
    }

    /// At most three complete sentences on one line (a cut-off last sentence is dropped).
    static func tidy(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        var sentences: [String] = []
        var current = ""
        for ch in flat {
            current.append(ch)
            if ".!?".contains(ch) {
                sentences.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                if sentences.count == 3 { break }
            }
        }
        return sentences.isEmpty ? flat : sentences.joined(separator: " ")
    }
}
