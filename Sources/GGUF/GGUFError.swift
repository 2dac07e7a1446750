public import Diagnostics

/// Why a GGUF file could not be read, or a key or tensor could not be used.
///
/// The message says what is wrong and where (byte offset, key or tensor name); it never contains
/// metadata values, which may be user content.
public struct GGUFError: CodedError, Sendable, Equatable {
    public enum Code: String, ErrorCode {
        /// The file could not be opened, sized or mapped.
        case io
        /// The file does not start with the "GGUF" magic.
        case notGGUF
        /// A GGUF version other than 2 or 3.
        case unsupportedVersion
        /// The file ends in the middle of the header, metadata or tensor infos.
        case truncated
        /// A string is not valid UTF-8.
        case badString
        /// An unknown metadata value type, or a mixed array given to the writer.
        case badType
        /// A value the format does not allow: a bool byte other than 0 or 1, an alignment that is
        /// not a power of two, a negative dimension.
        case badValue
        /// More than 4 dimensions, or a row length that is not a whole number of blocks.
        case badShape
        /// A tensor's data offset is not a multiple of the alignment.
        case misaligned
        /// A tensor's data lies (partly) outside the file.
        case outOfBounds
        /// Two tensors' data overlap.
        case overlapping
        /// A count or size larger than the file could hold, or overflowing, or arrays nested too deep.
        case tooLarge
        /// The same key or tensor name twice.
        case duplicate
        /// A metadata key that the caller needs is absent.
        case missingKey
        /// A metadata key holds another type than the caller needs.
        case wrongType
        /// A tensor's type id is unknown, or its type cannot be dequantized here.
        case unsupportedQuant
    }

    public let code: Code
    public let message: String
    /// The file, when the error is about one.
    public let path: String?
    public let remedy: String?
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, path: String? = nil, remedy: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.remedy = remedy
        self.cause = cause
    }

    public var description: String {
        if let path { return "GGUF \(code.rawValue) in \(path): \(renderedDescription)" }
        return "GGUF \(code.rawValue): \(renderedDescription)"
    }

    func at(path: String) -> GGUFError {
        GGUFError(code, message, path: self.path ?? path, remedy: remedy, cause: cause)
    }

    public static func == (a: GGUFError, b: GGUFError) -> Bool { a.path == b.path && a.saysTheSame(as: b) }
}
