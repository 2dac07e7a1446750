public import Diagnostics

/// An error of the evaluation tools: what went wrong, where (file, question, field) and what to do.
/// Never holds user content beyond the names of files and fields.
public struct EvaluationError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        /// A file is not in the LaMP format, or a value in it is missing or of the wrong type.
        case badFile
        /// Two files do not belong together (questions without golds, another task…).
        case mismatch
        /// An option or argument that cannot be used.
        case badArgument
        /// Reading or writing a file failed.
        case io
        /// The answer engine failed or is not available.
        case engine
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
}
