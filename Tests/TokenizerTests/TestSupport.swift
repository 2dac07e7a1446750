import Foundation
import Randomness
import Tokenizer

enum RandomText {
    /// Mixed scripts, digits, whitespace of every kind, combining marks, emoji sequences (ZWJ,
    /// skin tones, flags), control characters, private-use and noncharacter-adjacent scalars.
    static let pools: [[Unicode.Scalar]] = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ", " \t\n\r\u{0B}\u{0C}\u{85}\u{A0}\u{1680}\u{2003}\u{2028}\u{3000}",
        "'sStTmMdDrReEvVlL", ".,;:!?-_()[]{}<>|/\\\"`~@#$%^&*+=", "éèàçñüößøåæœ", "\u{301}\u{308}\u{327}\u{20DD}\u{200B}\u{200D}\u{FEFF}",
        "日本語のテキスト漢字かなカナ", "한국어텍스트", "مرحبابالعالم", "שלוםעולם", "Ελληνικάκείμενο", "Русскийтекст", "हिन्दीपाठ",
        "١٢٣٤٥½²³ⅣⅫ", "👍🏽🇫🇷😀👨‍👩‍👧🎉", "\u{0}\u{1}\u{7}\u{1B}\u{7F}\u{9F}", "ǅǈʰʲˠ", "\u{1D400}\u{1D7CE}\u{E000}\u{F0000}\u{FFFD}\u{10FFFD}",
    ].map { Array($0.unicodeScalars) }

    static func make(length: Int, using rng: inout SplitMix64) -> String {
        var scalars = String.UnicodeScalarView()
        while scalars.count < length {
            let pool = pools.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...6, using: &rng) { scalars.append(pool.randomElement(using: &rng)!) }
        }
        return String(scalars)
    }

    /// English-like prose: common words, capitals, punctuation, numbers and line breaks.
    static func prose(bytes: Int, using rng: inout SplitMix64) -> String {
        let words = """
        the of and to in is that it for was on are as with his they at be this from have or by one had not but what \
        all were when we there can an your which their said if do will each about how up out them then she many some \
        so these would other into has more her two like him see time could no make than first been its who now people \
        my made over did down only way find use may water long little very after words called just where most know \
        model token memory private adapter training federated round client server update privacy budget noise \
        however because although therefore meanwhile nevertheless approximately international responsibility
        """.split(separator: " ").map(String.init)
        var text = ""
        var sentenceStart = true
        while text.utf8.count < bytes {
            var word = words.randomElement(using: &rng)!
            if sentenceStart { word = word.prefix(1).uppercased() + word.dropFirst() }
            text += word
            sentenceStart = false
            switch Int.random(in: 0..<40, using: &rng) {
            case 0: text += ". "; sentenceStart = true
            case 1: text += ", "
            case 2: text += " \(Int.random(in: 0..<100_000, using: &rng)) "
            case 3: text += ".\n\n"; sentenceStart = true
            case 4: text += "'s "
            default: text += " "
            }
        }
        return text
    }
}

/// A hand-built byte-level vocabulary: ids 0-255 are the single bytes (in byte order), then merged
/// tokens, then special tokens.
enum TinyVocabulary {
    static let merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o", "r l", "Ġwo rl", "Ġworl d", "b c", "a b", "a a"]
    static let merged = ["he", "ll", "hell", "hello", "Ġw", "Ġwo", "rl", "Ġworl", "Ġworld", "bc", "ab", "aa"]
    static let special = ["<|end|>", "<|endoftext|>", "xy", "xyz!"]

    static var tokens: [String] {
        (0...255).map { ByteLevel.encode([UInt8($0)]) } + merged + special
    }

    static func id(_ token: String) -> Int { tokens.firstIndex(of: token)! }

    static func tokenizer(pre: String = "smollm", specialType: Int = 3) throws -> BPETokenizer {
        let types = Array(repeating: 1, count: 256 + merged.count) + Array(repeating: specialType, count: special.count)
        return try BPETokenizer(
            tokens: tokens, merges: merges, tokenTypes: types,
            bos: id("<|endoftext|>"), eos: id("<|end|>"), pre: pre
        )
    }
}
