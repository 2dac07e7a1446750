import Diagnostics
import Foundation
import GGUF
import Testing
import Tokenizer

@Suite struct GGUFLoadingTests {
    func writeVocabulary(model: String = "gpt2", pre: String? = "smollm", includeTokens: Bool = true) throws -> String {
        var writer = GGUFWriter()
        writer.set("general.architecture", "llama")
        writer.set("tokenizer.ggml.model", model)
        if let pre { writer.set("tokenizer.ggml.pre", pre) }
        if includeTokens { writer.set("tokenizer.ggml.tokens", TinyVocabulary.tokens) }
        writer.set("tokenizer.ggml.merges", TinyVocabulary.merges)
        let types = Array(repeating: 1, count: 256 + TinyVocabulary.merged.count) + Array(repeating: 3, count: TinyVocabulary.special.count)
        writer.set("tokenizer.ggml.token_type", .array(types.map { .int32(Int32($0)) }))
        writer.set("tokenizer.ggml.bos_token_id", UInt32(TinyVocabulary.id("<|endoftext|>")))
        writer.set("tokenizer.ggml.eos_token_id", UInt32(TinyVocabulary.id("<|end|>")))
        writer.set("tokenizer.ggml.add_bos_token", false)
        writer.set("tokenizer.chat_template", "{{ messages }}")
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tokenizer-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        return path
    }

    @Test func readsTheVocabularyKeys() throws {
        let path = try writeVocabulary()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
        let reference = try TinyVocabulary.tokenizer()
        #expect(tokenizer.vocabularySize == reference.vocabularySize)
        #expect(tokenizer.encode("hello world<|end|>") == reference.encode("hello world<|end|>"))
        #expect(tokenizer.bosID == TinyVocabulary.id("<|endoftext|>"))
        #expect(tokenizer.eosID == TinyVocabulary.id("<|end|>"))
        #expect(tokenizer.addBOSToken == false)
        #expect(tokenizer.chatTemplate == "{{ messages }}")
        #expect(tokenizer.preTokenizerName == "smollm")
    }

    @Test func missingPreMeansDefault() throws {
        let path = try writeVocabulary(pre: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try BPETokenizer(gguf: GGUFFile(path: path)).preTokenizerName == "default")
    }

    @Test func refusesOtherVocabularyTypesAndMissingKeys() throws {
        let spm = try writeVocabulary(model: "llama")
        defer { try? FileManager.default.removeItem(atPath: spm) }
        #expect { try BPETokenizer(gguf: GGUFFile(path: spm)) } throws: { error in
            (error as? TokenizerError)?.code == .unsupportedModel
        }
        let noTokens = try writeVocabulary(includeTokens: false)
        defer { try? FileManager.default.removeItem(atPath: noTokens) }
        #expect { try BPETokenizer(gguf: GGUFFile(path: noTokens)) } throws: { error in
            guard let error = error as? TokenizerError else { return false }
            return error.code == .malformedVocabulary && (error.cause as? GGUFError)?.code == .missingKey
        }
    }
}
