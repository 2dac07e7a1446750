public import Diagnostics

/// An error of the evaluation tools: what went wrong, where (file, question, field) and what to do.
/// Never holds user content beyond the names of files and fields.
public typealias EvaluationError = ModuleError<EvaluationErrorCode>

/// The codes of `EvaluationError`.
public enum EvaluationErrorCode: String, ErrorCode {
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
