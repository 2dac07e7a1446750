public import Diagnostics

/// An error of training or of adapter files: what went wrong and what to do about it.
/// Never holds user text or weights.
public typealias TuningError = ModuleError<TuningErrorCode>

/// The codes of `TuningError`.
public enum TuningErrorCode: String, ErrorCode {
    /// An argument is out of range (rank 0, an empty target list, a token outside the vocabulary).
    case badArgument
    /// An adapter does not fit the model it is used with (shapes, block count, names).
    case adapterMismatch
    /// An adapter file is truncated, not safetensors, or its header is inconsistent.
    case corruptFile
    /// An adapter directory lacks a file, or a file could not be read or written.
    case io
}
