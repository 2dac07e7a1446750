import ArgumentParser
import Foundation
import Personalization
import Vault

extension PClient {
    struct Chat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Talk with your assistant: one question per line, answers streamed, earlier turns remembered; /quit ends.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var homeOptions: HomeOptions
        @OptionGroup var assistantOptions: AssistantOptions

        @Flag(help: "After each answer, show which memories, profile and adapters shaped it (on stderr).")
        var explain = false

        func run() throws {
            let assistant = try assistantOptions.assistant(model: modelOptions, home: homeOptions)
            var options = assistantOptions.askOptions(sampling: sampling.parameters)
            options.source = "chat"
            let interactive = isatty(STDIN_FILENO) != 0
            if interactive { FileHandle.standardError.write(Data("Type a question and press Enter; /quit to end.\n".utf8)) }
            while true {
                if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
                guard let line = readLine() else { break }
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                if text == "/quit" || text == "/exit" { break }
                do {
                    let answer = try assistant.ask(text, options: options) { piece in
                        streamOut(piece)
                        return true
                    }
                    streamOut("\n")
                    printWarnings(answer.explanation)
                    if explain { printExplanation(answer.explanation) }
                } catch let e as ClientError {
                    FileHandle.standardError.write(Data("Error: \(e)\n".utf8))
                }
            }
        }
    }
}
