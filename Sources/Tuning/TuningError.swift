public import Diagnostics

/// An error of training or of adapter files: what went wrong and what to do about it.
/// Never holds user text or weights.
public struct TuningError: CodedError, Sendable, Equatable {
    public enum Code: String, ErrorCode {
        /// An argument is out of range (rank 0, an empty target list, a token outside the vocabulary).
        case badArgument
        /// An adapter does not fit the model it is used with (shapes, block count, names).
        case adapterMismatch
        /// An adapter file is truncated, not safetensors, or its header is inconsistent.
        case corruptFile
        /// An adapter directory lacks a file, or a file could not be read or written.
        case io
    }
    public let code: Code
    public let message: String
    public let remedy: String?
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, remedy: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.cause = cause
    }

    public var description: String { renderedDescription }

    public static func == (a: TuningError, b: TuningError) -> Bool { a.saysTheSame(as: b) }
}
