import Diagnostics
import Foundation
import Testing
import Tensor
import TestModels
@testable import LLM

struct ForwardTests {
    let tokens = [3, 17, 42, 99, 0, 5, 61, 17, 8, 23, 77]

    /// The runtime's logits for every position equal a plain double-precision forward.
    @Test(arguments: [NumericPath.exact, .fast])
    func matchesThePlainReference(path: NumericPath) throws {
        for tied in [true, false] {
            var tiny = tinyLlama()
            tiny.tiedOutput = tied
            let model = try tiny.model(path, threads: 2)
            #expect(model.isOutputTied == tied)
            let reference = try ReferenceForward(model: model).logits(tokens)
            let all = try InferenceSession(model: model, capacity: 32).forward(tokens, allLogits: true)
            let V = model.config.vocabularySize
            for t in tokens.indices {
                let d = maxDifference(Array(all[t * V..<(t + 1) * V]), reference[t])
                #expect(d < 2e-3, "position \(t), tied \(tied): max |Δ| \(d)")
            }
        }
    }

    /// Token-by-token decode with the KV cache gives the logits of a batched forward.
    @Test(arguments: [NumericPath.exact, .fast, .fastQ8])
    func kvCacheDecodeEqualsFullRecompute(path: NumericPath) throws {
        let model = try tinyLlama().model(path, threads: 2)
        let full = try InferenceSession(model: model, capacity: 32).forward(tokens, allLogits: true)
        let session = InferenceSession(model: model, capacity: 32)
        let V = model.config.vocabularySize
        for (t, id) in tokens.enumerated() {
            let step = try session.forward([id])
            let d = zip(step, full[t * V..<(t + 1) * V]).map { abs($0 - $1) }.max()!
            #expect(d < 1e-3, "position \(t): \(d)")
        }
        #expect(session.position == tokens.count)
    }

    /// Long inputs go through in chunks with the same result as one pass.
    @Test func chunkedPromptEqualsOnePass() throws {
        let model = try tinyLlama().model(.fast, threads: 2)
        let one = try InferenceSession(model: model, capacity: 32, chunkSize: 64).forward(tokens)
        let chunked = try InferenceSession(model: model, capacity: 32, chunkSize: 3).forward(tokens)
        #expect(zip(one, chunked).map { abs($0 - $1) }.max()! < 1e-4)
    }

    @Test func rewindReplaysTheSameLogits() throws {
        let model = try tinyLlama().model(.fast, threads: 2)
        let s = InferenceSession(model: model, capacity: 32)
        try s.forward(Array(tokens.prefix(6)))
        let a = try s.forward([9])
        s.rewind(to: 6)
        let b = try s.forward([9])
        #expect(a == b)
    }

    @Test func threadCountDoesNotChangeTheResult() throws {
        let one = try tinyLlama().model(.fast, threads: 1)
        let two = try tinyLlama().model(.fast, threads: 2)
        let a = try InferenceSession(model: one, capacity: 32).forward(tokens)
        let b = try InferenceSession(model: two, capacity: 32).forward(tokens)
        #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-5)
    }

    @Test func contextAndTokenErrorsAreClear() throws {
        let model = try tinyLlama().model(.fast, threads: 2)
        let s = InferenceSession(model: model, capacity: 4)
        #expect(throws: LLMError.self) { try s.forward([1, 2, 3, 4, 5]) }
        #expect(s.position == 0)
        #expect(throws: LLMError.self) { try s.forward([100]) }
        #expect(throws: LLMError.self) { try s.forward([-1]) }
        #expect(throws: LLMError.self) { try s.forward([]) }
        try s.forward([1, 2, 3, 4])
        do {
            try s.forward([1])
            Issue.record("a full context must throw")
        } catch let e as LLMError {
            #expect(e.code == .contextFull)
        }
    }

    @Test func modelErrorsNameWhatIsWrong() throws {
        var missing = tinyLlama()
        missing.omit = "blk.1.ffn_up.weight"
        do {
            _ = try missing.model()
            Issue.record("a missing tensor must throw")
        } catch let e as LLMError {
            #expect(e.code == .missingTensor)
            #expect(e.message.contains("blk.1.ffn_up.weight"))
        }
        var other = tinyLlama()
        other.architecture = "gpt2"
        #expect(throws: LLMError.self) { _ = try other.model() }
        var badHeads = tinyLlama()
        badHeads.kvHeads = 3
        #expect(throws: (any Error).self) { _ = try badHeads.model() }
    }

    @Test func modelLocationPrefersFlagThenEnvironmentThenCache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loc-\(UUID().uuidString)")
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cached = models.appendingPathComponent(ModelLocation.defaultFileName).path
        let flag = dir.appendingPathComponent("flag.gguf").path
        let env = dir.appendingPathComponent("env.gguf").path
        for p in [cached, flag, env] { FileManager.default.createFile(atPath: p, contents: Data([1])) }
        let environment = ["PCLIENT_CACHE": dir.path, "PCLIENT_MODEL": env]
        #expect(try ModelLocation.resolve(explicit: flag, environment: environment) == flag)
        #expect(try ModelLocation.resolve(explicit: nil, environment: environment) == env)
        #expect(try ModelLocation.resolve(explicit: nil, environment: ["PCLIENT_CACHE": dir.path]) == cached)
        do {
            _ = try ModelLocation.resolve(explicit: nil, environment: ["PCLIENT_CACHE": dir.path + "/none"])
            Issue.record("a missing model must throw")
        } catch let e as LLMError {
            #expect(e.code == .modelNotFound)
            #expect(e.message.contains("scripts/setup"))
        }
    }
}
