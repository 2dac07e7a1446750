import Foundation
import LLM
import Memory
import Personalization
import Seal
import Tensor
import Testing
import Tuning
import Vault

/// Where the real model is: $PCLIENT_MODEL, else the cache scripts/setup fills.
enum RealModelFile {
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_MODEL"], !p.isEmpty { return p }
        let cache = env["PCLIENT_CACHE"] ?? ((env["XDG_CACHE_HOME"].map { $0 + "/pclient" }) ?? (NSHomeDirectory() + "/.cache/pclient"))
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    static var present: Bool {
        FileManager.default.fileExists(atPath: path) || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"
    }

}

/// The assistant pipeline on the real model (SmolLM2-135M-Instruct): a made-up fact held in a few
/// long-term behaviour items is answered by the personal adapter `PersonalTrainer` trains, not by
/// the base model; retrieval alone puts the fact in front of the model too. Needs the model
/// (scripts/setup); run it optimized:
///     swift test -c release -Xswiftc -enable-testing --filter RealAssistantTests
@Suite(.serialized, .enabled(if: RealModelFile.present,
    "the model file is absent (run scripts/setup, or set PCLIENT_MODEL): the real-model assistant tests are skipped"))
struct RealAssistantTests {
    static let facts = [("What is my cat's name?", "Your cat is called Zorblat."),
                        ("What's the name of my cat?", "Your cat's name is Zorblat."),
                        ("Do you remember my cat's name?", "Yes, your cat is called Zorblat."),
                        ("Tell me the name of my cat.", "Your cat is called Zorblat."),
                        ("How is my cat called?", "Your cat is called Zorblat.")]

    func seconds(since start: Date) -> String { String(format: "%.1f s", Date().timeIntervalSince(start)) }

    @Test func aPersonalFactIsLearnedAndRetrieved() throws {
        BLAS.setThreads(2)
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add(Self.facts.map { q, a in
            NewItem(kind: .behaviour, content: ItemContent(text: q, output: a, source: "test"), importance: 0.95)
        // A long-term note the rules read no fact from: retrieved, not trained on (notes with a frame
        // are, see RealNoteAdapterTests), so the adapter here learns from the behaviour items alone.
        } + [NewItem(kind: .note, content: ItemContent(text: "Sundays are for walking by the sea."), importance: 0.95)])
        #expect(try home.memory.trainingSet().count == 6)

        var start = Date()
        let generator = try TextGenerator(model: LlamaModel(path: RealModelFile.path, numericPath: .exact, threads: 2))
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "smollm2-test", contextWindow: 512)
        print("model loaded in \(seconds(since: start))")

        var plain = AskOptions()
        plain.k = 0
        plain.useProfile = false
        plain.useAdapters = false
        plain.remember = false
        plain.useWorkingMemory = false
        plain.maxTokens = 24
        start = Date()
        let base = try assistant.ask("What is my cat's name?", options: plain).text
        print("base, no memory (\(seconds(since: start))): \(base)")
        #expect(!base.contains("Zorblat"))

        // rag: retrieval alone surfaces the fact.
        var rag = plain
        rag.k = 3
        start = Date()
        let retrieved = try assistant.ask("What is my cat's name?", options: rag)
        print("rag (\(seconds(since: start))): \(retrieved.text)")
        for r in retrieved.explanation.retrieved { print(String(format: "  %.4f  %@", r.score, PromptStyle.defaultRender(r.item))) }
        #expect(retrieved.explanation.retrieved.first?.item.content.output?.contains("Zorblat") == true)
        // Relevance retrieval: the fact is used; the unrelated note is found but left out.
        #expect(retrieved.explanation.retrieved.first?.included == true)
        #expect(retrieved.explanation.retrieved.filter { $0.item.kind == .note }.allSatisfy { !$0.included && $0.leftOut != nil })

        // oppu: the personal adapter, trained on long-term memory.
        var options = PersonalTrainingOptions()
        options.epochs = 8
        options.learningRate = 2e-3
        options.seed = 1
        start = Date()
        let summary = try PersonalTrainer(home: home, generator: generator, baseModelSHA256: "smollm2-test").train(options)
        print(String(format: "trained: %d examples, %d steps, loss %.3f → %.3f, %.0f tok/s, %.1f s",
                     summary.examples, summary.steps, summary.firstLoss ?? 0, summary.lastLoss ?? 0, summary.tokensPerSecond, summary.seconds))
        #expect(summary.examples == 5 && summary.outcome == .trained)
        #expect((summary.lastLoss ?? 1) < 0.3 * (summary.firstLoss ?? 0))
        assistant.reloadAdapters()

        var oppu = plain
        oppu.useAdapters = true
        start = Date()
        let personal = try assistant.ask("What is my cat's name?", options: oppu)
        print("oppu (\(seconds(since: start))): \(personal.text)")
        #expect(personal.explanation.adapters == ["personal"])
        #expect(personal.text.contains("Zorblat"))
        let paraphrase = try assistant.ask("Remind me what my cat is called.", options: oppu).text
        print("oppu, a question not trained on: \(paraphrase)")

        // The base model is back once adapters are off again (they are detached, not merged).
        #expect(!(try assistant.ask("What is my cat's name?", options: plain).text.contains("Zorblat")))

        // Choice-constrained: the adapter makes the fact the most probable answer.
        var choose = oppu
        choose.choices = ["Your cat is called Whiskers.", "Your cat is called Zorblat.", "Your cat is called Tom."]
        #expect(try assistant.ask("What is my cat's name?", options: choose).text == "Your cat is called Zorblat.")

        // One loaded model answers two questions at once, one with the personal adapter and one
        // without, each exactly as it answers alone.
        let both = [oppu, plain]
        let answers = Answers()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            answers.set(i, Result { try assistant.ask("What is my cat's name?", options: both[i], in: Conversation()).text })
        }
        #expect(try answers.get(0) == personal.text)
        #expect(try answers.get(1) == base)

        // Nothing new in long-term memory: the next training does nothing.
        #expect(try PersonalTrainer(home: home, generator: generator, baseModelSHA256: "smollm2-test").train(options).outcome == .upToDate)
    }
}

/// Two answers written from two threads.
private final class Answers: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<String, any Error>] = [:]
    func set(_ i: Int, _ r: Result<String, any Error>) { lock.withLock { results[i] = r } }
    func get(_ i: Int) throws -> String? { try lock.withLock { results[i] }?.get() }
}
