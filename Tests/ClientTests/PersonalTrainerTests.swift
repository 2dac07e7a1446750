import Diagnostics
import Foundation
import LLM
import Memory
import Personalization
import Seal
import Tensor
import TestModels
import Testing
import Tuning
import Vault

@Suite(.serialized) struct PersonalTrainerTests {
    let generator: TextGenerator

    init() throws { generator = try TinyLlamaGGUF.chat().generator() }

    func behaviour(_ text: String, _ output: String) -> NewItem {
        NewItem(kind: .behaviour, content: ItemContent(text: text, output: output, source: "test"), importance: 0.95)
    }

    var quick: PersonalTrainingOptions {
        var o = PersonalTrainingOptions()
        o.rank = 2
        o.epochs = 1
        o.maxSequenceLength = 128
        return o
    }

    @Test func theSealedAdapterRoundTripsAndHoldsNoPlaintext() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        let config = generator.model.config
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases), model: config, seed: 3)
        var rng = Xoshiro256(seed: 9)
        for m in adapter.modules { for i in 0..<m.b.count { m.b[i] = Float(rng.nextDouble() * 2 - 1) } }
        let canary = "CANARY-7f3a9c-personal-metadata"
        let meta = PersonalAdapterMetadata(baseModelSHA256: canary, rank: 4, alpha: 8, targets: LoRATarget.allCases.map(\.rawValue),
                                           trainedItemIDs: [1, 2, 3], sharedAdapterFingerprint: nil, ragK: 2,
                                           trainedAt: "2026-11-25T00:00:00Z", trainings: 1, lastLoss: 0.5)
        let store = PersonalAdapterStore(home: home)
        try store.save(adapter, metadata: meta, model: config)

        let loaded = try #require(try store.load(model: config))
        #expect(loaded.metadata == meta)
        #expect(loaded.adapter.fingerprint == adapter.fingerprint)
        for (a, b) in zip(adapter.modules, loaded.adapter.modules) {
            #expect(a.a.array == b.a.array)
            #expect(a.b.array == b.b.array)
        }

        let sealed = try #require(FileManager.default.contents(atPath: store.path))
        #expect(sealed.range(of: Data(canary.utf8)) == nil)
        #expect(sealed.range(of: Data("lora_A".utf8)) == nil)
        #expect(sealed.range(of: Data("q_proj".utf8)) == nil)
        // Raw bytes of a B of q (any 16 consecutive bytes of it would do) appear nowhere in the file.
        let q = adapter.modules.first { $0.target == .q }!.b.array
        let raw = q.prefix(8).withUnsafeBytes { Data($0) }
        #expect(sealed.range(of: raw) == nil)
        let hfRaw = loaded.adapter.modules.first { $0.target == .v }!.b.array.prefix(8).withUnsafeBytes { Data($0) }
        #expect(sealed.range(of: hfRaw) == nil)
        // Nothing else was left in the folder (no plaintext temporary file).
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory) == ["personal.sealed"])

        // Another home's key does not open it.
        let other = try temporaryHome()
        defer { cleanup(other) }
        try FileManager.default.createDirectory(atPath: PersonalAdapterStore(home: other).directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store.path, toPath: PersonalAdapterStore(home: other).path)
        #expect(throws: ClientError.self) { try PersonalAdapterStore(home: other).load(model: config) }

        // A model of another shape: a clear error with its remedy, and the sealed file stays.
        var wider = config
        wider.dim *= 2
        #expect { try store.load(model: wider) } throws: { error in
            (error as? ClientError)?.code == .corrupt && "\(error)".contains("cannot be used with this model") && "\(error)".contains("train --full")
        }
        #expect(try store.load(model: config) != nil)

        // Export writes the PEFT folder, which Tuning reads back as the same adapter.
        let out = temporaryFolder("export")
        defer { try? FileManager.default.removeItem(atPath: out) }
        try store.export(to: out, model: config)
        #expect(try LoRAAdapter.load(from: out, model: config).fingerprint == adapter.fingerprint)
    }

    @Test func trainingIsIncremental() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add([behaviour("Tag the film: a ship hits an iceberg", "romance"),
                             behaviour("Tag the film: robots take over", "sci-fi"),
                             NewItem(kind: .note, content: ItemContent(text: "a note, not a behaviour"), importance: 0.95)])
        let trainer = PersonalTrainer(home: home, generator: generator, baseModelSHA256: "tiny-base")
        var steps = 0
        let first = try trainer.train(quick) { _ in steps += 1 }
        #expect(first.outcome == .trained && !first.incremental)
        #expect(first.newItems == 2 && first.examples == 2 && steps == 2)
        let saved = try #require(try PersonalAdapterStore(home: home).load(model: generator.model.config))
        #expect(saved.metadata.trainedItemIDs.count == 2)
        let before = try Data(contentsOf: URL(fileURLWithPath: PersonalAdapterStore(home: home).path))

        // Nothing new: nothing trains, the file is untouched.
        let again = try trainer.train(quick)
        #expect(again.outcome == .upToDate && again.steps == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: PersonalAdapterStore(home: home).path)) == before)
        // New short-term items do not count: only long-term memory trains.
        try home.memory.add(NewItem(kind: .behaviour, content: ItemContent(text: "Tag the film: a haunted house", output: "horror")))
        #expect(try trainer.train(quick).outcome == .upToDate)

        // One new long-term item: it continues from the saved adapter, with one earlier item replayed.
        try home.memory.add(behaviour("Tag the film: two detectives", "crime"))
        let third = try trainer.train(quick)
        #expect(third.outcome == .trained && third.incremental && third.newItems == 1 && third.examples == 2)
        let after = try #require(try PersonalAdapterStore(home: home).load(model: generator.model.config))
        #expect(after.metadata.trainedItemIDs.count == 3 && after.metadata.trainings == 2)
        #expect(after.adapter.fingerprint != saved.adapter.fingerprint)

        // --full retrains on everything; other LoRA settings force it too.
        var full = quick
        full.full = true
        let fourth = try trainer.train(full)
        #expect(fourth.outcome == .trained && !fourth.incremental && fourth.examples == 3)
        var wider = quick
        wider.rank = 4
        wider.ragK = 2
        let fifth = try trainer.train(wider)
        #expect(fifth.outcome == .trained && !fifth.incremental && fifth.note != nil)

        // The assistant attaches it.
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "tiny-base", contextWindow: 512)
        var options = AskOptions()
        options.personalAdapter = .always     // these questions test the adapter itself
        options.maxTokens = 3
        #expect(try assistant.ask("Tag the film: a ship", options: options).explanation.adapters == ["personal"])
        // Assistants sharing one model each answer with their own adapters (as the evaluation runs users).
        let bare = Assistant(generator: generator, home: nil, baseModelSHA256: "tiny-base", contextWindow: 512)
        var scored = AskOptions.plain
        scored.personalAdapter = .always     // these questions test the adapter itself
        scored.choices = ["romance", "horror"]
        let bareBefore = try bare.ask("Tag the film: a ship", options: scored).explanation.choiceScores
        var personalScored = scored
        personalScored.useAdapters = true
        let adapted = try assistant.ask("Tag the film: a ship", options: personalScored).explanation.choiceScores
        let bareAfter = try bare.ask("Tag the film: a ship", options: scored).explanation.choiceScores
        #expect(bareBefore == bareAfter)
        #expect(bareBefore != adapted)
        // An adapter made for another base model is an error, or, where the user asked to go on, an
        // answer without it that carries a warning.
        let elsewhere = Assistant(generator: generator, home: home, baseModelSHA256: "another-base", contextWindow: 512)
        let refusal = #expect(throws: ClientError.self) { try elsewhere.ask("Tag the film: a ship", options: options) }
        #expect(refusal?.message.contains("another base model") == true)
        #expect(refusal?.remedy?.contains("pclient train --full") == true)
        var goOn = options
        goOn.unusableAdapter = .warn
        let warned = try elsewhere.ask("Tag the film: a ship", options: goOn).explanation
        #expect(warned.adapters.isEmpty && warned.warnings.contains { $0.contains("another base model") })
    }

    func note(_ text: String) -> NewItem { NewItem(kind: .note, content: ItemContent(text: text, source: "test")) }

    @Test func notesTrainWithDistillationAndAReplacedNoteRetrainsFromScratch() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        // Short-term notes count; a note without a frame has no questions and is left to retrieval.
        let ids = try home.memory.add([note("My dog is called Biscuit."), note("I live in Lisbon."),
                                       note("My daughter Emma is allergic to peanuts."), note("The wifi password is on the fridge.")])
        let trainer = PersonalTrainer(home: home, generator: generator, baseModelSHA256: "tiny-base")
        #expect(try trainer.trainingNotes().map(\.id) == Array(ids.prefix(3)))
        let first = try trainer.train(quick)
        #expect(first.outcome == .trained && !first.incremental && first.newItems == 0 && first.newNotes == 3)
        // 3 + 3 + 3 questions, and as many general questions answered by the base model.
        #expect(first.distillationExamples == 9 && first.examples == 18)
        let meta = try #require(try PersonalAdapterStore(home: home).metadata())
        #expect(meta.trainedNoteIDs == Array(ids.prefix(3)).sorted() && meta.trainedItemIDs.isEmpty)

        // The base model's answers are cached sealed: no question text in the file, and a retraining
        // from scratch reads them instead of answering again (the file is not rewritten).
        let cachePath = PersonalAdapterStore(home: home).directory + "/distillation.sealed"
        let cached = try Data(contentsOf: URL(fileURLWithPath: cachePath))
        #expect(cached.range(of: Data("photosynthesis".utf8)) == nil && cached.range(of: Data("capital".utf8)) == nil)
        var full = quick
        full.full = true
        #expect(try trainer.train(full).distillationExamples == 9)
        #expect(try Data(contentsOf: URL(fileURLWithPath: cachePath)) == cached)

        #expect(try trainer.train(quick).outcome == .upToDate)
        // A new note: incremental, one earlier note replayed, at least 8 distillation examples.
        try home.memory.add(note("I work at Siemens."))
        let added = try trainer.train(quick)
        #expect(added.outcome == .trained && added.incremental && added.newNotes == 1)
        #expect(added.distillationExamples == max(8, added.examples - added.distillationExamples))

        // A trained note superseded ("now called Rex"): what the adapter learnt from it must go, so
        // it retrains from scratch on the current notes.
        try home.memory.add(note("My dog is now called Rex."))
        #expect(try trainer.trainingNotes().count == 4)
        let replaced = try trainer.train(quick)
        #expect(replaced.outcome == .trained && !replaced.incremental && replaced.newNotes == 4)
        #expect(replaced.note?.contains("retraining from scratch") == true)
        #expect(try PersonalAdapterStore(home: home).metadata()?.trainedNoteIDs?.contains(ids[0]) == false)
        // Forgotten, likewise.
        try home.memory.forget([ids[1]])
        #expect(try trainer.train(quick).incremental == false)
    }

    @Test func withNeitherBehaviourNorNotesThereIsNothingToTrainOn() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add(NewItem(kind: .note, content: ItemContent(text: "The wifi password is on the fridge."), importance: 0.95))
        let trainer = PersonalTrainer(home: home, generator: generator, baseModelSHA256: "tiny-base")
        let error = #expect(throws: ClientError.self) { try trainer.train(quick) }
        #expect(error?.message.contains("nothing to train on") == true)
        #expect(error?.remedy?.contains("pclient remember") == true)
    }

    @Test func retrievalAugmentedExamplesCarryOtherItemsAndASharedAdapterStaysFrozen() throws {
        let home = try temporaryHome()
        defer { cleanup(home) }
        try home.memory.add([behaviour("Tag the film: space pirates fight", "sci-fi"),
                             behaviour("Tag the film: space station drama", "sci-fi"),
                             behaviour("Tag the film: a quiet village wedding", "romance")])
        let config = generator.model.config
        let shared = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), model: config, seed: 42, training: .bOnly)
        for m in shared.modules { for i in 0..<m.b.count { m.b[i] = 0.01 * Float(i % 7) } }
        let sharedBefore = shared.fingerprint
        let trainer = PersonalTrainer(home: home, generator: generator, baseModelSHA256: "tiny-base",
                                      sharedAdapter: { _ in shared })
        var o = quick
        o.ragK = 1
        let summary = try trainer.train(o)
        #expect(summary.usedSharedAdapter && summary.outcome == .trained)
        #expect(shared.fingerprint == sharedBefore)
        let meta = try #require(try PersonalAdapterStore(home: home).metadata())
        #expect(meta.sharedAdapterFingerprint == sharedBefore && meta.ragK == 1)

        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "tiny-base", sharedAdapter: { _ in shared }, contextWindow: 512)
        var options = AskOptions()
        options.personalAdapter = .always     // these questions test the adapter itself
        options.maxTokens = 3
        options.useProfile = false
        #expect(try assistant.ask("Tag the film: space", options: options).explanation.adapters == ["shared", "personal"])
        options.useAdapters = false
        #expect(try assistant.ask("Tag the film: space", options: options).explanation.adapters.isEmpty)
    }
}
