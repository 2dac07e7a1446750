public import Diagnostics

/// An error of the model runtime: what went wrong and what to do about it. Never holds user text.
public typealias LLMError = ModuleError<LLMErrorCode>

/// The codes of `LLMError`.
public enum LLMErrorCode: String, ErrorCode {
    case modelNotFound, unsupportedModel, missingTensor, badTensorShape, contextFull, badArgument
}
