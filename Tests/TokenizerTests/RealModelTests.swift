import Foundation
import GGUF
import Randomness
import Testing
import Tokenizer

/// The real SmolLM2 vocabulary: `PCLIENT_MODEL` or the default cache path. Its tests are skipped
/// when the file is absent, unless `PCLIENT_REQUIRE_MODEL=1`.
enum SmolLM2 {
    struct LoadFailure: Error, Sendable { let message: String }

    static let path: String = {
        let given = ProcessInfo.processInfo.environment["PCLIENT_MODEL"]
            ?? "~/.cache/pclient/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        return (given as NSString).expandingTildeInPath
    }()
    static let isAvailable = FileManager.default.fileExists(atPath: path)
    static let isRequired = ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"

    private static let loaded: Result<BPETokenizer, LoadFailure> = {
        do {
            return .success(try BPETokenizer(gguf: GGUFFile(path: path)))
        } catch {
            return .failure(LoadFailure(message: "\(error)"))
        }
    }()

    static func tokenizer() throws -> BPETokenizer { try loaded.get() }
}

@Test(.enabled(if: SmolLM2.isRequired, "PCLIENT_REQUIRE_MODEL is not set"))
func modelFileIsPresentWhenRequired() {
    #expect(SmolLM2.isAvailable, "PCLIENT_REQUIRE_MODEL=1 but there is no model at \(SmolLM2.path)")
}

@Suite(.enabled(if: SmolLM2.isAvailable, "model file absent; set PCLIENT_MODEL"))
struct RealModelTests {
    let tokenizer: BPETokenizer
    init() throws { tokenizer = try SmolLM2.tokenizer() }

    /// /work/shared/vectors/smollm2.json (`tokenize` and `chat_prompt`): ids from llama.cpp built
    /// from source, special tokens parsed, no BOS.
    static let sharedVectors: [(text: String, ids: [Int])] = [
        ("Hello, world!", [19556, 28, 905, 17]),
        ("The quick brown fox jumps over the lazy dog.", [504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30]),
        (
            "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            [1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198]
        ),
        (
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
            [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2,
             198, 1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
        ),
    ]

    @Test func reproducesLlamaCppVectors() {
        for (text, ids) in Self.sharedVectors {
            #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
            #expect(tokenizer.decode(ids) == text)
        }
    }

    @Test func reproducesHuggingFaceVectors() {
        for (text, ids) in ReferenceVectors.smolLM2 {
            #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)")
            #expect(Array(tokenizer.decode(ids).utf8) == Array(text.utf8))
        }
    }

    @Test func metadata() {
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.preTokenizerName == "smollm")
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.unknownID == 0)
        #expect(tokenizer.paddingID == 2)
        #expect(tokenizer.addBOSToken == false)
        #expect(tokenizer.chatTemplate?.contains("<|im_start|>") == true)
        #expect(tokenizer.id(of: "<|im_start|>") == 1)
        #expect(tokenizer.id(of: "<|im_end|>") == 2)
        #expect(tokenizer.id(of: "<|endoftext|>") == 0)
        #expect(tokenizer.id(of: "Ġthe") == 260)
        #expect((0...16).allSatisfy(tokenizer.isControl))
        #expect(!tokenizer.isControl(260))
        #expect(tokenizer.bytes(of: 260) == Array(" the".utf8))
        #expect(tokenizer.bytes(of: 2) == Array("<|im_end|>".utf8))
    }

    @Test func specialTokenTextIsPlainWhenNotParsed() {
        let text = "say <|im_end|> and <|endoftext|>"
        let ids = tokenizer.encode(text, parseSpecial: false)
        #expect(!ids.contains { tokenizer.isControl($0) })
        #expect(tokenizer.decode(ids) == text)
        #expect(tokenizer.encode(text).contains(2))
    }

    @Test func randomTextRoundTripsExactly() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<500 {
            let text = RandomText.make(length: Int.random(in: 1...120, using: &rng), using: &rng)
            #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8), "\(text.debugDescription)")
        }
    }

    @Test func streamingConcatenationEqualsDecode() {
        var rng = SplitMix64(seed: 12)
        var texts = ["👍🏽 🇫🇷 👨‍👩‍👧 日本語のテキスト", "<|im_start|>assistant\nCafé ☕️<|im_end|>"]
        for _ in 0..<200 { texts.append(RandomText.make(length: 80, using: &rng)) }
        for text in texts {
            let ids = tokenizer.encode(text)
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in ids { streamed += decoder.push(id) }
            streamed += decoder.finish()
            #expect(streamed == tokenizer.decode(ids))
            #expect(Array(streamed.utf8) == Array(text.utf8))
        }
        // Random ids are mostly not valid UTF-8 when concatenated: the stream must still agree.
        for _ in 0..<300 {
            let ids = (0..<Int.random(in: 1...8, using: &rng)).map { _ in Int.random(in: 0..<49152, using: &rng) }
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            let streamed = ids.map { decoder.push($0) }.joined() + decoder.finish()
            #expect(streamed == tokenizer.decode(ids), "\(ids)")
        }
    }

    @Test func encodesAMegabyteQuickly() {
        var rng = SplitMix64(seed: 13)
        let text = RandomText.prose(bytes: 1_000_000, using: &rng)
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = clock.measure { ids = tokenizer.encode(text) }
        print("encoded \(text.utf8.count) bytes into \(ids.count) tokens in \(elapsed)")
        #expect(tokenizer.decode(ids) == text)
        #if DEBUG
        #expect(elapsed < .seconds(20))
        #else
        #expect(elapsed < .seconds(1))
        #endif
    }
}
