import Diagnostics
import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String       // "system", "user", "assistant"
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// ChatML, the template of the GGUF's `tokenizer.chat_template`:
///     <|im_start|>role\ncontent<|im_end|>\n … <|im_start|>assistant\n
/// The template's Jinja text is not executed; it is recognised as ChatML and its default system
/// message (inserted when the conversation has none) is read out of it.
public struct ChatTemplate: Sendable, Equatable {
    public var defaultSystemMessage: String?
    public static let start = "<|im_start|>"
    public static let end = "<|im_end|>"

    public init(defaultSystemMessage: String?) {
        self.defaultSystemMessage = defaultSystemMessage
    }

    /// Reads the GGUF's template text; nil when the model has none (ChatML without a default system).
    public init(jinja: String?) throws {
        guard let jinja else { self.init(defaultSystemMessage: nil); return }
        guard jinja.contains(Self.start), jinja.contains(Self.end) else {
            throw LLMError(.unsupportedModel, "the model's chat template is not ChatML; only ChatML templates are supported")
        }
        self.init(defaultSystemMessage: Self.defaultSystem(in: jinja))
    }

    /// The literal system turn a ChatML template inserts when the first message is not a system one,
    /// e.g. `'<|im_start|>system\nYou are a helpful AI assistant…<|im_end|>\n'`.
    static func defaultSystem(in jinja: String) -> String? {
        // The newline after the role may be a real one or a Jinja escape (`\n`), depending on how the
        // template was written into the file.
        for marker in [Self.start + "system\n", Self.start + "system\\n"] {
            guard let open = jinja.range(of: marker),
                  let close = jinja.range(of: Self.end, range: open.upperBound..<jinja.endIndex) else { continue }
            let text = String(jinja[open.upperBound..<close.lowerBound])
            // Inside a Jinja string literal: undo its escapes.
            return text.replacingOccurrences(of: "\\n", with: "\n").replacingOccurrences(of: "\\'", with: "'")
        }
        return nil
    }

    /// The prompt text for `messages`, ending with the assistant's opening when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if messages.first?.role != "system", let system = defaultSystemMessage {
            out += Self.start + "system\n" + system + Self.end + "\n"
        }
        for m in messages {
            out += Self.start + m.role + "\n" + m.content + Self.end + "\n"
        }
        if addGenerationPrompt { out += Self.start + "assistant\n" }
        return out
    }
}
