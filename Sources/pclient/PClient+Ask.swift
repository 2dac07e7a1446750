import ArgumentParser
import Foundation
import LLM
import Tokenizer

extension PClient {
    struct Ask: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask the model a question and stream the answer.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        @Option(help: "A system message (default: the model's own).")
        var system: String?
        @Option(name: .customLong("max-tokens"), help: "Longest answer, in tokens.")
        var maxTokens: Int = 512
        @Flag(help: "Print prompt and decode speed after the answer (on stderr).")
        var stats = false

        @Argument(help: "The question.")
        var question: String

        func validate() throws {
            if question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw ValidationError("Please ask a question: the text is empty.")
            }
            guard maxTokens > 0 else { throw ValidationError("Please give a --max-tokens above 0.") }
        }

        func run() throws {
            let generator = try modelOptions.loadGenerator()
            var messages: [ChatMessage] = []
            if let system { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: question))
            let result = try generator.chat(messages, maxTokens: maxTokens, sampling: sampling.parameters) { _, piece in
                streamOut(piece)
                return true
            }
            streamOut("\n")
            if stats { printStats(result) }
        }
    }
}

func printStats(_ r: GenerationResult) {
    let line = String(
        format: "[%d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s, stop: %@]\n",
        r.promptTokens, r.promptTokensPerSecond, r.ids.count, r.decodeTokensPerSecond, r.stopReason.rawValue)
    FileHandle.standardError.write(Data(line.utf8))
}
