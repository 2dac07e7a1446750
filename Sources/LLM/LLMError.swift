/// An error of the model runtime: what went wrong and what to do about it. Never holds user text.
public struct LLMError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case modelNotFound, unsupportedModel, missingTensor, badTensorShape, contextFull, badArgument
    }
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
