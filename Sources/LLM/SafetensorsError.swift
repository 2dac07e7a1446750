public import Diagnostics

/// Why a safetensors file could not be read. Says which file and what to do; holds no tensor data.
public struct SafetensorsError: CodedError, Sendable {
    public enum Code: String, ErrorCode {
        /// The file cannot be opened or mapped.
        case unreadable
        /// The header or a tensor's extent is inconsistent with the file.
        case corrupt
        /// The tensor's dtype cannot be converted to f32 (only F32, F16, BF16 can).
        case unsupportedDType
        /// No tensor of that name.
        case missingTensor
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
}
