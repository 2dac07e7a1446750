import Testing
import Tokenizer

@Suite struct PreTokenizerTests {
    func split(_ text: String, _ pre: String) throws -> [String] {
        let bytes = Array(text.utf8)
        let scalars = ScalarText(utf8: bytes)
        return try PreTokenizer(name: pre).split(scalars).map { range in
            String(decoding: bytes[scalars.byteOffsets[range.lowerBound]..<scalars.byteOffsets[range.upperBound]], as: UTF8.self)
        }
    }

    @Test(arguments: [
        ("smollm", ReferenceVectors.smollmSplits),
        ("gpt2", ReferenceVectors.gpt2Splits),
        ("llama3", ReferenceVectors.llama3Splits),
    ])
    func splitsMatchHuggingFace(pre: String, cases: [(text: String, pieces: [String])]) throws {
        for (text, pieces) in cases {
            #expect(try split(text, pre) == pieces, "\(pre): \(text.debugDescription)")
        }
    }

    @Test func smollmIsolatesEveryDigit() throws {
        #expect(try split("a 123", "smollm") == ["a", " ", "1", "2", "3"])
        #expect(try split("x١٢", "smollm") == ["x", "١", "٢"])
        #expect(try split("a 123", "gpt2") == ["a", " 123"])
    }

    @Test func whitespaceRunsLeaveTheLastSpaceToTheNextWord() throws {
        #expect(try split("a   b", "smollm") == ["a", "  ", " b"])
        #expect(try split("a \n b", "smollm") == ["a", " \n", " b"])
        #expect(try split("a   ", "smollm") == ["a", "   "])
        #expect(try split("a\u{3000}\u{A0}b", "smollm") == ["a", "\u{3000}", "\u{A0}", "b"])
    }

    @Test func contractionsAreCaseSensitiveExceptInLlama3() throws {
        #expect(try split("I'M", "smollm") == ["I", "'", "M"])
        #expect(try split("I'M", "llama3") == ["I", "'M"])
        #expect(try split("it's", "smollm") == ["it", "'s"])
    }

    @Test func defaultSplitsPunctuationAndDigitTriples() throws {
        #expect(try split("a,b 12345", "default") == ["a", ",", "b", " ", "123", "45"])
    }
}
