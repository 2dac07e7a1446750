/// The one error shape of every module: a stable code to match on, a message that says what went
/// wrong, what to do about it when there is something to do, and the error that led to it.
/// Neither the message nor the remedy ever holds user content or keys.
public protocol CodedError: Error, CustomStringConvertible {
    associatedtype Code: ErrorCode
    /// Stable across releases: logs, metrics, the wire and tests match on it, never on the message.
    var code: Code { get }
    var message: String { get }
    var remedy: String? { get }
    var cause: (any Error)? { get }
}

/// A module's list of error codes; `name` is what is written where a string is needed.
public protocol ErrorCode: Hashable, Sendable {
    var name: String { get }
    /// Whether a `ModuleError` of these codes prints "name: " before its message (Seal and
    /// Federation do: their messages are read in logs where the code says which layer failed).
    static var namedInDescription: Bool { get }
}

extension ErrorCode {
    public static var namedInDescription: Bool { false }
}

extension ErrorCode where Self: RawRepresentable, RawValue == String {
    public var name: String { rawValue }
}

extension CodedError {
    /// "message (remedy) [cause]", leaving out what is nil: with neither, the message alone.
    public var description: String { renderedDescription }

    /// The cause is left out too when the message already quotes it ("cannot be read: \(error)").
    public var renderedDescription: String {
        var text = message
        if let remedy { text += " (\(remedy))" }
        if let cause {
            let said = "\(cause)"
            if !message.contains(said) { text += " [\(said)]" }
        }
        return text
    }

    /// Code, message, remedy and the cause's description are the same: what `==` compares for an
    /// Equatable error, since `cause` is not Equatable.
    public func saysTheSame(as other: Self) -> Bool {
        code == other.code && message == other.message && remedy == other.remedy
            && cause.map { "\($0)" } == other.cause.map { "\($0)" }
    }
}

/// The error of a module whose failures need nothing beyond the one shape: `LLMError`, `MemoryError`,
/// `SealError`, `ClientError`, … are this struct over their own list of codes, so every one of them is built,
/// printed and compared the same way.
public struct ModuleError<C: ErrorCode>: CodedError, Sendable, Equatable {
    public typealias Code = C
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

    public var description: String {
        C.namedInDescription ? "\(code.name): \(renderedDescription)" : renderedDescription
    }

    public static func == (a: Self, b: Self) -> Bool { a.saysTheSame(as: b) }
}
