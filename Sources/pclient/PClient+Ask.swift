import ArgumentParser
import Foundation
import LLM
import Memory
import Personalization
import Seal
import Tokenizer
import Tuning
import Vault

/// What `ask` and `chat` share: the model, the home, and how memory and adapters are used.
struct AssistantOptions: ParsableArguments {
    @Option(help: "A system message (default: the model's own).")
    var system: String?
    @Option(name: .customLong("max-tokens"), help: "Longest answer, in tokens.")
    var maxTokens: Int = 512
    @Option(help: "Memories to retrieve from short- and long-term memory (0: none).")
    var k: Int = 4
    @Flag(name: .customLong("no-memory"), help: "Do not use the memory store: no retrieval, no profile, the turn is not remembered.")
    var noMemory = false
    @Flag(name: .customLong("no-profile"), help: "Do not put the profile summary (written from long-term memory) in the prompt.")
    var noProfile = false
    @Flag(name: .customLong("no-adapters"), help: "Answer without the shared and personal adapters.")
    var noAdapters = false
    @Option(help: "Tokens of the context window (prompt and answer).")
    var context: Int = 2048
    @Flag(name: .customLong("skip-unusable-adapters"), help: "Answer without a shared or personal adapter that cannot be used (corrupt, or made for another model), with a warning on every answer, instead of failing.")
    var skipUnusableAdapters = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("Please give a --max-tokens above 0.") }
        guard k >= 0 else { throw ValidationError("Please give a --k of 0 or more.") }
        guard context >= 128 else { throw ValidationError("Please give a --context of at least 128 tokens.") }
    }

    var needsHome: Bool { !(noMemory && noAdapters) }

    func askOptions(sampling: SamplingParameters) -> AskOptions {
        var o = AskOptions()
        o.k = noMemory ? 0 : k
        o.useMemory = !noMemory
        o.useProfile = !noProfile
        o.useAdapters = !noAdapters
        o.remember = !noMemory
        o.maxTokens = maxTokens
        o.sampling = sampling
        o.unusableAdapter = skipUnusableAdapters ? .warn : .fail
        return o
    }

    /// Loads the model and opens the home when it exists (`AssistantBuilder` does the rest).
    func assistant(model modelOptions: ModelOptions, home homeOptions: HomeOptions) throws -> Assistant {
        var unlocked: UnlockedHome?
        if needsHome {
            if homeOptions.clientHome.isInitialized {
                unlocked = try homeOptions.unlock()
            } else {
                note("there is no pclient home at \(homeOptions.clientHome.path): a plain answer from the model, without memory or personal adapters (run `pclient init` to create one)")
            }
        }
        var builder = try modelOptions.builder()
        builder.style.system = system
        builder.contextWindow = context
        return try builder.build(home: unlocked)
    }
}

extension PClient {
    struct Ask: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask a question: answered with your memories, profile and adapters, and streamed.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var assistantOptions: AssistantOptions

        @Option(help: "Comma-separated answers to choose from: the answer is the most probable of them (scored, not generated).")
        var choices: String?
        @Flag(help: "Show which memories (with scores), profile and adapters shaped the answer (on stderr; it shows your own memory text).")
        var explain = false
        @Flag(help: "Print prompt and decode speed after the answer (on stderr).")
        var stats = false

        @Argument(help: "The question.")
        var question: String

        func validate() throws {
            if question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw ValidationError("Please ask a question: the text is empty.")
            }
            if let choices, choiceList(choices).isEmpty {
                throw ValidationError("Please give --choices as a comma-separated list, e.g. --choices yes,no.")
            }
        }

        func choiceList(_ text: String) -> [String] {
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func run() throws {
            let assistant = try assistantOptions.assistant(model: modelOptions, home: homeOptions)
            var options = assistantOptions.askOptions(sampling: sampling.parameters)
            options.choices = choices.map(choiceList)
            let answer = try assistant.ask(question, options: options) { piece in
                streamOut(piece)
                return true
            }
            streamOut("\n")
            printWarnings(answer.explanation)
            if explain { printExplanation(answer.explanation) }
            if stats, let g = answer.generation { printStats(g) }
        }
    }
}

/// The explanation, on stderr: the user's own memory text, shown only on their terminal.
func printExplanation(_ e: AnswerExplanation) {
    var out = "── why this answer ──\n"
    out += "prompt: \(e.promptTokens) tokens; earlier turns of this session: \(e.workingTurns)\n"
    out += "adapters: \(e.adapters.isEmpty ? "none (base model only)" : e.adapters.joined(separator: " + "))\n"
    out += "profile: \(e.profile.map { "used — \($0)" } ?? "not used")\n"
    if e.retrieved.isEmpty {
        out += "memories: none found\n"
    } else {
        out += "memories (best first; relevance = calibrated probability, used at ≥ threshold):\n"
        for r in e.retrieved {
            let text = PromptStyle.defaultRender(r.item).replacingOccurrences(of: "\n", with: " ")
            let relevance = r.relevance.map { String(format: "relevance %.2f", $0) + (r.threshold.map { String(format: " / %.2f", $0) } ?? "") }
                ?? String(format: "score %.4f", r.score)
            let verdict = r.included ? "used" : "left out: " + (r.leftOut ?? "not used")
            out += "  #\(r.item.id)  \(relevance)  \(r.item.tier.rawValue)/\(r.item.kind.rawValue)  \(verdict)  \(text)\n"
        }
    }
    for learned in e.learned where learned.stored {
        out += "remembered as a note: #\(learned.id)" + (learned.superseded.isEmpty ? "" : " (supersedes " + learned.superseded.map { "#\($0)" }.joined(separator: ", ") + ")") + "\n"
    }
    if let scores = e.choiceScores {
        out += "choices (log-probability of the whole answer):\n"
        for s in scores { out += String(format: "  %.3f  %@\n", s.logProbability, s.choice) }
    }
    for n in e.notes { out += "note: \(n)\n" }
    FileHandle.standardError.write(Data(out.utf8))
}

/// What made an answer worse than asked, on stderr after every answer (not only with --explain).
func printWarnings(_ e: AnswerExplanation) {
    for w in e.warnings { FileHandle.standardError.write(Data("Warning: \(w)\n".utf8)) }
}

func note(_ text: String) {
    FileHandle.standardError.write(Data("Note: \(text)\n".utf8))
}

func printStats(_ r: GenerationResult) {
    let line = String(
        format: "[%d prompt tokens at %.1f tok/s, %d generated at %.1f tok/s, stop: %@]\n",
        r.promptTokens, r.promptTokensPerSecond, r.ids.count, r.decodeTokensPerSecond, r.stopReason.rawValue)
    FileHandle.standardError.write(Data(line.utf8))
}
