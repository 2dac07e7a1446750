public import Diagnostics

/// An error of pclient's library: what went wrong and what to do. Never holds user content or keys.
public struct ClientError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        case notInitialized, alreadyInitialized, wrongPassphrase, corrupt, io, badInput
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
