import Diagnostics
import Foundation
import Testing
import Tokenizer

@Suite struct WordPieceTests {
    static let vocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",           // 0–4
        "un", "##aff", "##able", "want", "##ed",               // 5–9
        "runn", "##ing", ",", "!", "hello",                    // 10–14
        "world", "creme", "brulee", "東", "京",                // 15–19
        "a", "##a", "'", "s", "it",                            // 20–24
        "low", "##er", "lower", "##e", "e",                    // 25–29
    ]
    static func tokenizer(lowercase: Bool = true) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase)
    }
    static func id(_ token: String) -> Int { vocabulary.firstIndex(of: token)! }

    @Test func greedyLongestMatchFirstWithContinuations() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("unaffable") == [2, 5, 6, 7, 3])
        #expect(t.encode("wanted running") == [2, 8, 9, 10, 11, 3])
        // Longest first: "lower" beats "low" + "##er".
        #expect(t.tokenize("lower") == [Self.id("lower")])
        #expect(t.tokenize("lowere") == [Self.id("lower"), Self.id("##e")])
        // One unmatchable position makes the whole word [UNK], not just that piece.
        #expect(t.tokenize("unaffablex hello") == [1, 14])
    }

    @Test func basicTokenizerSplitsPunctuationCJKAndWhitespace() throws {
        let t = try Self.tokenizer()
        #expect(t.words("Hello, WORLD!!! It's") == ["hello", ",", "world", "!", "!", "!", "it", "'", "s"])
        #expect(t.words("東京x") == ["東", "京", "x"])
        // ASCII punctuation by range ($ + ` ^ are symbols in Unicode but punctuation to BERT), and Unicode P*.
        #expect(t.words("a$b+c`d^e") == ["a", "$", "b", "+", "c", "`", "d", "^", "e"])
        #expect(t.words("x—y«z»") == ["x", "—", "y", "«", "z", "»"])
        // Emoji are symbols (So), not punctuation: they stay inside their word.
        #expect(t.words("pizza🍕🔥") == ["pizza🍕🔥"])
        // Tabs, newlines, no-break and ideographic spaces separate; controls and format characters vanish.
        #expect(t.words("a\tb\nc\r\nd\u{00A0}e\u{3000}f") == ["a", "b", "c", "d", "e", "f"])
        #expect(t.words("zero\u{200B}width\u{0007}bell\u{0000}\u{FFFD}") == ["zerowidthbell"])
        #expect(t.words("") == [] && t.words(" \t\n ") == [])
    }

    @Test func lowercasingStripsAccents() throws {
        let t = try Self.tokenizer()
        #expect(t.words("Crème BRÛLÉE") == ["creme", "brulee"])
        #expect(t.encode("Crème BRÛLÉE") == [2, 16, 17, 3])
        // Already decomposed input gives the same result.
        #expect(t.words("Cre\u{0300}me") == ["creme"])
        // Hangul syllables decompose to jamo under NFD, as in Hugging Face's tokenizer.
        #expect(t.words("한") == ["\u{1112}\u{1161}\u{11AB}"])
        let cased = try Self.tokenizer(lowercase: false)
        #expect(cased.words("Crème") == ["Crème"])
        #expect(cased.tokenize("Hello") == [1])
    }

    @Test func specialTokensInTheTextAreKept() throws {
        let t = try Self.tokenizer()
        #expect(t.encode("hello [SEP] world[MASK]") == [2, 14, 3, 15, 4, 3])
        // Only exact, case-sensitive matches.
        #expect(t.tokenize("[sep]") == [1, 1, 1])
    }

    @Test func longWordsAreUnknownAndTruncationKeepsClsAndSep() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize(String(repeating: "a", count: 100)) == [20] + Array(repeating: 21, count: 99))
        #expect(t.tokenize(String(repeating: "a", count: 101)) == [1])
        #expect(t.encode("") == [2, 3])
        let ids = t.encode(String(repeating: "hello ", count: 300), maxLength: 256)
        #expect(ids.count == 256 && ids.first == 2 && ids.last == 3)
        #expect(t.encode("hello world", maxLength: 3) == [2, 14, 3])
        #expect(t.encode("hello world", maxLength: 0) == [2, 3])
    }

    @Test func readsVocabFilesAndRejectsBadOnes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let crlf = dir.appendingPathComponent("vocab.txt")
        try Data(Self.vocabulary.joined(separator: "\r\n").appending("\r\n").utf8).write(to: crlf)
        let t = try WordPieceTokenizer(vocabFile: crlf.path)
        #expect(t.vocabularySize == Self.vocabulary.count)
        #expect(t.encode("unaffable") == [2, 5, 6, 7, 3])

        let noCLS = dir.appendingPathComponent("nocls.txt")
        try Data("[PAD]\n[UNK]\n[SEP]\nhello\n".utf8).write(to: noCLS)
        #expect { try WordPieceTokenizer(vocabFile: noCLS.path) } throws: {
            ($0 as? TokenizerError)?.code == .malformedVocabulary
        }
        let badUTF8 = dir.appendingPathComponent("bad.txt")
        try Data([0x5B, 0x43, 0x4C, 0x53, 0x5D, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: badUTF8)
        #expect { try WordPieceTokenizer(vocabFile: badUTF8.path) } throws: {
            ($0 as? TokenizerError)?.code == .malformedVocabulary
        }
        #expect { try WordPieceTokenizer(vocabFile: dir.appendingPathComponent("missing.txt").path) } throws: {
            guard let e = $0 as? TokenizerError else { return false }
            return e.code == .unreadableFile && e.message.contains("scripts/setup")
        }
    }
}

/// all-MiniLM-L6-v2's vocab.txt against the ids Hugging Face's tokenizer gave for the texts in
/// Tests/LLMTests/Vectors/minilm.json. Skipped without the encoder unless PCLIENT_REQUIRE_MODEL=1.
@Suite(.enabled(if: MiniLMVocabulary.available, "all-MiniLM-L6-v2 not installed: run scripts/setup"))
struct WordPieceMiniLMTests {
    struct Vectors: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int] }
        let max_seq_length: Int
        let cases: [Case]
    }

    @Test func idsMatchHuggingFace() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LLMTests/Vectors/minilm.json")
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
        let t = try WordPieceTokenizer(vocabFile: MiniLMVocabulary.path)
        #expect(t.vocabularySize == 30522)
        for c in vectors.cases {
            #expect(t.encode(c.text, maxLength: vectors.max_seq_length) == c.ids, "\(c.text.debugDescription)")
        }
    }
}

enum MiniLMVocabulary {
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_ENCODER"], !p.isEmpty { return p + "/vocab.txt" }
        let cache = env["PCLIENT_CACHE"] ?? ((env["XDG_CACHE_HOME"].map { $0 + "/pclient" }) ?? (NSHomeDirectory() + "/.cache/pclient"))
        return cache + "/models/all-MiniLM-L6-v2/vocab.txt"
    }
    static var available: Bool {
        FileManager.default.fileExists(atPath: path) || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"
    }
}
