/// Turns generated tokens into text as they arrive. A character split across tokens (an emoji is
/// often two or three byte-level tokens) is held back until its last byte arrives, so the pieces
/// returned by `push`, followed by `finish()`, concatenate to exactly `decode(allIDs)`.
public struct StreamingDecoder: Sendable {
    private let tokenizer: BPETokenizer
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer) {
        self.tokenizer = tokenizer
    }

    /// The text that became complete with this token (possibly empty).
    public mutating func push(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, to: &pending)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// The held-back remainder; an unfinished character becomes U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many leading bytes can be decoded now: all of them unless the buffer ends inside a
    /// UTF-8 sequence that is valid so far and could still be completed. An ill-formed tail is
    /// released at once, where the decoder would replace it whatever follows.
    package static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var lead = count - 1
        while lead >= 0 && lead >= count - 4 && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0, lead >= count - 4 else { return count }
        let byte = bytes[lead]
        let needed: Int
        switch byte {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return count  // ASCII, or a byte that can never start a character
        }
        let have = count - lead
        guard have < needed else { return count }
        if have >= 2 {
            let second = bytes[lead + 1]
            let allowed: ClosedRange<UInt8>
            switch byte {
            case 0xE0: allowed = 0xA0...0xBF
            case 0xED: allowed = 0x80...0x9F
            case 0xF0: allowed = 0x90...0xBF
            case 0xF4: allowed = 0x80...0x8F
            default: allowed = 0x80...0xBF
            }
            guard allowed.contains(second) else { return count }
        }
        return lead
    }
}
