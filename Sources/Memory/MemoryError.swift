public import Diagnostics

/// An error of the private memory store: what went wrong and what to do. Never holds user content.
public typealias MemoryError = ModuleError<MemoryErrorCode>

/// The codes of `MemoryError`.
public enum MemoryErrorCode: String, ErrorCode {
    case notFound, corrupt, wrongKey, badInput, storage
}

extension MemoryError {
    /// What to do about a store the key opens but whose rows do not.
    static var restoreRemedy: String {
        "restore the home from a backup, or from a bundle made by `pclient export` with `pclient import`"
    }
}
