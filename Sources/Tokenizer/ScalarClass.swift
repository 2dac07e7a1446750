// The character classes the pre-tokenizer regexes ask about, as llama.cpp's unicode tables define
// them: \p{L} = Lu Ll Lt Lm Lo, \p{N} = Nd Nl No, \p{P} = Pc Pd Ps Pe Pi Pf Po, \s = White_Space.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)
    static let punctuation = ScalarClass(rawValue: 8)
    /// Marks a position past the end of the piece being split; matches no class test.
    static let outOfRange = ScalarClass(rawValue: 0x80)

    /// `\s`, `\p{L}` or `\p{N}`: what `[^\s\p{L}\p{N}]` excludes.
    static let wordOrSpace: ScalarClass = [.letter, .number, .whitespace]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ scalar: Unicode.Scalar) {
        if scalar.value < 128 {
            self = ScalarClass.ascii[Int(scalar.value)]
        } else {
            self = ScalarClass.classify(scalar)
        }
    }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        default:
            return []
        }
    }

    private static let ascii: [ScalarClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }
}
