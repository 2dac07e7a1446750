import Foundation
import Testing
import GGUF

/// The widths the model loader and the federation's adapter layout both read.
@Suite struct LlamaShapeTests {
    func file(_ entries: [(String, GGUFValue)]) throws -> (Scratch, GGUFFile) {
        let scratch = try Scratch()
        var writer = GGUFWriter()
        for (key, value) in entries { writer.set(key, value) }
        return (scratch, try GGUFFile(path: scratch.write(writer.encoded())))
    }

    /// SmolLM2-135M's keys: no key_length, so head dim = 576 / 9 = 64 and kv width = 3 × 64.
    @Test func smolLM2sWidthsFollowFromItsHeadCounts() throws {
        let (_, f) = try file([
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(30)), ("llama.embedding_length", .uint32(576)),
            ("llama.feed_forward_length", .uint32(1536)), ("llama.attention.head_count", .uint32(9)),
            ("llama.attention.head_count_kv", .uint32(3)),
        ])
        let s = try f.llamaShape()
        #expect(s == LlamaShape(blockCount: 30, embeddingLength: 576, feedForwardLength: 1536, headCount: 9, kvHeadCount: 3))
        #expect(s.headDim == 64 && s.qDim == 576 && s.kvDim == 192)
    }

    /// key_length wins over embedding / heads; a missing head_count_kv means as many as heads; the
    /// keys are read under general.architecture's prefix.
    @Test func keyLengthAndTheArchitecturePrefixAreRead() throws {
        let (_, f) = try file([
            ("general.architecture", .string("mistral")), ("mistral.block_count", .uint32(2)), ("mistral.embedding_length", .uint32(16)),
            ("mistral.feed_forward_length", .uint32(24)), ("mistral.attention.head_count", .uint32(4)),
            ("mistral.attention.key_length", .uint32(6)),
        ])
        let s = try f.llamaShape()
        #expect(s.architecture == "mistral" && s.kvHeadCount == 4 && s.headDim == 6)
        #expect(s.qDim == 24 && s.kvDim == 24)
    }

    @Test func aMissingWidthNamesItsKey() throws {
        let (_, f) = try file([("llama.block_count", .uint32(2)), ("llama.embedding_length", .uint32(16)), ("llama.attention.head_count", .uint32(4))])
        let e = #expect(throws: GGUFError.self) { try f.llamaShape() }
        #expect(e?.code == .missingKey && e?.message.contains("llama.feed_forward_length") == true)
    }
}
