public import Diagnostics

/// A failure to size, quantize or dequantize a buffer.
public struct QuantError: CodedError, Sendable, Equatable {
    public enum Code: String, ErrorCode {
        /// The element count is negative, not a whole number of blocks, or overflows.
        case badCount
        /// The type has no dequantizer (or quantizer) here.
        case unsupported
        /// Quantizing met a NaN or an infinity, which no block format can hold faithfully.
        case nonFinite
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

    /// Equal when they say the same: code, message, remedy and the cause's description.
    public static func == (a: QuantError, b: QuantError) -> Bool {
        a.code == b.code && a.message == b.message && a.remedy == b.remedy
            && a.cause.map { "\($0)" } == b.cause.map { "\($0)" }
    }
}
