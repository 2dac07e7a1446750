import Diagnostics
import Evaluation
import Foundation
import GGUF
import LLM
import Memory
import Personalization
import Tensor
import TestModels
import Testing
import Tokenizer

@Suite(.serialized) struct ModelEngineTests {
    let lamp2 = RunSettings(task: .movieTagging, method: .none, k: 2)

    @Test func methodsMapOntoAssistantSwitches() {
        var s = lamp2
        let none = ModelAnswerEngine.askOptions(s)
        #expect(!none.useMemory && !none.useAdapters && !none.useProfile && none.k == 0 && none.choices == nil)
        s.method = .rag
        let rag = ModelAnswerEngine.askOptions(s)
        #expect(rag.useMemory && !rag.useAdapters && !rag.useProfile && rag.k == 2)
        s.method = .pag
        let pag = ModelAnswerEngine.askOptions(s)
        #expect(pag.useMemory && pag.useProfile && !pag.useAdapters && pag.k == 0)
        s.method = .oppu
        let oppu = ModelAnswerEngine.askOptions(s)
        #expect(oppu.useAdapters && !oppu.useProfile && oppu.k == 0)
        s.method = .oppuRag
        s.constrained = true
        let both = ModelAnswerEngine.askOptions(s)
        #expect(both.useAdapters && both.k == 2 && both.choices == LaMPTask.movieTags)
        s.method = .malp
        #expect(ModelAnswerEngine.askOptions(s).tiers == [.short, .long])
        for m in PersonalizationMethod.allCases {
            s.method = m
            let o = ModelAnswerEngine.askOptions(s)
            #expect(!o.remember && !o.useWorkingMemory, "\(m.rawValue) must not write answers into memory")
        }
        var l4 = RunSettings(task: .newsHeadline, method: .rag, constrained: true)
        l4.k = 1
        #expect(ModelAnswerEngine.askOptions(l4).choices == nil)
    }

    @Test func profileItemsBecomeTaskStyleBehaviourAndRenderLikeLaMP() throws {
        let p = LaMPProfileItem(["description": "A robot learns to love.", "tag": "sci-fi", "id": "7"])
        let items = try ModelAnswerEngine.memoryItems([p], task: .movieTagging, tier: .long)
        #expect(items.count == 1)
        #expect(items[0].kind == .behaviour && items[0].tier == .long)
        #expect(items[0].content.text == LaMPTask.movieTagging.questionInput("A robot learns to love."))
        #expect(items[0].content.output == "sci-fi")
        let stored = MemoryItem(id: 1, kind: .behaviour, tier: .long, created: Date(), lastAccess: Date(), accessCount: 0,
                                importance: 0.5, content: items[0].content)
        #expect(ModelAnswerEngine.render(stored, task: .movieTagging, maxWords: 60)
                == "the tag for the movie: \"A robot learns to love.\" is \"sci-fi\"")
        #expect(throws: EvaluationError.self) {
            try ModelAnswerEngine.memoryItems([LaMPProfileItem(["text": "no tag"])], task: .movieTagging, tier: .long)
        }
    }

    @Test func runsEveryUserInAFreshHomeAndCleansUp() async throws {
        let modelPath = try TinyLlamaGGUF.chat().write()
        defer { try? FileManager.default.removeItem(atPath: modelPath) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("peval-engine-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var options = ModelEngineOptions(modelPath: modelPath)
        options.threads = 1
        options.scratch = scratch
        options.training.epochs = 1
        options.training.maxSequenceLength = 64
        let synth = try SyntheticUsers(task: .movieTagging, users: 2, seed: 3, items: 6, questions: 1).generate()
        let examples = try LaMPFile.join(questions: synth.questions, outputs: synth.outputs)
        let engine = try ModelAnswerEngine(options: options)

        for method in [PersonalizationMethod.none, .rag, .oppuRag, .malp] {
            var any: any AnswerEngine = engine
            let settings = RunSettings(task: .movieTagging, method: method, k: 2, constrained: true)
            let report = try await ExperimentRunner(settings: settings).run(examples: examples, engine: &any)
            #expect(report.users == 2 && report.questions == 2)
            for p in report.predictions { #expect(LaMPTask.movieTags.contains(p.answer), "\(method.rawValue): \(p.answer)") }
            // One user's home at a time: the last user's is still there until finish().
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).count == 1)
            engine.finish()
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        }
        // fed runs pcoord and pclient as processes (PEvalFederatedTests runs it for real): without them, a clear error.
        var missing = options
        missing.federation.executables = scratch + "/no-such-folder"
        var fed: any AnswerEngine = try ModelAnswerEngine(options: missing)
        let error = await #expect(throws: EvaluationError.self) {
            _ = try await ExperimentRunner(settings: RunSettings(task: .movieTagging, method: .fed)).run(examples: examples, engine: &fed)
        }
        #expect(error?.description.contains("pcoord") == true, "\(String(describing: error))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
    }
}
