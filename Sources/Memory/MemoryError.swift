public import Diagnostics

/// An error of the private memory store: what went wrong and what to do. Never holds user content.
public struct MemoryError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        case notFound, corrupt, wrongKey, badInput, storage
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

    /// What to do about a store the key opens but whose rows do not.
    static let restoreRemedy = "restore the home from a backup, or from a bundle made by `pclient export` with `pclient import`"
}
