/// An error of the transport outside HTTP (a local socket, for `Loopback`): what went wrong and what to
/// do, in ClientError's shape (code, message). HTTP failures are `HTTPError`.
package struct TransportError: Error, CustomStringConvertible, Sendable {
    package enum Code: String, Sendable {
        case io
    }
    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
