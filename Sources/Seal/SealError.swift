public import Diagnostics

/// Every failure in `Seal`. The message says what went wrong and what to do; it never contains a
/// key, a passphrase or sealed content.
public typealias SealError = ModuleError<SealErrorCode>

/// The codes of `SealError`; its description starts with the code's name.
public struct SealErrorCode: ErrorCode, CustomStringConvertible {
    public let name: String
    private init(_ name: String) { self.name = name }
    public var description: String { name }

    /// The passphrase or key file does not open the wrapped key (or its header was altered).
    public static let wrongPassphrase = Self("wrongPassphrase")
    /// The wrapped key is structurally invalid (bad lengths, unknown KDF, absurd limits).
    public static let malformedWrappedKey = Self("malformedWrappedKey")
    /// A format version this build does not know.
    public static let unsupportedVersion = Self("unsupportedVersion")
    /// Argon2id could not run (usually: not enough memory for the stored memlimit).
    public static let keyDerivationFailed = Self("keyDerivationFailed")
    /// A key of the wrong length or kind was given.
    public static let invalidKey = Self("invalidKey")
    /// A sealed record or identity failed authentication: tampered, wrong key or wrong associated data.
    public static let authenticationFailed = Self("authenticationFailed")
    /// Sealed bytes too short to be what they claim.
    public static let malformedSealedData = Self("malformedSealedData")
    /// A sealed file's header is not ours (bad magic or parameters).
    public static let sealedFileHeader = Self("sealedFileHeader")
    /// A sealed file chunk failed authentication (flipped, reordered, dropped or cut in the middle).
    public static let sealedFileCorrupted = Self("sealedFileCorrupted")
    /// A sealed file ended before its final chunk.
    public static let sealedFileTruncated = Self("sealedFileTruncated")
    /// Bytes follow the final chunk of a sealed file.
    public static let sealedFileTrailingData = Self("sealedFileTrailingData")
    /// A sealed file is not the generation its owner recorded (an older copy put back), or is from
    /// before generations were recorded where one is required.
    public static let sealedFileRolledBack = Self("sealedFileRolledBack")
    /// A file system call failed; `cause` has the errno.
    public static let io = Self("io")
    /// No passphrase could be obtained from the requested source.
    public static let passphraseUnavailable = Self("passphraseUnavailable")
    /// The passphrase is empty.
    public static let emptyPassphrase = Self("emptyPassphrase")
    /// Invalid argument (programming error on the caller's side, e.g. a chunk size out of range).
    public static let invalidArgument = Self("invalidArgument")

    public static var namedInDescription: Bool { true }
}

/// An errno from a failed system call, kept as the `cause` of an `.io` error.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call) failed with errno \(errno)" }
}
