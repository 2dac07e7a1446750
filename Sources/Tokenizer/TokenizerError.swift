public import Diagnostics

/// Why a vocabulary could not be loaded. The message says what was wrong and what to do.
public typealias TokenizerError = ModuleError<TokenizerErrorCode>

/// The codes of `TokenizerError`.
public enum TokenizerErrorCode: String, ErrorCode {
    /// `tokenizer.ggml.model` is not a byte-level BPE vocabulary.
    case unsupportedModel
    /// `tokenizer.ggml.pre` names a pre-tokenizer this module does not implement.
    case unsupportedPreTokenizer
    /// Token, type or merge lists are inconsistent or out of range.
    case malformedVocabulary
    /// A vocabulary file could not be read.
    case unreadableFile
}
