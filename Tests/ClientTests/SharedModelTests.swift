import Diagnostics
import Foundation
import LLM
import Personalization
import Tensor
import TestModels
import Testing
import Tuning
import Vault

/// One loaded model serves several questions at once, each with its own adapters.
struct SharedModelTests {
    /// A home whose personal adapter (random B, all targets) visibly changes the model's answers.
    func homeWithPersonalAdapter(_ generator: TextGenerator, sha: String) throws -> UnlockedHome {
        let home = try temporaryHome()
        let config = generator.model.config
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, targets: LoRATarget.allCases), model: config, seed: 5)
        var rng = Xoshiro256(seed: 17)
        for m in adapter.modules { for i in 0..<m.b.count { m.b[i] = Float(rng.nextDouble() * 2 - 1) } }
        let meta = PersonalAdapterMetadata(baseModelSHA256: sha, rank: 4, alpha: 8, targets: LoRATarget.allCases.map(\.rawValue),
                                           trainedItemIDs: [], sharedAdapterFingerprint: nil, ragK: 0,
                                           trainedAt: "2026-12-07T00:00:00Z", trainings: 1, lastLoss: nil)
        try PersonalAdapterStore(home: home).save(adapter, metadata: meta, model: config)
        return home
    }

    /// The question's switches: nothing of memory, so that only the adapters differ.
    func options(adapters: Bool) -> AskOptions {
        var o = AskOptions.plain
        o.personalAdapter = .always     // these questions test the adapter itself
        o.useAdapters = adapters
        o.maxTokens = 24
        o.threads = 1
        return o
    }

    @Test(arguments: [NumericPath.fastQ16, .exact])
    func twoTasksAnswerAtOnceWithAndWithoutThePersonalAdapterAsEachAnswersAlone(path: NumericPath) async throws {
        let generator = try TinyLlamaGGUF.chat().generator(path)
        let home = try homeWithPersonalAdapter(generator, sha: "tiny-base")
        defer { cleanup(home) }
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "tiny-base", contextWindow: 256)
        let question = "Tag the film: a ship lost at sea"

        let alonePersonal = try assistant.ask(question, options: options(adapters: true), in: Conversation())
        let alonePlain = try assistant.ask(question, options: options(adapters: false), in: Conversation())
        #expect(alonePersonal.explanation.adapters == ["personal"])
        #expect(alonePlain.explanation.adapters.isEmpty)
        // The adapter matters, so a mix-up between the two tasks would show.
        #expect(alonePersonal.generation?.ids != alonePlain.generation?.ids)

        for _ in 0..<4 {
            async let personal = Task.detached { [self] in
                try assistant.ask(question, options: options(adapters: true), in: Conversation())
            }.value
            async let plain = Task.detached { [self] in
                try assistant.ask(question, options: options(adapters: false), in: Conversation())
            }.value
            let (p, q) = try await (personal, plain)
            #expect(p.generation?.ids == alonePersonal.generation?.ids)
            #expect(q.generation?.ids == alonePlain.generation?.ids)
        }
        // And the shared model is unchanged: a fresh plain session still gives the plain answer.
        #expect(try assistant.ask(question, options: options(adapters: false), in: Conversation()).generation?.ids
                == alonePlain.generation?.ids)
    }

    /// Training reads the loaded model and leaves it as it was: inference on it gives the same logits after.
    @Test func trainingDoesNotChangeTheLoadedModel() throws {
        let generator = try TinyLlamaGGUF.chat().generator(.fastQ16)
        let model = generator.model
        let tokens = [1, 4, 9, 16, 25, 36]
        let before = try InferenceSession(model: model, capacity: 16).forward(tokens, allLogits: true)
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), model: model.config, seed: 3)
        let training = try TrainingModel(model: model, adapters: [adapter])
        try training.forwardBackward(TrainingSequence(tokens: tokens))
        let after = try InferenceSession(model: model, capacity: 16).forward(tokens, allLogits: true)
        #expect(before == after)
        #expect(model.allLinears.allSatisfy { $0.dense == nil })
    }

    /// A corrupt personal adapter fails the question with what to do, or, where the user asked to go
    /// on, the answer is the one without adapters and carries the warning; the file is left as it was.
    @Test func aCorruptPersonalAdapterIsAnErrorOrAWarningNeverASilentGap() throws {
        let generator = try TinyLlamaGGUF.chat().generator(.fastQ16)
        let home = try homeWithPersonalAdapter(generator, sha: "tiny-base")
        defer { cleanup(home) }
        let path = PersonalAdapterStore(home: home).path
        let garbage = Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        try garbage.write(to: URL(fileURLWithPath: path))
        let assistant = Assistant(generator: generator, home: home, baseModelSHA256: "tiny-base", contextWindow: 256)
        let question = "Tag the film: a ship lost at sea"

        let refusal = #expect(throws: ClientError.self) {
            try assistant.ask(question, options: options(adapters: true), in: Conversation())
        }
        #expect(refusal?.code == .corrupt)
        #expect(refusal?.remedy?.contains("--no-adapters") == true)

        var goOn = options(adapters: true)
        goOn.unusableAdapter = .warn
        let warned = try assistant.ask(question, options: goOn, in: Conversation())
        let plain = try assistant.ask(question, options: options(adapters: false), in: Conversation())
        #expect(warned.explanation.adapters.isEmpty)
        #expect(warned.explanation.warnings.count == 1 && warned.explanation.warnings[0].contains("personal adapter"))
        #expect(warned.generation?.ids == plain.generation?.ids)
        #expect(FileManager.default.contents(atPath: path) == garbage)
    }

    /// A session keeps the adapters its cache was computed with: generating in it with others is refused.
    @Test func generatingInASessionWithOtherAdaptersIsRefused() throws {
        let generator = try TinyLlamaGGUF.chat().generator(.fastQ16)
        let model = generator.model
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q]), model: model.config, seed: 1)
        let session = InferenceSession(model: model, capacity: 32)
        let error = #expect(throws: LLMError.self) {
            try generator.generate(prompt: [1, 2, 3], maxTokens: 2, adapters: adapter.stack(for: model), session: session)
        }
        #expect(error?.code == .badArgument)
        session.reset(adapters: try adapter.stack(for: model))
        #expect(try generator.generate(prompt: [1, 2, 3], maxTokens: 2, adapters: adapter.stack(for: model), session: session).ids.count == 2)
    }

    /// Merging an adapter needs f32 weights: a quantized model is refused, not changed.
    @Test func mergingIntoAQuantizedModelIsRefused() throws {
        let model = try TinyLlamaGGUF.chat().generator(.fastQ16).model
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q]), model: model.config, seed: 1)
        let error = #expect(throws: TuningError.self) { try adapter.merge(into: model) }
        #expect(error?.code == .badArgument)
    }
}
