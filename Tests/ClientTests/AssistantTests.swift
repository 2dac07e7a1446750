import Foundation
import GGUF
import LLM
import Memory
import Personalization
import Seal
import Tensor
import TestModels
import Testing
import Tokenizer
import Tuning
import Vault

extension TinyLlamaGGUF {
    /// A text generator over this model (the file is removed at once: the mapping stays valid).
    func generator(_ numeric: NumericPath = .exact) throws -> TextGenerator {
        let file = try write()
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try TextGenerator(model: LlamaModel(path: file, numericPath: numeric, threads: 1))
    }
}

/// A fresh home in a temporary folder (cheap KDF), removed by `cleanup`.
func temporaryHome() throws -> UnlockedHome {
    try ClientHome(path: temporaryFolder("assist-home")).initialize(passphrase: SecretBytes(utf8: "tests only"), limits: .minimum)
}

func cleanup(_ home: UnlockedHome) { try? FileManager.default.removeItem(atPath: home.home.path) }

func item(_ id: Int64, _ text: String, output: String? = nil) -> MemoryItem {
    MemoryItem(id: id, kind: output == nil ? .note : .behaviour, tier: .long, created: Date(), lastAccess: Date(),
               accessCount: 0, importance: 0.5, content: ItemContent(text: text, output: output))
}

@Suite(.serialized) struct AssistantTests {
    let generator: TextGenerator

    init() throws { generator = try TinyLlamaGGUF.chat().generator() }

    @Test func promptAssemblyRespectsTheBudgetAndDropsTheLeastRelevantFirst() throws {
        let builder = PromptBuilder(generator: generator)
        let candidates = (1...5).map { i in
            RetrievedMemory(item: item(Int64(i), "memory number \(i) about gardening and tomatoes"), score: 1 / Double(i))
        }
        let question = "What should I plant in my garden this spring?"
        let all = try builder.assemble(question: question, profile: "Likes tomatoes.", candidates: candidates, budget: 10_000)
        #expect(all.retrieved.allSatisfy { $0.included })
        #expect(all.profileUsed)
        let none = try builder.assemble(question: question, profile: nil, candidates: [], budget: 10_000)

        // A budget between "two items" and "three items": the three least relevant go, in that order.
        let two = try builder.assemble(question: question, profile: "Likes tomatoes.", candidates: Array(candidates.prefix(2)), budget: 10_000)
        let three = try builder.assemble(question: question, profile: "Likes tomatoes.", candidates: Array(candidates.prefix(3)), budget: 10_000)
        let budget = (two.tokens.count + three.tokens.count) / 2
        let fitted = try builder.assemble(question: question, profile: "Likes tomatoes.", candidates: candidates, budget: budget)
        #expect(fitted.tokens.count <= budget)
        #expect(fitted.retrieved.map(\.included) == [true, true, false, false, false])
        #expect(fitted.tokens == two.tokens)
        #expect(fitted.messages.last?.content.hasSuffix(question) == true)

        // Session turns go (oldest first) after every item, then the profile; the question stays whole.
        let history = [ChatMessage(role: "user", content: "an earlier question"), ChatMessage(role: "assistant", content: "an earlier answer")]
        let tight = try builder.assemble(question: question, profile: "Likes tomatoes.", candidates: candidates,
                                         history: history, budget: none.tokens.count)
        #expect(tight.workingTurns == 0 && !tight.profileUsed && tight.retrieved.allSatisfy { !$0.included })
        #expect(tight.tokens == none.tokens)
        #expect(throws: ClientError.self) {
            try builder.assemble(question: question, profile: nil, candidates: candidates, budget: none.tokens.count - 1)
        }
    }

    @Test func choiceConstrainedDecodingAlwaysReturnsAChoiceAndScoresLikeAFullForward() throws {
        let tok = generator.tokenizer
        let end = try #require(tok.id(of: ChatTemplate.end))
        let sets = [["yes", "no"], ["comedy", "drama", "horror", "sci-fi"], ["1", "2", "3", "4", "5"], ["a", "ab", "abc"]]
        for (n, choices) in sets.enumerated() {
            let prompt = tok.encode(generator.template.render([ChatMessage(role: "user", content: "question \(n): pick one")]), parseSpecial: true)
            let ranked = try ConstrainedChoice.rank(choices, prompt: prompt, generator: generator)
            #expect(choices.contains(ranked[0].choice))
            #expect(Set(ranked.map(\.choice)) == Set(choices))
            // The same log-probabilities from one fresh forward over prompt + choice + end.
            for score in ranked {
                let ids = tok.encode(score.choice, parseSpecial: false) + [end]
                let session = InferenceSession(model: generator.model)
                let rows = try session.forward(prompt + ids.dropLast(), allLogits: true)
                let V = generator.model.config.vocabularySize
                var expected = 0.0
                for (i, id) in ids.enumerated() {
                    let row = Array(rows[(prompt.count - 1 + i) * V ..< (prompt.count + i) * V]).map(Double.init)
                    let m = row.max()!
                    expected += row[id] - m - log(row.reduce(0) { $0 + exp($1 - m) })
                }
                #expect(abs(expected - score.logProbability) < 1e-3, "\(score.choice): \(expected) vs \(score.logProbability)")
            }
        }
        #expect(throws: ClientError.self) { try ConstrainedChoice.rank([], prompt: [1, 2], generator: generator) }
        #expect(throws: ClientError.self) { try ConstrainedChoice.rank(["x", "x"], prompt: [1, 2], generator: generator) }
    }

    @Test func askRetrievesRemembersAndExplains() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add([
            NewItem(kind: .note, content: ItemContent(text: "my sister Ilse lives in Rotterdam"), importance: 0.95),
            NewItem(kind: .note, content: ItemContent(text: "I water the tomatoes every morning")),
            NewItem(kind: .behaviour, content: ItemContent(text: "Rate: The Matrix", output: "5"), importance: 0.95),
        ])
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "tiny", contextWindow: 512)
        var options = AskOptions()
        options.maxTokens = 6
        options.profileMinimumParameters = 0     // the tiny model writes a profile too
        var streamed = ""
        let first = try assistant.ask("Where does my sister Ilse live?", options: options) { streamed += $0; return true }
        #expect(first.explanation.retrieved.first?.item.content.text == "my sister Ilse lives in Rotterdam")
        #expect(first.explanation.profile != nil)       // written from long-term memory, then cached
        #expect(first.explanation.adapters.isEmpty)     // none trained yet
        #expect(streamed.trimmingCharacters(in: .whitespacesAndNewlines) == first.text)
        #expect(first.explanation.promptTokens <= 512 - options.maxTokens)
        let profilePath = ProfileStore(home: home).path
        let sealed = try #require(FileManager.default.contents(atPath: profilePath))
        #expect(sealed.range(of: Data("Rotterdam".utf8)) == nil)

        let second = try assistant.ask("And who waters the tomatoes?", options: options)
        #expect(second.explanation.workingTurns == 2)
        #expect(!second.explanation.retrieved.contains { $0.item.content.source == "ask" })   // the session's own turns are not retrieved
        let turns = try home.memory.list(limit: 100).filter { $0.kind == .chatTurn }
        #expect(turns.count == 2 && turns.allSatisfy { $0.content.role == "user" })
        let replies = try home.memory.list(limit: 100).filter { $0.kind == .reply }
        #expect(replies.count == 2 && replies.allSatisfy { $0.content.role == "assistant" })
        #expect(try home.memory.stats().interactions == 2)

        options.choices = ["Rotterdam", "Paris", "Lima"]
        let choice = try assistant.ask("Where does Ilse live?", options: options)
        #expect(options.choices!.contains(choice.text))
        #expect(choice.explanation.choiceScores?.count == 3)

        let plain = try assistant.ask("Where does my sister Ilse live?", options: .plain)
        #expect(plain.explanation.retrieved.isEmpty && plain.explanation.profile == nil)

        let homeless = Assistant(generator: generator, home: nil, baseModelSHA256: "tiny", contextWindow: 256)
        var short = AskOptions()
        short.maxTokens = 4
        let answer = try homeless.ask("Hello?", options: short)
        #expect(answer.explanation.notes.contains { $0.contains("pclient init") })
    }
}
