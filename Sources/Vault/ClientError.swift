public import Diagnostics

/// An error of pclient's library: what went wrong and what to do. Never holds user content or keys.
public typealias ClientError = ModuleError<ClientErrorCode>

/// The codes of `ClientError`.
public enum ClientErrorCode: String, ErrorCode {
    case notInitialized, alreadyInitialized, wrongPassphrase, corrupt, io, badInput
}
