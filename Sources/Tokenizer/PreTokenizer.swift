// The pre-tokenizer cuts text into words before BPE, as llama.cpp does for each `tokenizer.ggml.pre`
// value: a chain of regexes, each applied to every piece the previous one produced, keeping both
// what matched and the gaps between matches. The regexes are matched by hand over Unicode scalars
// (the same approach as llama.cpp's unicode.cpp custom splitters), never by a regex engine, whose
// `\s`/`\p{…}` semantics differ between engines.
//
// Chains (llama-vocab.cpp, `regex_exprs` per `LLAMA_VOCAB_PRE_TYPE_*`):
//   gpt2:     GPT2
//   smollm:   \p{N}, then GPT2 (the STARCODER group: starcoder, refact, command-r, smollm, codeshell, exaone, minerva)
//   llama3:   LLAMA3, and whole words found in the vocabulary skip the merges
//   default:  [\p{P}\$\+<=>\^~\|]+, then GPT2, then \p{N}+, then [0-9][0-9][0-9]
// where GPT2   = 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//       (llama.cpp's regex string for GPT2 lacks the final `|\s+`, but the hand-written matcher
//       that actually runs for it, unicode_regex_split_custom_gpt2, includes it; so does HF's ByteLevel)
//       LLAMA3 = (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

import Diagnostics
package struct PreTokenizer: Sendable {
    enum Stage: Sendable {
        case eachNumber          // \p{N}
        case numberRuns          // \p{N}+
        case punctuationRuns     // [\p{P}\$\+<=>\^~\|]+
        case asciiDigitTriples   // [0-9][0-9][0-9]
        case gpt2
        case llama3
    }

    package let name: String
    let stages: [Stage]
    /// llama3 vocabularies emit a word as one token when the whole word is in the vocabulary.
    let ignoreMerges: Bool

    package init(name: String) throws(TokenizerError) {
        self.name = name
        switch name {
        case "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais":
            stages = [.gpt2]
            ignoreMerges = false
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            stages = [.eachNumber, .gpt2]
            ignoreMerges = false
        case "llama3", "llama-v3", "llama-bpe":
            stages = [.llama3]
            ignoreMerges = true
        case "default":
            stages = [.punctuationRuns, .gpt2, .numberRuns, .asciiDigitTriples]
            ignoreMerges = false
        default:
            throw TokenizerError(
                .unsupportedPreTokenizer,
                "The pre-tokenizer '\(name)' (tokenizer.ggml.pre) is not supported; supported are smollm, starcoder, gpt2, llama3 and default. Use a model whose vocabulary uses one of these."
            )
        }
    }

    /// Splits `text` into word ranges (indices into `text.scalars`).
    package func split(_ text: ScalarText) -> [Range<Int>] {
        var pieces: [Range<Int>] = text.scalars.isEmpty ? [] : [0..<text.scalars.count]
        var next: [Range<Int>] = []
        for stage in stages {
            next.removeAll(keepingCapacity: true)
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                var splitter = Splitter(text: text, piece: piece)
                switch stage {
                case .eachNumber: splitter.isolate(runs: false) { $0.contains(.number) }
                case .numberRuns: splitter.isolate(runs: true) { $0.contains(.number) }
                case .punctuationRuns: splitter.punctuationRuns()
                case .asciiDigitTriples: splitter.asciiDigitTriples()
                case .gpt2: splitter.gpt2()
                case .llama3: splitter.llama3()
                }
                next.append(contentsOf: splitter.output)
            }
            swap(&pieces, &next)
        }
        return pieces
    }
}

/// A run of text as Unicode scalars, their classes and where each starts in the UTF-8 bytes.
package struct ScalarText {
    var scalars: [UInt32] = []
    var classes: [ScalarClass] = []
    /// `byteOffsets[i]` is the UTF-8 offset of scalar `i`; one extra entry holds the end.
    package var byteOffsets: [Int] = []

    /// `bytes` must be valid UTF-8 (it comes from a Swift String cut at scalar boundaries).
    package init<C: RandomAccessCollection<UInt8>>(utf8 bytes: C) where C.Index == Int {
        scalars.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var index = bytes.startIndex
        let end = bytes.endIndex
        let base = bytes.startIndex
        while index < end {
            let lead = UInt32(bytes[index])
            var value: UInt32
            var length: Int
            if lead < 0x80 {
                value = lead; length = 1
            } else if lead < 0xE0 {
                value = lead & 0x1F; length = 2
            } else if lead < 0xF0 {
                value = lead & 0x0F; length = 3
            } else {
                value = lead & 0x07; length = 4
            }
            length = min(length, end - index)
            for k in 1..<max(length, 1) {
                value = (value << 6) | (UInt32(bytes[index + k]) & 0x3F)
            }
            scalars.append(value)
            classes.append(ScalarClass(Unicode.Scalar(value) ?? "\u{FFFD}"))
            byteOffsets.append(index - base)
            index += length
        }
        byteOffsets.append(end - base)
    }
}

/// Matches one regex over one piece, appending the pieces it produces (matches and gaps) to
/// `output` in order.
private struct Splitter {
    let scalars: [UInt32]
    let classes: [ScalarClass]
    let start: Int
    let end: Int
    private var previousEnd: Int
    var output: [Range<Int>] = []

    init(text: ScalarText, piece: Range<Int>) {
        scalars = text.scalars
        classes = text.classes
        start = piece.lowerBound
        end = piece.upperBound
        previousEnd = start
    }

    private func scalar(_ position: Int) -> UInt32 {
        position < end ? scalars[position] : UInt32.max
    }

    private func category(_ position: Int) -> ScalarClass {
        position < end ? classes[position] : .outOfRange
    }

    /// `[^\s\p{L}\p{N}]`, within the piece.
    private func isOther(_ position: Int) -> Bool {
        position < end && classes[position].isDisjoint(with: .wordOrSpace)
    }

    /// Ends the current piece at `position` (nothing if empty); returns its length.
    @discardableResult
    private mutating func cut(at position: Int) -> Int {
        let length = position - previousEnd
        if length > 0 { output.append(previousEnd..<position) }
        previousEnd = position
        return length
    }

    private mutating func finish() {
        cut(at: end)
    }

    /// Matches of a one-scalar class, each scalar alone or in maximal runs.
    mutating func isolate(runs: Bool, _ matches: (ScalarClass) -> Bool) {
        var position = start
        while position < end {
            if matches(classes[position]) {
                cut(at: position)
                position += 1
                if runs {
                    while position < end && matches(classes[position]) { position += 1 }
                }
                cut(at: position)
            } else {
                position += 1
            }
        }
        finish()
    }

    // [\p{P}\$\+<=>\^~\|]+
    mutating func punctuationRuns() {
        var position = start
        func matches(_ p: Int) -> Bool {
            if classes[p].contains(.punctuation) { return true }
            switch scalars[p] {
            case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
            default: return false
            }
        }
        while position < end {
            if matches(position) {
                cut(at: position)
                while position < end && matches(position) { position += 1 }
                cut(at: position)
            } else {
                position += 1
            }
        }
        finish()
    }

    // [0-9][0-9][0-9], leftmost matches without overlap.
    mutating func asciiDigitTriples() {
        func isDigit(_ p: Int) -> Bool { p < end && (0x30...0x39).contains(scalars[p]) }
        var position = start
        while position < end {
            if isDigit(position) && isDigit(position + 1) && isDigit(position + 2) {
                cut(at: position)
                position += 3
                cut(at: position)
            } else {
                position += 1
            }
        }
        finish()
    }

    /// How many whitespace scalars start at `position`.
    private func whitespaceCount(from position: Int) -> Int {
        var count = 0
        while category(position + count).contains(.whitespace) { count += 1 }
        return count
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `position` (ASCII apostrophe), optionally case-insensitive:
    /// the length of the match or 0.
    private func contraction(at position: Int, ignoringCase: Bool) -> Int {
        guard scalar(position) == 0x27, position + 1 < end else { return 0 }
        func lower(_ value: UInt32) -> UInt32 {
            ignoringCase && (0x41...0x5A).contains(value) ? value + 0x20 : value
        }
        let first = lower(scalar(position + 1))
        switch first {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        default: break
        }
        guard position + 2 < end else { return 0 }
        let second = lower(scalar(position + 2))
        switch (first, second) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3  // re ve ll
        default: return 0
        }
    }

    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    mutating func gpt2() {
        var position = start
        while position < end {
            let length = contraction(at: position, ignoringCase: false)
            if length > 0 {
                position += length
                cut(at: position)
                continue
            }
            let isSpace = scalars[position] == 0x20
            let head = isSpace ? category(position + 1) : classes[position]
            if head.contains(.letter) || head.contains(.number) {
                let run: ScalarClass = head.contains(.letter) ? .letter : .number
                if isSpace { position += 1 }
                while category(position).contains(run) { position += 1 }
                cut(at: position)
                continue
            }
            if isSpace ? isOther(position + 1) : isOther(position) {
                if isSpace { position += 1 }
                while isOther(position) { position += 1 }
                cut(at: position)
                continue
            }
            let spaces = whitespaceCount(from: position)
            if spaces > 1 && position + spaces < end {
                // \s+(?!\S): leave the last whitespace to lead the next word.
                position += spaces - 1
            } else if spaces > 0 {
                position += spaces
            } else {
                position += 1
            }
            cut(at: position)
        }
        finish()
    }

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    mutating func llama3() {
        func isNewline(_ value: UInt32) -> Bool { value == 0x0D || value == 0x0A }
        var position = start
        while position < end {
            let value = scalars[position]
            let head = classes[position]
            let length = contraction(at: position, ignoringCase: true)
            if length > 0 {
                position += length
                cut(at: position)
                continue
            }
            if !(isNewline(value) || head.contains(.number)) {
                if head.contains(.letter) || category(position + 1).contains(.letter) {
                    position += 1
                    while category(position).contains(.letter) { position += 1 }
                    cut(at: position)
                    continue
                }
            }
            if head.contains(.number) {
                var groupStart = position
                while category(position).contains(.number) {
                    position += 1
                    if position - groupStart >= 3 {
                        cut(at: position)
                        groupStart = position
                    }
                }
                cut(at: position)
                continue
            }
            let isSpace = value == 0x20
            if isSpace ? isOther(position + 1) : isOther(position) {
                if isSpace { position += 1 }
                while isOther(position) { position += 1 }
                while isNewline(scalar(position)) { position += 1 }
                cut(at: position)
                continue
            }
            var spaces = 0
            var afterLastNewline = 0
            while category(position + spaces).contains(.whitespace) {
                if isNewline(scalars[position + spaces]) { afterLastNewline = position + spaces + 1 }
                spaces += 1
            }
            if afterLastNewline > 0 {
                position = afterLastNewline
            } else if spaces > 1 && position + spaces < end {
                position += spaces - 1
            } else if spaces > 0 {
                position += spaces
            } else {
                position += 1
            }
            cut(at: position)
        }
        finish()
    }
}
