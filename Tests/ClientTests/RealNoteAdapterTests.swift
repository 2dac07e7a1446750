import Foundation
import LLM
import Memory
import Personalization
import Tensor
import Testing
import Vault

/// The personal adapter learns notes on the real model (SmolLM2-135M-Instruct) without answering
/// them to every question: a note's question is answered with its value, with memory off, and
/// general questions keep their answers' key facts (the self-distillation examples hold them).
///     swift test -c release -Xswiftc -enable-testing --filter RealNoteAdapterTests
@Suite(.serialized, .enabled(if: RealModelFile.present,
    "the model file is absent (run scripts/setup, or set PCLIENT_MODEL): the real-model note adapter test is skipped"))
struct RealNoteAdapterTests {
    /// General questions not among `DistillationPrompts`, and a word their base answer holds.
    static let general = [("What is the capital of Germany?", "Berlin"),
                          ("What is the largest ocean on Earth?", "Pacific"),
                          ("What is the chemical formula of water?", "H2O")]

    func seconds(since start: Date) -> String { String(format: "%.1f s", Date().timeIntervalSince(start)) }

    @Test func notesAreLearnedAndGeneralAnswersKeepTheirFacts() throws {
        BLAS.setThreads(2)
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add(["My dog is called Biscuit.", "I live in Lisbon.", "My daughter Emma is allergic to peanuts."].map {
            NewItem(kind: .note, content: ItemContent(text: $0, source: "test"))
        })
        var start = Date()
        let generator = try TextGenerator(model: LlamaModel(path: RealModelFile.path, numericPath: .exact, threads: 2))
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "smollm2-test", contextWindow: 512)
        print("model loaded in \(seconds(since: start))")

        var plain = AskOptions.plain
        plain.maxTokens = 48
        plain.sampling = .answer
        var personal = plain
        personal.useAdapters = true
        let question = "What is my dog's name?"
        let baseFact = try assistant.ask(question, options: plain).text
        print("base: \(question) → \(baseFact)")
        #expect(!baseFact.contains("Biscuit"))
        let baseGeneral = try Self.general.map { try assistant.ask($0.0, options: plain).text }
        for ((q, word), a) in zip(Self.general, baseGeneral) {
            print("base: \(q) → \(a)")
            try #require(a.lowercased().contains(word.lowercased()), "the base model's answer should hold \(word)")
        }

        var options = PersonalTrainingOptions()
        options.epochs = 3
        options.learningRate = 2e-3
        options.seed = 1
        start = Date()
        let summary = try PersonalTrainer(home: home, generator: generator, baseModelSHA256: "smollm2-test").train(options)
        print(String(format: "trained: %d examples (%d general), %d steps, loss %.3f → %.3f, %.0f tok/s, %.1f s",
                     summary.examples, summary.distillationExamples, summary.steps, summary.firstLoss ?? 0,
                     summary.lastLoss ?? 0, summary.tokensPerSecond, summary.seconds))
        #expect(summary.newNotes == 3 && summary.distillationExamples == 9 && summary.examples == 18)
        assistant.reloadAdapters()

        start = Date()
        let learned = try assistant.ask(question, options: personal)
        print("personal adapter, no memory (\(seconds(since: start))): \(question) → \(learned.text)")
        #expect(learned.explanation.adapters == ["personal"])
        #expect(learned.text.contains("Biscuit"))
        var changed = 0
        for ((q, word), base) in zip(Self.general, baseGeneral) {
            let a = try assistant.ask(q, options: personal).text
            if a != base { changed += 1 }
            print("personal adapter: \(q) → \(a)\(a == base ? " (unchanged)" : "")")
            #expect(a.lowercased().contains(word.lowercased()), "\(q)")
            #expect(!a.contains("Biscuit") && !a.contains("Lisbon") && !a.contains("peanut"), "\(q)")
        }
        print("general answers changed by the adapter: \(changed) of \(Self.general.count)")
        for q in ["Where do I live?", "What is my daughter Emma allergic to?", "What do you call my dog?"] {
            print("personal adapter: \(q) → \(try assistant.ask(q, options: personal).text)")
        }
    }
}
