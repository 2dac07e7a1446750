public import Diagnostics

/// Why a vocabulary could not be loaded. The message says what was wrong and what to do.
public struct TokenizerError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        /// `tokenizer.ggml.model` is not a byte-level BPE vocabulary.
        case unsupportedModel
        /// `tokenizer.ggml.pre` names a pre-tokenizer this module does not implement.
        case unsupportedPreTokenizer
        /// Token, type or merge lists are inconsistent or out of range.
        case malformedVocabulary
        /// A vocabulary file could not be read.
        case unreadableFile
    }

    public let code: Code
    public let message: String
    public let remedy: String?
    /// The error that led to this one, if any (e.g. a GGUF read error).
    public let cause: (any Error)?

    init(_ code: Code, _ message: String, remedy: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.cause = cause
    }

    public var description: String { renderedDescription }
}
