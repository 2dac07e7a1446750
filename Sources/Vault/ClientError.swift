/// An error of pclient's library: what went wrong and what to do. Never holds user content or keys.
public struct ClientError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case notInitialized, alreadyInitialized, wrongPassphrase, corrupt, io, badInput
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
