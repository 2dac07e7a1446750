import Diagnostics
import Randomness
import Testing
import Tokenizer

@Suite struct TinyVocabularyTests {
    let tokenizer: BPETokenizer
    init() throws { tokenizer = try TinyVocabulary.tokenizer() }

    func ids(_ tokens: String...) -> [Int] { tokens.map(TinyVocabulary.id) }

    @Test func gpt2ByteTableSpellsEveryByteOnceAndPrintably() {
        let spelled = (0...255).map { ByteLevel.encode([UInt8($0)]) }
        #expect(Set(spelled).count == 256)
        #expect(spelled[0x20] == "Ġ")
        #expect(spelled[0x0A] == "Ċ")
        #expect(spelled[0x41] == "A")
        #expect(spelled[0xAD] == "\u{143}")  // soft hyphen: the last byte that is renumbered
        for byte in 0...255 {
            let scalar = spelled[byte].unicodeScalars.first!
            #expect(ByteLevel.byte(for: scalar) == UInt8(byte))
        }
        #expect(ByteLevel.byte(for: "\u{144}") == nil)
        #expect(ByteLevel.byte(for: " ") == nil)
    }

    @Test func mergesApplyByRankNotByPosition() {
        #expect(tokenizer.encode("hello world") == ids("hello", "Ġworld"))
        // "b c" outranks "a b": abc -> a + bc
        #expect(tokenizer.encode("abc") == ids("a", "bc"))
        // equal ranks: the leftmost pair first
        #expect(tokenizer.encode("aaa") == ids("aa", "a"))
        #expect(tokenizer.encode("aaaa") == ids("aa", "aa"))
        #expect(tokenizer.encode("hell") == ids("hell"))
        #expect(tokenizer.encode("") == [])
    }

    @Test func bytesWithoutMergesStayBytes() {
        let text = "é\u{0}\n"
        #expect(tokenizer.encode(text) == [0xC3, 0xA9, 0x00, 0x0A])
        #expect(tokenizer.decode(tokenizer.encode(text)) == text)
    }

    @Test func specialTokensAreParsedOnlyWhenAsked() {
        let text = "hello<|end|> world<|endoftext|>"
        #expect(tokenizer.encode(text) == ids("hello", "<|end|>", "Ġworld", "<|endoftext|>"))
        let plain = tokenizer.encode(text, parseSpecial: false)
        #expect(!plain.contains(TinyVocabulary.id("<|end|>")))
        #expect(plain.first == TinyVocabulary.id("hello"))
        #expect(tokenizer.decode(plain) == text)
        #expect(tokenizer.decode(tokenizer.encode(text)) == text)
    }

    @Test func longerSpecialTokensAreMatchedFirst() {
        // llama.cpp searches each special token in turn, longest first: "xyz!" wins over "xy".
        #expect(tokenizer.encode("axyz!xy") == ids("a", "xyz!", "xy"))
        #expect(tokenizer.encode("xyxyz") == [TinyVocabulary.id("xy"), TinyVocabulary.id("xy"), Int(UInt8(ascii: "z"))])
    }

    @Test func userDefinedTokensAreSpecialToo() throws {
        let userDefined = try TinyVocabulary.tokenizer(specialType: 4)
        #expect(userDefined.encode("a<|end|>") == ids("a", "<|end|>"))
        #expect(!userDefined.isControl(TinyVocabulary.id("<|end|>")))
        #expect(tokenizer.isControl(TinyVocabulary.id("<|end|>")))
        #expect(!tokenizer.isControl(TinyVocabulary.id("hello")))
        #expect(!tokenizer.isControl(-1))
    }

    @Test func lookupsAndBytes() {
        #expect(tokenizer.vocabularySize == 256 + TinyVocabulary.merged.count + TinyVocabulary.special.count)
        #expect(tokenizer.id(of: "Ġworld") == TinyVocabulary.id("Ġworld"))
        #expect(tokenizer.id(of: " world") == nil)
        #expect(tokenizer.bytes(of: TinyVocabulary.id("Ġworld")) == Array(" world".utf8))
        #expect(tokenizer.bytes(of: TinyVocabulary.id("<|end|>")) == Array("<|end|>".utf8))
        #expect(tokenizer.bytes(of: 0xC3) == [0xC3])
        #expect(tokenizer.bytes(of: 10_000) == [])
        #expect(tokenizer.bosID == TinyVocabulary.id("<|endoftext|>"))
        #expect(tokenizer.eosID == TinyVocabulary.id("<|end|>"))
    }

    @Test func decodeReplacesOnlyInvalidBytes() {
        // "é" split as C3 A9 decodes whole; a lone C3 followed by 'A' is one U+FFFD.
        #expect(tokenizer.decode([0xC3, 0xA9]) == "é")
        #expect(tokenizer.decode([0x61, 0xC3, 0x41]) == "a\u{FFFD}A")
        #expect(tokenizer.decode([0xF0, 0x9F, 0x91]) == "\u{FFFD}")
        #expect(tokenizer.decode([0xFF]) == "\u{FFFD}")
    }

    @Test func randomTextRoundTripsExactly() {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<300 {
            let text = RandomText.make(length: Int.random(in: 1...80, using: &rng), using: &rng)
            // compare bytes: String == is canonical equivalence and would hide a lost combining mark
            #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8))
            #expect(Array(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)).utf8) == Array(text.utf8))
        }
    }

    @Test func everyPreTokenizerRoundTrips() throws {
        var rng = SplitMix64(seed: 2)
        for pre in ["smollm", "gpt2", "llama3", "default", "starcoder"] {
            let tokenizer = try TinyVocabulary.tokenizer(pre: pre)
            for _ in 0..<100 {
                let text = RandomText.make(length: 60, using: &rng)
                #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == Array(text.utf8), "\(pre)")
            }
        }
    }

    @Test func inconsistentVocabulariesAreRejected() {
        let tokens = TinyVocabulary.tokens
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [], bos: nil, eos: nil, pre: "bloom-unknown")
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [1, 1], bos: nil, eos: nil, pre: "smollm")
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: ["nospace"], tokenTypes: [], bos: nil, eos: nil, pre: "smollm")
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [], bos: tokens.count, eos: nil, pre: "smollm")
        }
        #expect(throws: TokenizerError.self) {
            try BPETokenizer(tokens: [], merges: [], tokenTypes: [], bos: nil, eos: nil, pre: "smollm")
        }
        do {
            _ = try BPETokenizer(tokens: tokens, merges: [], tokenTypes: [], bos: nil, eos: nil, pre: "bloom-unknown")
        } catch {
            #expect(error.code == .unsupportedPreTokenizer)
            #expect(error.message.contains("bloom-unknown"))
        }
    }
}
