import Diagnostics
public import LLM
import Tokenizer
public import Memory
import Vault

/// How retrieved memories, the profile and the question become the user's message. The evaluation
/// renders LaMP history items its own way, so the item rendering is a closure; the same style must be
/// used for retrieval-augmented training and for answering, so the prompts match.
public struct PromptStyle: Sendable {
    /// A system message; nil keeps the model's own default.
    public var system: String?
    /// One retrieved item as a line of context.
    public var renderItem: @Sendable (MemoryItem) -> String
    /// The line above the retrieved items.
    public var contextHeader: String
    /// The line above the profile summary.
    public var profileHeader: String

    public init(system: String? = nil,
                contextHeader: String = "Facts about me:",
                profileHeader: String = "About the user:",
                renderItem: @escaping @Sendable (MemoryItem) -> String = PromptStyle.defaultRender) {
        self.system = system
        self.renderItem = renderItem
        self.contextHeader = contextHeader
        self.profileHeader = profileHeader
    }

    public static let `default` = PromptStyle()

    /// A behaviour as "input → output", a note or chat turn as its text.
    public static let defaultRender: @Sendable (MemoryItem) -> String = { item in
        if let output = item.content.output, !output.isEmpty {
            return item.content.text + " → " + output
        }
        if let role = item.content.role, item.kind == .chatTurn { return role + ": " + item.content.text }
        return item.content.text
    }

    /// The user message for `question` with a profile and context items (best first), or the bare
    /// question when there are neither.
    public func userMessage(question: String, profile: String?, items: [MemoryItem]) -> String {
        var parts: [String] = []
        if let profile, !profile.isEmpty { parts.append(profileHeader + "\n" + profile) }
        if !items.isEmpty {
            parts.append(contextHeader + "\n" + items.map { "- " + renderItem($0) }.joined(separator: "\n"))
        }
        parts.append(question)
        return parts.joined(separator: "\n\n")
    }
}

/// A memory retrieved for a question, with the scores that ranked it and whether it was used.
public struct RetrievedMemory: Sendable {
    public var item: MemoryItem
    /// The search's fused rank score.
    public var score: Double
    /// The calibrated relevance and the threshold it was held to (with relevance retrieval).
    public var relevance: Double?
    public var threshold: Double?
    /// Whether it made it into the prompt.
    public var included: Bool
    /// Why not: below the threshold, replaced since, beyond k, or over the context budget.
    public var leftOut: String?

    public init(item: MemoryItem, score: Double, relevance: Double? = nil, threshold: Double? = nil,
                included: Bool = true, leftOut: String? = nil) {
        self.item = item
        self.score = score
        self.relevance = relevance
        self.threshold = threshold
        self.included = included
        self.leftOut = leftOut
    }
}

/// An assembled prompt: token ids ready for generation and what went into them.
public struct AssembledPrompt: Sendable {
    public var messages: [ChatMessage]
    public var tokens: [Int]
    /// Every candidate memory, best first, with `included` set.
    public var retrieved: [RetrievedMemory]
    public var profileUsed: Bool
    /// Earlier turns of the session that fit.
    public var workingTurns: Int
}

/// Assembles prompts within a token budget. What goes first when the prompt is too long: the least
/// relevant retrieved item, then the next, …; then the oldest session turns; then the profile.
/// The question is never cut: when it alone does not fit, assembly fails with a clear error.
public struct PromptBuilder {
    public let generator: TextGenerator
    public var style: PromptStyle

    public init(generator: TextGenerator, style: PromptStyle = .default) {
        self.generator = generator
        self.style = style
    }

    /// Token ids of `messages` rendered with the chat template, ending with the assistant's opening.
    public func tokens(_ messages: [ChatMessage]) -> [Int] {
        generator.tokenizer.encode(generator.template.render(messages, addGenerationPrompt: true), parseSpecial: true)
    }

    func messages(question: String, profile: String?, items: [MemoryItem], history: ArraySlice<ChatMessage>) -> [ChatMessage] {
        var out: [ChatMessage] = []
        if let system = style.system { out.append(ChatMessage(role: "system", content: system)) }
        out += history
        out.append(ChatMessage(role: "user", content: style.userMessage(question: question, profile: profile, items: items)))
        return out
    }

    /// - Parameters:
    ///   - candidates: retrieved memories, most relevant first.
    ///   - history: the session's earlier turns, oldest first.
    ///   - budget: the most prompt tokens allowed (leave room for the answer).
    public func assemble(question: String, profile: String?, candidates: [RetrievedMemory],
                         history: [ChatMessage] = [], budget: Int) throws -> AssembledPrompt {
        // Only the candidates retrieval chose; the others come back as they were, for the explanation.
        let usable = candidates.indices.filter { candidates[$0].included && candidates[$0].leftOut == nil }
        var kept = usable.count
        var firstTurn = 0
        var useProfile = profile != nil && !(profile ?? "").isEmpty
        while true {
            let msgs = messages(question: question, profile: useProfile ? profile : nil,
                                items: usable.prefix(kept).map { candidates[$0].item }, history: history[firstTurn...])
            let ids = tokens(msgs)
            if ids.count <= budget {
                var retrieved = candidates
                for i in usable.dropFirst(kept) {
                    retrieved[i].included = false
                    retrieved[i].leftOut = "over the context budget"
                }
                return AssembledPrompt(messages: msgs, tokens: ids, retrieved: retrieved, profileUsed: useProfile,
                                       workingTurns: history.count - firstTurn)
            }
            if kept > 0 {
                kept -= 1
            } else if firstTurn < history.count {
                // Turns go in pairs (question and answer) where they can.
                firstTurn = min(history.count, firstTurn + 2)
            } else if useProfile {
                useProfile = false
            } else {
                throw ClientError(.badInput, "the question alone takes \(ids.count) tokens and the prompt budget is \(budget): ask a shorter question or allow a longer context")
            }
        }
    }
}
