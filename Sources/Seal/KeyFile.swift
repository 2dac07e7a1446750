import Diagnostics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key file: exactly 32 random bytes, an alternative to a passphrase for wrapping the data key.
public enum KeyFile {
    public static let byteCount = 32

    public static func generate() -> SecretBytes { SecretBytes(randomCount: byteCount) }

    /// Writes a new key file (mode 0600). Refuses to overwrite an existing file.
    public static func write(_ key: SecretBytes, to path: String) throws {
        guard key.count == byteCount else { throw wrongLengthError(key.count) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXFile.error("open", path: path, what: "create the key file") }
        defer { close(fd) }
        try key.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: path) }
        guard fsync(fd) == 0 else { throw POSIXFile.error("fsync", path: path, what: "flush the key file") }
    }

    public static func read(from path: String) throws -> SecretBytes {
        let secret = try POSIXFile.readSecret(path: path, maximum: byteCount + 1, what: "read the key file")
        guard secret.count == byteCount else { throw wrongLengthError(secret.count) }
        return secret
    }

    static func wrongLengthError(_ count: Int) -> SealError {
        SealError(.invalidKey, "A key file must hold exactly \(byteCount) bytes, this one has \(count). Use the key file created at init.")
    }
}
