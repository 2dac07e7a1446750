/// Byte-level BPE as GPT-2 defined it and llama.cpp runs it for `tokenizer.ggml.model = "gpt2"`
/// vocabularies (SmolLM2, StarCoder, GPT-2, Llama 3): text -> special-token partition ->
/// pre-tokenizer words -> UTF-8 bytes -> byte tokens -> ranked merges.

public import Diagnostics
public struct BPETokenizer: Sendable {
    /// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
    public enum TokenType: Int, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    private let tokens: [String]
    private let types: [TokenType]
    private let tokenIDs: [String: Int]
    /// The bytes each token stands for, concatenated; token i is `tokenBytes[byteStarts[i]..<byteStarts[i+1]]`.
    private let tokenBytes: [UInt8]
    private let byteStarts: [Int]
    /// The token of each single byte, or -1 if the vocabulary lacks it.
    private let byteTokens: [Int32]
    private let merges: MergeTable
    /// Control, user-defined and unknown tokens, longest text first: the order llama.cpp matches them in.
    private let specialTokens: [(bytes: [UInt8], id: Int32)]
    private let preTokenizer: PreTokenizer

    public var bosID: Int?
    public var eosID: Int?
    /// The token that stands in for bytes the vocabulary cannot spell, if it has one.
    public var unknownID: Int?
    public var paddingID: Int?
    /// Whether the model expects BOS before a prompt (`tokenizer.ggml.add_bos_token`); nil when
    /// the file does not say. `encode` never adds it.
    public var addBOSToken: Bool?
    /// The Jinja chat template stored with the vocabulary (`tokenizer.chat_template`).
    public var chatTemplate: String?

    public var vocabularySize: Int { tokens.count }
    /// The `tokenizer.ggml.pre` name this tokenizer splits text with.
    public var preTokenizerName: String { preTokenizer.name }

    /// - Parameters:
    ///   - tokens: token strings in id order, bytes spelled with GPT-2's byte-to-unicode table.
    ///   - merges: `"left right"` pairs, best first.
    ///   - tokenTypes: one `TokenType` raw value per token; empty means all normal.
    ///   - pre: the `tokenizer.ggml.pre` name (`"smollm"`, `"gpt2"`, `"llama3"`, `"default"`, ...).
    public init(
        tokens: [String], merges: [String], tokenTypes: [Int], bos: Int?, eos: Int?, pre: String,
        unknown: Int? = nil
    ) throws(TokenizerError) {
        guard !tokens.isEmpty else {
            throw TokenizerError(.malformedVocabulary, "The vocabulary has no tokens; the model file's tokenizer.ggml.tokens is empty.")
        }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw TokenizerError(
                .malformedVocabulary,
                "The vocabulary has \(tokens.count) tokens but \(tokenTypes.count) token types; the model file is inconsistent."
            )
        }
        for (name, id) in [("bos", bos), ("eos", eos), ("unknown", unknown)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw TokenizerError(
                    .malformedVocabulary, "The \(name) token id \(id) is outside the vocabulary of \(tokens.count) tokens."
                )
            }
        }
        preTokenizer = try PreTokenizer(name: pre)
        self.tokens = tokens
        bosID = bos
        eosID = eos
        unknownID = unknown
        types = tokenTypes.isEmpty
            ? Array(repeating: .normal, count: tokens.count)
            : tokenTypes.map { TokenType(rawValue: $0) ?? .undefined }

        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { ids[token] = id }  // a repeated string maps to its last id, as in llama.cpp
        tokenIDs = ids

        var bytes: [UInt8] = []
        bytes.reserveCapacity(tokens.count * 6)
        var starts: [Int] = [0]
        starts.reserveCapacity(tokens.count + 1)
        var special: [(bytes: [UInt8], id: Int32)] = []
        for (id, token) in tokens.enumerated() {
            switch types[id] {
            case .control, .userDefined, .unknown:
                bytes.append(contentsOf: token.utf8)
                if !token.isEmpty { special.append((Array(token.utf8), Int32(id))) }
            case .unused:
                bytes.append(contentsOf: token.utf8)
            case .byte:
                if let byte = Self.parseByteToken(token) {
                    bytes.append(byte)
                } else {
                    Self.appendByteLevelDecoded(token, to: &bytes)
                }
            case .normal, .undefined:
                Self.appendByteLevelDecoded(token, to: &bytes)
            }
            starts.append(bytes.count)
        }
        tokenBytes = bytes
        byteStarts = starts
        specialTokens = special.sorted { $0.bytes.count > $1.bytes.count }

        byteTokens = (0..<256).map { byte in
            ids[ByteLevel.encode(CollectionOfOne(UInt8(byte)))].map { Int32($0) } ?? -1
        }

        var table = MergeTable()
        for (rank, merge) in merges.enumerated() {
            // The two halves never contain a space (it is spelled 'Ġ'); search from the second
            // character as llama.cpp does, so that a lone leading space cannot be taken as the separator.
            let scalars = merge.unicodeScalars
            guard !scalars.isEmpty,
                  let separator = scalars[scalars.index(after: scalars.startIndex)...].firstIndex(of: " ")
            else {
                throw TokenizerError(
                    .malformedVocabulary, "Merge \(rank) is not two tokens separated by a space; the model file's merges are malformed."
                )
            }
            let left = String(scalars[..<separator])
            let right = String(scalars[scalars.index(after: separator)...])
            // A merge whose parts or result are not tokens can never fire on a token sequence.
            guard let leftID = ids[left], let rightID = ids[right], let mergedID = ids[left + right] else { continue }
            table.add(left: leftID, right: rightID, merged: mergedID, rank: rank)
        }
        self.merges = table
    }

    /// The id of a token given its exact vocabulary string (e.g. `"<|im_end|>"`, `"Ġthe"`).
    public func id(of token: String) -> Int? {
        tokenIDs[token]
    }

    /// The vocabulary string of a token, as stored (bytes spelled with GPT-2's table).
    public func tokenString(_ id: Int) -> String? {
        tokens.indices.contains(id) ? tokens[id] : nil
    }

    public func tokenType(_ id: Int) -> TokenType? {
        types.indices.contains(id) ? types[id] : nil
    }

    public func isControl(_ id: Int) -> Bool {
        tokenType(id) == .control
    }

    /// The raw bytes a token stands for; control and user-defined tokens give their text.
    /// An id outside the vocabulary stands for nothing.
    public func bytes(of id: Int) -> [UInt8] {
        guard tokens.indices.contains(id) else { return [] }
        return Array(tokenBytes[byteStarts[id]..<byteStarts[id + 1]])
    }

    func appendBytes(of id: Int, to buffer: inout [UInt8]) {
        guard tokens.indices.contains(id) else { return }
        buffer.append(contentsOf: tokenBytes[byteStarts[id]..<byteStarts[id + 1]])
    }

    /// The text of a token sequence. Bytes that are not valid UTF-8 become U+FFFD (each maximal
    /// invalid subsequence once); everything else comes back exactly.
    public func decode(_ ids: [Int]) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, to: &buffer) }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Token ids for `text`, without BOS. With `parseSpecial`, the text of every control,
    /// user-defined and unknown-type token (`<|im_start|>`, `<|endoftext|>`) is that token;
    /// without, such text is tokenized like any other.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        let utf8 = Array(text.utf8)
        var session = EncodingSession(tokenizer: self)
        for fragment in partition(utf8, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                session.output.append(id)
            case .text(let range):
                session.encodeText(utf8[range])
            }
        }
        return session.output.map { Int($0) }
    }

    // MARK: - Special tokens

    enum Fragment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Cuts out special tokens as llama.cpp's tokenizer_st_partition does: each special token in
    /// turn, longest first, is searched in the text fragments that are left, left to right.
    func partition(_ utf8: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !utf8.isEmpty else { return [] }
        var fragments: [Fragment] = [.text(0..<utf8.count)]
        guard parseSpecial else { return fragments }
        utf8.withUnsafeBufferPointer { text in
            for special in specialTokens {
                let needle = special.bytes
                var next: [Fragment] = []
                next.reserveCapacity(fragments.count + 4)
                for fragment in fragments {
                    guard case .text(let range) = fragment, range.count >= needle.count else {
                        next.append(fragment)
                        continue
                    }
                    var textStart = range.lowerBound
                    var position = range.lowerBound
                    let first = needle[0]
                    let lastStart = range.upperBound - needle.count
                    while position <= lastStart {
                        if text[position] == first && Self.matches(needle, in: text, at: position) {
                            if position > textStart { next.append(.text(textStart..<position)) }
                            next.append(.token(special.id))
                            position += needle.count
                            textStart = position
                        } else {
                            position += 1
                        }
                    }
                    if textStart < range.upperBound { next.append(.text(textStart..<range.upperBound)) }
                }
                fragments = next
            }
        }
        return fragments
    }

    private static func matches(_ needle: [UInt8], in text: UnsafeBufferPointer<UInt8>, at position: Int) -> Bool {
        for k in 1..<needle.count where text[position + k] != needle[k] { return false }
        return true
    }

    // MARK: - Words

    struct EncodingSession {
        let tokenizer: BPETokenizer
        var output: [Int32] = []
        /// Words already encoded in this call: ordinary text repeats its words a lot.
        private var cache: [ArraySlice<UInt8>: [Int32]] = [:]
        private var merger = BPEMerger()

        init(tokenizer: BPETokenizer) {
            self.tokenizer = tokenizer
        }

        mutating func encodeText(_ bytes: ArraySlice<UInt8>) {
            let text = ScalarText(utf8: bytes)
            let base = bytes.startIndex
            for word in tokenizer.preTokenizer.split(text) {
                let lower = base + text.byteOffsets[word.lowerBound]
                let upper = base + text.byteOffsets[word.upperBound]
                encodeWord(bytes[lower..<upper])
            }
        }

        private mutating func encodeWord(_ word: ArraySlice<UInt8>) {
            if let hit = cache[word] {
                output.append(contentsOf: hit)
                return
            }
            let start = output.count
            if tokenizer.preTokenizer.ignoreMerges, let id = tokenizer.tokenIDs[ByteLevel.encode(word)] {
                output.append(Int32(id))
            } else {
                let byteTokens = tokenizer.byteTokens
                merger.merge(word.lazy.map { byteTokens[Int($0)] }, table: tokenizer.merges, into: &output)
            }
            if output[start...].contains(where: { $0 < 0 }) {
                // Bytes the vocabulary cannot spell (never the case for a full GPT-2 byte table).
                let spelled = output[start...].compactMap { id -> Int32? in
                    id >= 0 ? id : tokenizer.unknownID.map { Int32($0) }
                }
                output.replaceSubrange(start..., with: spelled)
            }
            cache[word] = Array(output[start...])
        }
    }

    // MARK: - Vocabulary spelling

    /// `<0xAB>` -> 0xAB
    private static func parseByteToken(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }

    private static func appendByteLevelDecoded(_ token: String, to bytes: inout [UInt8]) {
        for scalar in token.unicodeScalars {
            if let byte = ByteLevel.byte(for: scalar) {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)  // not a byte-level character: keep it as text
            }
        }
    }
}
