public import Diagnostics
import Foundation  // canonical decomposition (NFD) for accent stripping

/// BERT's WordPiece tokenizer as Hugging Face's fast `BertTokenizerFast` runs it (the reference that
/// sentence-transformers uses): special-token partition -> `BertNormalizer` -> `BertPreTokenizer`
/// -> greedy longest-match-first WordPiece -> `[CLS] … [SEP]`.
///
/// The steps, in the order the fast tokenizer applies them:
///  1. Special tokens (`[PAD] [UNK] [CLS] [SEP] [MASK]`, those the vocabulary has) are matched in
///     the raw text, leftmost-longest, and kept as single tokens.
///  2. Clean: drop NUL, U+FFFD and "other" scalars (Cc Cf Co Cs, but not tab, LF, CR); map
///     whitespace (White_Space, tab, LF, CR) to a space.
///  3. Put spaces around CJK ideographs, so each becomes a word of its own.
///  4. When lowercasing (uncased models), strip accents (NFD, then drop Mn) and then lowercase each
///     scalar with its full Unicode mapping.
///  5. Split on whitespace (removed) and punctuation (kept, one scalar per word). Punctuation is
///     BERT's: ASCII 33–47, 58–64, 91–96, 123–126, plus general categories P*.
///  6. WordPiece: a word longer than 100 scalars is `[UNK]`; otherwise take the longest vocabulary
///     prefix, then the longest `##`-prefixed continuation, and so on; if some position matches
///     nothing, the whole word is `[UNK]`.
///  7. Truncate to `maxLength − 2` tokens and wrap in `[CLS]` and `[SEP]`.
public struct WordPieceTokenizer: Sendable {
    /// Words longer than this many scalars become `[UNK]` without being split (BERT's value).
    public static let maxInputCharsPerWord = 100
    public static let continuationPrefix = "##"

    /// Token strings in id order.
    public let vocabulary: [String]
    public let lowercase: Bool
    public let clsID: Int
    public let sepID: Int
    public let unknownID: Int
    /// `[PAD]`, if the vocabulary has it.
    public let paddingID: Int?

    /// Token UTF-8 bytes -> id. Keyed on bytes, not `String`: Swift's `String` equality is canonical
    /// equivalence, and a vocabulary may hold canonically equivalent but distinct tokens.
    private let ids: [[UInt8]: Int32]
    /// The longest token, in scalars, not counting a `##` prefix: no longer piece can match.
    private let maxPieceScalars: Int
    /// Special tokens as scalars, longest first, with their ids.
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int)]

    public var vocabularySize: Int { vocabulary.count }

    /// - Parameters:
    ///   - vocabulary: token strings in id order (the lines of `vocab.txt`); `[CLS]`, `[SEP]` and
    ///     `[UNK]` must be among them.
    ///   - lowercase: `do_lower_case` of an uncased model: also strips accents.
    public init(vocabulary: [String], lowercase: Bool = true) throws(TokenizerError) {
        guard !vocabulary.isEmpty else {
            throw TokenizerError(.malformedVocabulary, "The WordPiece vocabulary is empty; vocab.txt should list one token a line.")
        }
        guard vocabulary.count < Int(Int32.max) else {
            throw TokenizerError(.malformedVocabulary, "The WordPiece vocabulary has \(vocabulary.count) tokens, more than ids can hold.")
        }
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        var maxPiece = 1
        for (i, token) in vocabulary.enumerated() {
            // A later duplicate wins, as in Hugging Face's vocabulary loaders.
            ids[Array(token.utf8)] = Int32(i)
            var n = token.unicodeScalars.count
            if token.hasPrefix(Self.continuationPrefix) { n -= 2 }
            maxPiece = max(maxPiece, n)
        }
        func required(_ name: String) throws(TokenizerError) -> Int {
            guard let id = ids[Array(name.utf8)] else {
                throw TokenizerError(.malformedVocabulary, "The WordPiece vocabulary has no \(name) token; is this a BERT vocab.txt?")
            }
            return Int(id)
        }
        clsID = try required("[CLS]")
        sepID = try required("[SEP]")
        unknownID = try required("[UNK]")
        paddingID = ids[Array("[PAD]".utf8)].map(Int.init)
        specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .compactMap { name in ids[Array(name.utf8)].map { (Array(name.unicodeScalars), Int($0)) } }
            .sorted { $0.scalars.count > $1.scalars.count }
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.ids = ids
        self.maxPieceScalars = maxPiece
    }

    /// Reads `vocab.txt`: UTF-8, one token a line, the line number (from 0) is the id; line ends
    /// `\n` or `\r\n`. Lowercases, as the uncased BERT models (MiniLM among them) want.
    public init(vocabFile: String, lowercase: Bool = true) throws(TokenizerError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: vocabFile))
        } catch {
            throw TokenizerError(
                .unreadableFile, "Cannot read the WordPiece vocabulary \(vocabFile); run scripts/setup to install the encoder.",
                cause: error)
        }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }  // the final line end
        var tokens: [String] = []
        tokens.reserveCapacity(lines.count)
        for (number, var line) in lines.enumerated() {
            if line.last == 0x0D { line.removeLast() }
            guard let token = String(validating: line, as: UTF8.self) else {
                throw TokenizerError(.malformedVocabulary, "Line \(number + 1) of \(vocabFile) is not valid UTF-8.")
            }
            tokens.append(token)
        }
        try self.init(vocabulary: tokens, lowercase: lowercase)
    }

    /// `[CLS] tokens… [SEP]`, at most `maxLength` ids in all (at least 2: an empty text gives
    /// `[CLS] [SEP]`). all-MiniLM-L6-v2 was trained with 256.
    public func encode(_ text: String, maxLength: Int = 256) -> [Int] {
        var out = [clsID]
        let room = max(0, maxLength - 2)
        let body = tokenize(text)
        out.append(contentsOf: body.prefix(room))
        out.append(sepID)
        return out
    }

    /// The WordPiece ids of `text`, without `[CLS]`/`[SEP]` and without truncation.
    public func tokenize(_ text: String) -> [Int] {
        var out: [Int] = []
        for segment in splitSpecialTokens(Array(text.unicodeScalars)) {
            switch segment {
            case .special(let id):
                out.append(id)
            case .text(let scalars):
                for word in Self.preTokenize(normalize(scalars)) {
                    wordPiece(word, into: &out)
                }
            }
        }
        return out
    }

    /// The words WordPiece sees (normalised and split, special tokens excluded): for tests and
    /// debugging.
    public func words(_ text: String) -> [String] {
        var out: [String] = []
        for case .text(let scalars) in splitSpecialTokens(Array(text.unicodeScalars)) {
            for word in Self.preTokenize(normalize(scalars)) {
                var s = String.UnicodeScalarView()
                s.append(contentsOf: word)
                out.append(String(s))
            }
        }
        return out
    }

    // MARK: - Special tokens

    private enum Segment {
        case text(ArraySlice<Unicode.Scalar>)
        case special(Int)
    }

    private func splitSpecialTokens(_ scalars: [Unicode.Scalar]) -> [Segment] {
        var segments: [Segment] = []
        var start = 0
        var i = 0
        scan: while i < scalars.count {
            if scalars[i] == "[" {
                for (token, id) in specialTokens where i + token.count <= scalars.count {
                    if scalars[i..<(i + token.count)].elementsEqual(token) {
                        if start < i { segments.append(.text(scalars[start..<i])) }
                        segments.append(.special(id))
                        i += token.count
                        start = i
                        continue scan
                    }
                }
            }
            i += 1
        }
        if start < scalars.count { segments.append(.text(scalars[start..<scalars.count])) }
        return segments
    }

    // MARK: - BertNormalizer

    /// Steps 2–4: clean, space out CJK, strip accents and lowercase.
    func normalize(_ input: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        var cleaned: [Unicode.Scalar] = []
        cleaned.reserveCapacity(input.count + 8)
        var ascii = true
        for s in input {
            let v = s.value
            if v < 0x80 {
                if v == 0x09 || v == 0x0A || v == 0x0D || v == 0x20 {
                    cleaned.append(" ")
                } else if v < 0x20 || v == 0x7F {
                    continue  // control
                } else {
                    cleaned.append(s)
                }
                continue
            }
            ascii = false
            if v == 0xFFFD || Self.isOther(s) { continue }
            if s.properties.isWhitespace {
                cleaned.append(" ")
            } else if Self.isCJK(v) {
                cleaned.append(" ")
                cleaned.append(s)
                cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        guard lowercase else { return cleaned }
        if ascii {
            return cleaned.map { s in
                (s.value >= 0x41 && s.value <= 0x5A) ? Unicode.Scalar(UInt8(s.value + 32)) : s
            }
        }
        // Strip accents: NFD, then drop nonspacing marks.
        var view = String.UnicodeScalarView()
        view.append(contentsOf: cleaned)
        let decomposed = String(view).decomposedStringWithCanonicalMapping
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(cleaned.count)
        for s in decomposed.unicodeScalars where s.properties.generalCategory != .nonspacingMark {
            if s.value < 0x80 {
                out.append((s.value >= 0x41 && s.value <= 0x5A) ? Unicode.Scalar(UInt8(s.value + 32)) : s)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// Unicode "other" (C*) that BERT's clean-up removes; tab, LF and CR are whitespace instead.
    static func isOther(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT spaces out (the fast tokenizer's table).
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v)
            || (0x20000...0x2A6DF).contains(v) || (0x2A700...0x2B73F).contains(v)
            || (0x2B740...0x2B81F).contains(v) || (0x2B920...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    // MARK: - BertPreTokenizer

    /// BERT's punctuation: the four ASCII punctuation ranges, and Unicode P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// Step 5: whitespace separates words and is dropped; each punctuation scalar is a word.
    static func preTokenize(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, s) in scalars.enumerated() {
            let space = s == " " || (s.value >= 0x80 && s.properties.isWhitespace) || (s.value >= 0x09 && s.value <= 0x0D)
            if space || isPunctuation(s) {
                if start < i { words.append(scalars[start..<i]) }
                if !space { words.append(scalars[i...i]) }
                start = i + 1
            }
        }
        if start < scalars.count { words.append(scalars[start..<scalars.count]) }
        return words
    }

    // MARK: - WordPiece

    /// Step 6: greedy longest-match-first, `##` for continuations, `[UNK]` for the whole word if
    /// any position matches nothing.
    private func wordPiece(_ word: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        let n = word.count
        guard n > 0 else { return }
        guard n <= Self.maxInputCharsPerWord else {
            out.append(unknownID)
            return
        }
        // UTF-8 of the word, and where each scalar starts in it.
        var bytes: [UInt8] = []
        var offsets: [Int] = []
        offsets.reserveCapacity(n + 1)
        for s in word {
            offsets.append(bytes.count)
            UTF8.encode(s) { bytes.append($0) }
        }
        offsets.append(bytes.count)

        let mark = out.count
        var start = 0
        var key: [UInt8] = []
        while start < n {
            var end = min(n, start + maxPieceScalars)
            var found: Int32?
            while end > start {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(contentsOf: [0x23, 0x23]) }  // "##"
                key.append(contentsOf: bytes[offsets[start]..<offsets[end]])
                if let id = ids[key] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let found else {
                out.removeSubrange(mark...)
                out.append(unknownID)
                return
            }
            out.append(Int(found))
            start = end
        }
    }
}
