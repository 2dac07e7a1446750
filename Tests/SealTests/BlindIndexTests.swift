import Diagnostics
import Foundation
import Testing
@testable import Seal

@Suite struct BlindIndexTests {
    let index = try! BlindIndex(key: DataKey.generate().subkey(for: .blindIndex))

    @Test func blake2bMatchesRFC7693() {
        // RFC 7693, Appendix A: BLAKE2b-512("abc").
        let expected = hex("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        #expect(Blake2b.hash(Array("abc".utf8), outputByteCount: 64) == expected)
    }

    @Test func keyedBlake2bMatchesTheReferenceKAT() {
        // blake2b-kat.txt (reference implementation): empty input, key 00 01 … 3f.
        let key = SecretBytes(copying: Array(0..<64) as [UInt8])
        let expected = hex("10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
            + "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568")
        #expect(Blake2b.hash([UInt8](), key: key, outputByteCount: 64) == expected)
    }

    @Test func tokensMatchAnIndependentComputation() throws {
        // Expected values: Python hashlib.blake2b(term.encode(), key=bytes(range(32)), digest_size=16).
        let fixed = try BlindIndex(key: SecretBytes(copying: Array(0..<32) as [UInt8]))
        #expect(fixed.token(for: "Café") == "09d63651e93c8030c4d9c8f15b222013")
        #expect(fixed.token(for: "STRASSE") == "30239c3013c9ef628620f9a842b356d2")
        #expect(fixed.token(for: "Straße") == "30239c3013c9ef628620f9a842b356d2")
        #expect(fixed.token(for: "東") == "a0c937026e4d5fc6235a71102bbc2e87")
    }

    @Test func tokensAreDeterministicPerKeyAndDifferAcrossKeys() throws {
        let other = try BlindIndex(key: DataKey.generate().subkey(for: .blindIndex))
        #expect(index.token(for: "memory") == index.token(for: "memory"))
        #expect(index.token(for: "memory") != other.token(for: "memory"))
        #expect(index.token(for: "memory") != index.token(for: "memories"))
    }

    @Test func caseAndCompatibilityFormsFoldTogetherButAccentsStay() {
        let cafe = index.token(for: "café")
        #expect(index.token(for: "Café") == cafe)
        #expect(index.token(for: "CAFÉ") == cafe)
        #expect(index.token(for: "cafe\u{301}") == cafe) // decomposed é
        #expect(index.token(for: "cafe") != cafe)       // diacritics kept
        #expect(index.token(for: "ﬁne") == index.token(for: "FINE"))
        #expect(index.token(for: "ΟΔΟΣ") == index.token(for: "οδος"))
        #expect(BlindIndex.normalize("Ｃａｆé") == "café")   // full-width letters
        let once = BlindIndex.normalize("İSTANBUL Straße ǅ")
        #expect(BlindIndex.normalize(once) == once)
    }

    @Test func tokensAreValidFTS5TokensAndHoldNoPlaintext() {
        let allowed = Set("0123456789abcdef")
        for term in ["canary", "zebra", "東京", "x"] {
            let token = index.token(for: term)
            #expect(token.count == 32)
            #expect(token.allSatisfy(allowed.contains))
            #expect(!token.contains(term))
        }
        let tokens = index.tokens(in: "The zebra canary flew; canary again")
        #expect(tokens.count == 6)
        #expect(tokens[2] == tokens[4])
        #expect(!tokens.joined(separator: " ").contains("canary"))
        #expect(!tokens.joined(separator: " ").contains("zebra"))
    }

    @Test func termsSplitOnNonLettersAndDigits() {
        #expect(BlindIndex.terms(in: "Hello, World! It's 2024-05-01.") == ["hello", "world", "it", "s", "2024", "05", "01"])
        #expect(BlindIndex.terms(in: "  \n\t ") == [])
        #expect(BlindIndex.terms(in: "") == [])
        #expect(BlindIndex.terms(in: "Crème brûlée") == ["crème", "brûlée"])
        #expect(BlindIndex.terms(in: "e-mail: a@b.example") == ["e", "mail", "a", "b", "example"])
        // Each ideograph is a term; kana runs stay together.
        #expect(BlindIndex.terms(in: "東京タワーに行く") == ["東", "京", "タワーに", "行", "く"])
        #expect(BlindIndex.terms(in: "我爱北京") == ["我", "爱", "北", "京"])
        #expect(BlindIndex.terms(in: "Ünïcödé 😀 emoji") == ["ünïcödé", "emoji"])
        #expect(BlindIndex.terms(in: "①②") == ["12"])
        // The tokens of a text are the tokens of its terms.
        #expect(index.tokens(in: "Café au lait") == ["café", "au", "lait"].map(index.token(for:)))
    }

    @Test func rejectsShortKeys() {
        #expect(sealError { _ = try BlindIndex(key: SecretBytes(randomCount: 8)) }?.code == .invalidKey)
    }
}

/// The ASCII fast path gives exactly the general Unicode path's terms.
@Test func asciiFastPathMatchesTheUnicodePath() {
    let samples = ["Hello, World! It's 3:45pm.", "  tabs\tand\nnewlines  ", "snake_case and kebab-case x2y",
                   "UPPER lower MiXeD 12345 ~!@#$%^&*()", "", "a", "The QUICK brown fox #42"]
    for s in samples {
        #expect(BlindIndex.terms(in: s) == BlindIndex.unicodeTerms(in: s), "\(s)")
    }
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<300 {
        let s = String((0..<40).map { _ in Character(Unicode.Scalar(UInt8.random(in: 9...126, using: &rng))) })
        #expect(BlindIndex.terms(in: s) == BlindIndex.unicodeTerms(in: s), "\(s)")
        #expect(BlindIndex.normalize(s) == BlindIndex.unicodeNormalize(s), "\(s)")
    }
}
