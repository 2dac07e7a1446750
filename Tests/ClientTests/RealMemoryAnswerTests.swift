import Foundation
import LLM
import Memory
import Personalization
import Seal
import Testing
import Vault

/// What a person notices first, on the real model: an unrelated question is answered exactly as
/// without memory, a replaced fact with its newer value, and the assistant's own words never come
/// back as facts. The sentence encoder is used when installed (scripts/setup), as `pclient ask` does.
@Suite(.serialized, .enabled(if: RealModelFile.present,
    "the model file is absent (run scripts/setup, or set PCLIENT_MODEL): the real-model memory tests are skipped"))
struct RealMemoryAnswerTests {
    static let encoder: SentenceEncoder? = {
        guard let dir = try? SentenceEncoder.locate(explicit: nil, environment: ProcessInfo.processInfo.environment) else { return nil }
        return try? SentenceEncoder(directory: dir)
    }()

    func withHome(_ body: (UnlockedHome, Assistant) throws -> Void) throws {
        let path = temporaryFolder("real-memory")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let home = try ClientHome(path: path).initialize(passphrase: SecretBytes(utf8: "tests only"), limits: .minimum, embedder: Self.encoder)
        let generator = try TextGenerator(model: LlamaModel(path: RealModelFile.path, numericPath: .fastQ16, threads: 2))
        try body(home, Assistant(generator: generator, home: home, baseModelSHA256: "real-memory-test", contextWindow: 512))
    }

    var answerOnly: AskOptions {
        var o = AskOptions()
        o.remember = false
        o.useWorkingMemory = false
        o.maxTokens = 32
        return o
    }

    @Test func unrelatedQuestionsGetTheNoMemoryPromptAndReplacedFactsTheNewerValue() throws {
        try withHome { home, assistant in
            for note in ["My dog is called Biscuit.", "I work at Siemens in Munich.", "My gym locker code is 4817.",
                         "My daughter Emma is allergic to peanuts."] {
                try home.memory.add(NewItem(kind: .note, content: ItemContent(text: note), tier: .long, importance: 0.9))
            }
            let superseding = try home.memory.remember([NewItem(kind: .note, content: ItemContent(text: "My dog is now called Rex."),
                                                                tier: .long, importance: 0.9)])[0]
            #expect(superseding.superseded.count == 1)

            for question in ["What is the capital of France?", "What is the capital of Germany?", "How many legs does a spider have?"] {
                let withMemory = try assistant.ask(question, options: answerOnly, in: Conversation())
                var plain = answerOnly
                plain.useMemory = false
                let without = try assistant.ask(question, options: plain, in: Conversation())
                #expect(!withMemory.explanation.retrieved.contains { $0.included }, "\(question) used a memory")
                #expect(withMemory.explanation.promptIDs == without.explanation.promptIDs, "\(question): the prompt differs from --no-memory")
                #expect(withMemory.text == without.text)
            }

            let dog = try assistant.ask("What is my dog's name?", options: answerOnly, in: Conversation())
            print("dog: \(dog.text)")
            #expect(dog.text.contains("Rex") && !dog.text.contains("Biscuit"))
            #expect(dog.explanation.retrieved.contains { $0.item.content.text.contains("Biscuit") && !$0.included && $0.leftOut?.hasPrefix("superseded") == true }
                    || !dog.explanation.retrieved.contains { $0.item.content.text.contains("Biscuit") })
            let code = try assistant.ask("What is my gym locker code?", options: answerOnly, in: Conversation())
            print("code: \(code.text)")
            #expect(code.text.contains("4817"))
        }
    }

    @Test func theAssistantsOwnWordsAreNeverRetrieved() throws {
        try withHome { home, assistant in
            var remembering = answerOnly
            remembering.remember = true
            let statement = try assistant.ask("My cat is called Zorblat.", options: remembering, in: Conversation())
            #expect(statement.explanation.learned.count == 1)              // the statement became a note
            let first = try assistant.ask("What is my cat's name?", options: remembering, in: Conversation())
            let replies = try home.memory.list(limit: 100).filter { $0.kind == .reply }
            #expect(replies.count == 2)
            // Searching for the assistant's exact words finds no reply; the next question uses only the note.
            for reply in replies {
                #expect(try home.memory.search(reply.content.text, limit: 20, rehearse: false).allSatisfy { $0.item.kind != .reply })
            }
            let second = try assistant.ask("Tell me my cat's name.", options: remembering, in: Conversation())
            #expect(second.explanation.retrieved.allSatisfy { $0.item.kind == .note })
            #expect(second.explanation.retrieved.filter(\.included).map(\.item.content.text) == ["My cat is called Zorblat."])
            print("cat: \(first.text) / \(second.text)")
        }
    }
}
