import ArgumentParser
import Foundation
import GGUF
import LLM
import Tokenizer

extension PClient {
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Complete a raw prompt as given (special tokens such as <|im_start|> are parsed).")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var sampling: SamplingOptions

        @Option(name: .short, help: "Tokens to generate.")
        var n: Int = 64
        @Flag(help: "Print the generated token ids as a JSON array instead of the text.")
        var ids = false
        @Flag(name: .customLong("ignore-eos"), help: "Keep generating past end-of-generation tokens.")
        var ignoreEOS = false
        @Flag(help: "Print prompt and decode speed after the text (on stderr).")
        var stats = false
        @Option(name: .customLong("no-repeat-ngram"),
                help: "Never repeat an n-gram of this many generated tokens (0: off; answers use \(SamplingParameters.answerNoRepeatNgram)).")
        var noRepeatNgram = 0

        @Argument(help: "The prompt text.")
        var prompt: String

        func validate() throws {
            guard n > 0 else { throw ValidationError("Please give -n above 0.") }
            guard noRepeatNgram >= 0 else { throw ValidationError("Please give a --no-repeat-ngram of 0 (off) or more.") }
            if prompt.isEmpty { throw ValidationError("Please give a prompt: the text is empty.") }
        }

        func run() throws {
            let (generator, adapters) = try modelOptions.loadGenerator()
            let promptIDs = generator.tokenizer.encode(prompt, parseSpecial: true)
            var parameters = sampling.parameters
            parameters.noRepeatNgram = noRepeatNgram
            let result = try generator.generate(
                prompt: promptIDs, maxTokens: n, sampling: parameters, adapters: adapters,
                stopAtEndOfGeneration: !ignoreEOS
            ) { _, piece in
                if !ids { streamOut(piece) }
                return true
            }
            if ids {
                streamOut("[" + result.ids.map(String.init).joined(separator: ", ") + "]\n")
            } else {
                streamOut("\n")
            }
            if stats { printStats(result) }
        }
    }

    struct Tokenize: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the token ids of a text as a JSON array.")

        @Option(help: "The GGUF model file whose tokenizer to use (default: $PCLIENT_MODEL, then the cache).")
        var model: String?
        @Flag(name: .customLong("no-special"), help: "Treat special-token text such as <|im_start|> as plain text.")
        var noSpecial = false
        @Argument(help: "The text.")
        var text: String

        func run() throws {
            let path = try ModelLocation.resolve(explicit: model, environment: ProcessInfo.processInfo.environment)
            let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
            let ids = tokenizer.encode(text, parseSpecial: !noSpecial)
            streamOut("[" + ids.map(String.init).joined(separator: ", ") + "]\n")
        }
    }
}
