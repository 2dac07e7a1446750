import Diagnostics
public import Foundation

/// A 32-byte key from a passphrase with Argon2id13 (`crypto_pwhash`): for files sealed directly by a
/// passphrase, such as export bundles. Limits read from a file are checked before Argon2 runs.
public enum PassphraseKey {
    public static let saltBytes = WrappedKey.saltBytes

    public static func derive(passphrase: SecretBytes, salt: Data, limits: Argon2Limits) throws -> SecretBytes {
        guard salt.count == saltBytes else {
            throw SealError(.invalidArgument, "The salt must be \(saltBytes) bytes, got \(salt.count).")
        }
        guard limits.isAcceptable else {
            throw SealError(.invalidArgument, "Argon2id limits (opslimit \(limits.opslimit), memlimit \(limits.memlimit)) are out of the accepted range.")
        }
        return try WrappedKey.deriveKEK(passphrase: passphrase, salt: salt, limits: limits)
    }
}
