public import Diagnostics

/// An error of the model runtime: what went wrong and what to do about it. Never holds user text.
public struct LLMError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        case modelNotFound, unsupportedModel, missingTensor, badTensorShape, contextFull, badArgument
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
