import Randomness
import Testing
import Tokenizer

@Suite struct StreamingDecoderTests {
    let tokenizer: BPETokenizer
    init() throws { tokenizer = try TinyVocabulary.tokenizer() }

    func stream(_ ids: [Int]) -> (pieces: [String], joined: String) {
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var pieces = ids.map { decoder.push($0) }
        pieces.append(decoder.finish())
        return (pieces, pieces.joined())
    }

    @Test func holdsAPartialCharacterUntilItsLastByte() {
        let emoji = Array("👍".utf8).map(Int.init)  // F0 9F 91 8D, one byte token each
        #expect(stream(emoji).pieces == ["", "", "", "👍", ""])
        let mixed = [Int(UInt8(ascii: "a")), 0xE2, 0x82, 0xAC, Int(UInt8(ascii: "b"))]
        #expect(stream(mixed).pieces == ["a", "", "", "€", "b", ""])
    }

    @Test func releasesIllFormedBytesAtOnce() {
        // ED A0 starts a surrogate, which can never complete: replaced without waiting.
        #expect(stream([0xED, 0xA0]).pieces == ["", "\u{FFFD}\u{FFFD}", ""])
        #expect(stream([0xFF, 0x41]).pieces == ["\u{FFFD}", "A", ""])
        // an unfinished character at the end becomes one U+FFFD
        #expect(stream([0x41, 0xF0, 0x9F]).pieces == ["A", "", "", "\u{FFFD}"])
    }

    @Test func completePrefixLength() {
        #expect(StreamingDecoder.completePrefixLength([]) == 0)
        #expect(StreamingDecoder.completePrefixLength([0x41]) == 1)
        #expect(StreamingDecoder.completePrefixLength([0x41, 0xC3]) == 1)
        #expect(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x91]) == 0)
        #expect(StreamingDecoder.completePrefixLength([0xF0, 0x9F, 0x91, 0x8D]) == 4)
        #expect(StreamingDecoder.completePrefixLength([0xE0, 0x80]) == 2)  // overlong
        #expect(StreamingDecoder.completePrefixLength([0xF4, 0x90]) == 2)  // above U+10FFFF
        #expect(StreamingDecoder.completePrefixLength([0x80, 0x80, 0x80, 0x80, 0x80]) == 5)
        #expect(StreamingDecoder.completePrefixLength([0xC0]) == 1)
    }

    @Test func concatenationEqualsDecodeForRandomBytes() {
        var rng = SplitMix64(seed: 3)
        // bytes biased towards UTF-8 structure, so partial and broken sequences are common
        let interesting: [UInt8] = [0x41, 0x20, 0x80, 0x8D, 0x9F, 0xA0, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        for _ in 0..<2000 {
            let count = Int.random(in: 0...12, using: &rng)
            let ids = (0..<count).map { _ in
                Bool.random(using: &rng) ? Int(interesting.randomElement(using: &rng)!) : Int.random(in: 0..<tokenizer.vocabularySize, using: &rng)
            }
            #expect(stream(ids).joined == tokenizer.decode(ids), "\(ids)")
        }
    }

    @Test func concatenationEqualsDecodeForRandomText() {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<200 {
            let text = RandomText.make(length: 50, using: &rng)
            let ids = tokenizer.encode(text)
            #expect(stream(ids).joined == text)
        }
    }
}
