import Diagnostics
import Foundation

/// Search tokens that let FTS5 rank with BM25 while the database holds no plaintext words:
/// `token = hex(BLAKE2b-128(key, normalize(term)))`, 32 lower-case hex characters, which FTS5's
/// default `unicode61` tokenizer keeps as one token. Deterministic per key, unlinkable across keys.
/// Use the `.blindIndex` subkey of the data key.
///
/// Normalisation (`normalize`): Unicode NFKC, then full case folding (locale-independent, so
/// "Straße" = "STRASSE" and "ΟΔΟΣ" = "οδος"), then NFKC again so the result is stable.
/// Diacritics are kept: "café" and "cafe" are different terms. Folding them would merge words that
/// differ in meaning in many languages (French "côte"/"cote", Spanish "año"/"ano"), and a user who
/// types the accent expects it to count.
///
/// Splitting (`terms(in:)`): a term is a maximal run of letters, combining marks and digits
/// (Unicode general categories L*, M*, Nd, Nl, No) in the normalised text; anything else separates.
/// Ideographs (Han, and others with the Unicode Ideographic property) have no spaces between words,
/// so each ideograph is a term of its own: searching "東京" matches text containing 東 and 京.
/// Scripts without spaces that are not ideographic (Thai, Lao, Khmer) form one term per run.
public struct BlindIndex: Sendable {
    public static let tokenByteCount = 16

    private let key: SecretBytes

    public init(key: SecretBytes) throws {
        guard key.count >= 16 && key.count <= Blake2b.maximumKeyByteCount else {
            throw SealError(.invalidKey, "A blind-index key must be 16...64 bytes, got \(key.count). Use DataKey.subkey(for: .blindIndex).")
        }
        self.key = key
    }

    /// The token of one term (normalised first).
    public func token(for term: String) -> String {
        tokenOfNormalized(Self.normalize(term))
    }

    /// The tokens of every term of `text`, in order, duplicates kept (BM25 counts them).
    public func tokens(in text: String) -> [String] {
        Self.terms(in: text).map(tokenOfNormalized)
    }

    /// The tokens of terms as `terms(in:)` returns them (already normalised).
    public func tokens(ofTerms terms: [String]) -> [String] {
        terms.map(tokenOfNormalized)
    }

    private func tokenOfNormalized(_ term: String) -> String {
        var utf8 = term
        let digest = utf8.withUTF8 { Blake2b.hash(rawInput: UnsafeRawBufferPointer($0), key: key, outputByteCount: Self.tokenByteCount) }
        return Hex.encode(digest)
    }

    public static func normalize(_ text: String) -> String {
        // ASCII is its own NFKC form and case-folds to lower case: skip Foundation's Unicode passes.
        if let ascii = asciiLowercased(text) { return ascii }
        return unicodeNormalize(text)
    }

    static func unicodeNormalize(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping
            .folding(options: [.caseInsensitive], locale: nil)
            .precomposedStringWithCompatibilityMapping
    }

    /// `text` in lower case if it is all ASCII, else nil.
    static func asciiLowercased(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        for i in bytes.indices {
            let b = bytes[i]
            if b >= 0x80 { return nil }
            if b >= 65 && b <= 90 { bytes[i] = b + 32 }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The normalised terms of `text` (see the type's documentation for the rules).
    public static func terms(in text: String) -> [String] {
        // ASCII fast path, with the same result as the general one: letters and digits are the
        // only ASCII characters in the L*/N* categories, and nothing in ASCII is a mark or ideograph.
        if let ascii = asciiLowercased(text) {
            var terms: [String] = []
            var start = -1
            let bytes = Array(ascii.utf8)
            for (i, b) in bytes.enumerated() {
                let isAlnum = (b >= 97 && b <= 122) || (b >= 48 && b <= 57)
                if isAlnum {
                    if start < 0 { start = i }
                } else if start >= 0 {
                    terms.append(String(decoding: bytes[start..<i], as: UTF8.self))
                    start = -1
                }
            }
            if start >= 0 { terms.append(String(decoding: bytes[start...], as: UTF8.self)) }
            return terms
        }
        return unicodeTerms(in: text)
    }

    static func unicodeTerms(in text: String) -> [String] {
        var terms: [String] = []
        var current = String.UnicodeScalarView()
        var hasBase = false
        func flush() {
            if hasBase { terms.append(String(current)) }
            current = String.UnicodeScalarView()
            hasBase = false
        }
        for scalar in normalize(text).unicodeScalars {
            let properties = scalar.properties
            if properties.isIdeographic {
                flush()
                terms.append(String(scalar))
                continue
            }
            switch properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber:
                current.append(scalar)
                hasBase = true
            case .nonspacingMark, .spacingMark, .enclosingMark:
                // Marks belong to the term they follow; a run of marks alone is not a term.
                current.append(scalar)
            default:
                flush()
            }
        }
        flush()
        return terms
    }
}
