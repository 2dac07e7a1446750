import Client
import Evaluation
import Foundation
import GGUF
import LLM
import Memory
import Tensor
import Testing
import Tokenizer

/// A tiny random llama GGUF with a byte-level vocabulary (as ClientTests' TinyChatModel), so the
/// model engine runs end to end in seconds.
struct TinyEvalModel {
    var blocks = 2
    var dim = 32
    var ffn = 64
    var heads = 4
    var kvHeads = 2
    var context = 1024
    var seed: UInt64 = 7

    static let specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    static var vocab: Int { 256 + specials.count }

    func write() throws -> String {
        var rng = Xoshiro256(seed: seed)
        func random(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale } }
        var w = GGUFWriter()
        w.set("general.architecture", "llama")
        w.set("llama.block_count", UInt32(blocks))
        w.set("llama.embedding_length", UInt32(dim))
        w.set("llama.feed_forward_length", UInt32(ffn))
        w.set("llama.attention.head_count", UInt32(heads))
        w.set("llama.attention.head_count_kv", UInt32(kvHeads))
        w.set("llama.rope.freq_base", Float(10000))
        w.set("llama.attention.layer_norm_rms_epsilon", Float(1e-5))
        w.set("llama.context_length", UInt32(context))
        w.set("tokenizer.ggml.model", "gpt2")
        w.set("tokenizer.ggml.pre", "smollm")
        w.set("tokenizer.ggml.tokens", (0...255).map { ByteLevel.encode([UInt8($0)]) } + Self.specials)
        w.set("tokenizer.ggml.merges", [String]())
        w.set("tokenizer.ggml.token_type", .array(Array(repeating: GGUFValue.int32(1), count: 256)
            + Array(repeating: GGUFValue.int32(3), count: Self.specials.count)))
        w.set("tokenizer.ggml.eos_token_id", UInt32(256 + 2))
        w.set("tokenizer.chat_template", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
        let hd = dim / heads
        func add(_ name: String, _ dims: [Int], _ type: QuantType, scale: Float) throws {
            try w.addTensor(name: name, dimensions: dims, type: type, floats: random(dims.reduce(1, *), scale: scale))
        }
        func addNorm(_ name: String) throws {
            try w.addTensor(name: name, dimensions: [dim], type: .f32, floats: (0..<dim).map { _ in 1 + Float(rng.nextDouble() - 0.5) * 0.4 })
        }
        try add("token_embd.weight", [dim, Self.vocab], .q8_0, scale: 1)
        try addNorm("output_norm.weight")
        for i in 0..<blocks {
            let p = "blk.\(i)."
            try addNorm(p + "attn_norm.weight")
            try add(p + "attn_q.weight", [dim, heads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_k.weight", [dim, kvHeads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_v.weight", [dim, kvHeads * hd], .q4_1, scale: 0.4)
            try add(p + "attn_output.weight", [heads * hd, dim], .q4_1, scale: 0.3)
            try addNorm(p + "ffn_norm.weight")
            try add(p + "ffn_gate.weight", [dim, ffn], .q4_1, scale: 0.4)
            try add(p + "ffn_up.weight", [dim, ffn], .q4_1, scale: 0.4)
            try add(p + "ffn_down.weight", [ffn, dim], .q4_1, scale: 0.3)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-eval-\(UUID().uuidString).gguf").path
        try w.write(to: path)
        return path
    }

}

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
        let modelPath = try TinyEvalModel().write()
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
