/// An error of the private memory store: what went wrong and what to do. Never holds user content.
public struct MemoryError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case notFound, corrupt, wrongKey, badInput, storage
    }
    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
