/// An error of the transport outside HTTP (a local socket, for `Loopback`): what went wrong and what to
/// do, in ClientError's shape (code, message). HTTP failures are `HTTPError`.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case io
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
