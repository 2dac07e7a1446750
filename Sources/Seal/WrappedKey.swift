import Diagnostics
public import Foundation
internal import CSodium

/// Argon2id cost parameters, stored beside the salt so a later build can still derive the same key.
public struct Argon2Limits: Hashable, Sendable, Codable {
    public var opslimit: UInt64
    /// Bytes of memory.
    public var memlimit: UInt64

    public init(opslimit: UInt64, memlimit: UInt64) {
        self.opslimit = opslimit
        self.memlimit = memlimit
    }

    /// libsodium's MODERATE (3 passes, 256 MiB, about 0.5–1 s): the production default.
    public static let moderate = Argon2Limits(
        opslimit: UInt64(crypto_pwhash_argon2id_opslimit_moderate()),
        memlimit: UInt64(crypto_pwhash_argon2id_memlimit_moderate()))
    /// libsodium's INTERACTIVE (2 passes, 64 MiB).
    public static let interactive = Argon2Limits(
        opslimit: UInt64(crypto_pwhash_argon2id_opslimit_interactive()),
        memlimit: UInt64(crypto_pwhash_argon2id_memlimit_interactive()))
    /// libsodium's SENSITIVE (4 passes, 1 GiB).
    public static let sensitive = Argon2Limits(
        opslimit: UInt64(crypto_pwhash_argon2id_opslimit_sensitive()),
        memlimit: UInt64(crypto_pwhash_argon2id_memlimit_sensitive()))
    /// The smallest limits libsodium accepts (1 pass, 8 KiB). For tests only: offers no protection.
    public static let minimum = Argon2Limits(
        opslimit: UInt64(crypto_pwhash_argon2id_opslimit_min()),
        memlimit: UInt64(crypto_pwhash_argon2id_memlimit_min()))

    /// Limits read from a file are untrusted: a tampered header must not make us allocate 4 TiB or
    /// run for a day before the AEAD check can reject it.
    static let maximumAccepted = Argon2Limits(opslimit: 64, memlimit: 4 << 30)

    /// True when either limit is below `other`'s.
    public func isWeakerThan(_ other: Argon2Limits) -> Bool { opslimit < other.opslimit || memlimit < other.memlimit }

    var isAcceptable: Bool {
        opslimit >= Self.minimum.opslimit && opslimit <= Self.maximumAccepted.opslimit
            && memlimit >= Self.minimum.memlimit && memlimit <= Self.maximumAccepted.memlimit
    }
}

/// The data key sealed under a key-encryption key (KEK) from a passphrase (Argon2id13) or from a key
/// file. `XChaCha20-Poly1305-IETF(KEK, dataKey)` with associated data covering the version, the KDF
/// and its parameters, so altering any header field makes unwrapping fail.
///
/// JSON form (Data fields are base64):
/// `{"version":1,"kdf":"argon2id13","salt":"…","opslimit":3,"memlimit":268435456,"nonce":"…","ciphertext":"…"}`.
/// For `keyfile`, salt is empty and both limits are 0.
public struct WrappedKey: Codable, Sendable, Hashable {
    public enum KDF: String, Codable, Sendable {
        case argon2id13
        case keyfile
    }

    public static let currentVersion = 1
    static let saltBytes = Int(crypto_pwhash_SALTBYTES)

    public var version: Int
    public var kdf: KDF
    public var salt: Data
    public var opslimit: UInt64
    public var memlimit: UInt64
    public var nonce: Data
    public var ciphertext: Data

    public init(version: Int, kdf: KDF, salt: Data, opslimit: UInt64, memlimit: UInt64, nonce: Data, ciphertext: Data) {
        self.version = version
        self.kdf = kdf
        self.salt = salt
        self.opslimit = opslimit
        self.memlimit = memlimit
        self.nonce = nonce
        self.ciphertext = ciphertext
    }

    public var limits: Argon2Limits { Argon2Limits(opslimit: opslimit, memlimit: memlimit) }

    // MARK: Wrapping

    /// Wraps `dataKey` under a fresh random salt and Argon2id with `limits`.
    public static func wrap(_ dataKey: DataKey, passphrase: SecretBytes, limits: Argon2Limits = .moderate) throws -> WrappedKey {
        guard passphrase.count > 0 else { throw emptyPassphraseError }
        guard limits.isAcceptable else {
            throw SealError(.invalidArgument, "Argon2id limits out of range (opslimit 1...64, memlimit 8 KiB...4 GiB). Use Argon2Limits.moderate.")
        }
        var wrapped = WrappedKey(version: currentVersion, kdf: .argon2id13, salt: Data(SecureRandom.bytes(count: saltBytes)),
                                 opslimit: limits.opslimit, memlimit: limits.memlimit, nonce: Data(), ciphertext: Data())
        let kek = try deriveKEK(passphrase: passphrase, salt: wrapped.salt, limits: limits)
        wrapped.seal(dataKey, kek: kek)
        return wrapped
    }

    /// Wraps `dataKey` under the 32 bytes of a key file (see `KeyFile`).
    public static func wrap(_ dataKey: DataKey, keyFile: SecretBytes) throws -> WrappedKey {
        guard keyFile.count == KeyFile.byteCount else { throw KeyFile.wrongLengthError(keyFile.count) }
        var wrapped = WrappedKey(version: currentVersion, kdf: .keyfile, salt: Data(), opslimit: 0, memlimit: 0,
                                 nonce: Data(), ciphertext: Data())
        wrapped.seal(dataKey, kek: keyFile)
        return wrapped
    }

    public func unwrap(passphrase: SecretBytes) throws -> DataKey {
        try validate()
        guard kdf == .argon2id13 else {
            throw SealError(.wrongPassphrase, "This data key is wrapped with a key file, not a passphrase.", remedy: "Give the key file instead.")
        }
        let kek = try Self.deriveKEK(passphrase: passphrase, salt: salt, limits: limits)
        return try open(kek: kek)
    }

    public func unwrap(keyFile: SecretBytes) throws -> DataKey {
        try validate()
        guard kdf == .keyfile else {
            throw SealError(.wrongPassphrase, "This data key is wrapped with a passphrase, not a key file.", remedy: "Give the passphrase instead.")
        }
        guard keyFile.count == KeyFile.byteCount else { throw KeyFile.wrongLengthError(keyFile.count) }
        return try open(kek: keyFile)
    }

    /// Changes the passphrase: unwraps with the old one and wraps the same data key under the new one
    /// with a fresh salt and nonce. Data sealed under the data key is untouched and stays readable.
    /// `limits` nil keeps the current limits.
    public func rewrap(oldPassphrase: SecretBytes, newPassphrase: SecretBytes, limits: Argon2Limits? = nil) throws -> WrappedKey {
        let dataKey = try unwrap(passphrase: oldPassphrase)
        return try Self.wrap(dataKey, passphrase: newPassphrase, limits: limits ?? self.limits)
    }

    // MARK: JSON

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try encoder.encode(self)
    }

    public init(jsonData: Data) throws {
        do {
            self = try JSONDecoder().decode(WrappedKey.self, from: jsonData)
        } catch {
            throw SealError(.malformedWrappedKey, "The wrapped key file is not valid JSON of the expected shape. Restore it from a backup.", cause: error)
        }
        try validate()
    }

    // MARK: Internals

    private static let adLabel = Array("pllm.wrapped-key".utf8)

    /// The header fields, canonically encoded: the AEAD's associated data.
    var associatedData: [UInt8] {
        var e = CanonicalEncoder()
        e.appendLengthPrefixed(Self.adLabel)
        e.append(UInt32(truncatingIfNeeded: version))
        e.appendLengthPrefixed(Array(kdf.rawValue.utf8))
        e.appendLengthPrefixed(salt)
        e.append(opslimit)
        e.append(memlimit)
        return e.bytes
    }

    private mutating func seal(_ dataKey: DataKey, kek: SecretBytes) {
        let ad = associatedData
        let sealed = dataKey.secret.withUnsafeBytes { key in
            ad.withUnsafeBytes { XChaCha.seal(key, ad: $0, key: kek) }
        }
        nonce = Data(sealed[..<XChaCha.nonceBytes])
        ciphertext = Data(sealed[XChaCha.nonceBytes...])
    }

    private func open(kek: SecretBytes) throws -> DataKey {
        let sealed = nonce + ciphertext
        let ad = associatedData
        let secret = try SecretBytes(count: DataKey.byteCount) { out in
            let ok = sealed.withUnsafeBytes { s in ad.withUnsafeBytes { XChaCha.open(s, ad: $0, key: kek, into: out) } }
            guard ok else {
                switch kdf {
                case .argon2id13:
                    throw SealError(.wrongPassphrase, "The passphrase is wrong, or the wrapped key was altered.",
                                    remedy: "Check the passphrase and try again; if it is right, restore the wrapped key from a backup.")
                case .keyfile:
                    throw SealError(.wrongPassphrase, "The key file does not match, or the wrapped key was altered.",
                                    remedy: "Check that this is the right key file; if it is, restore the wrapped key from a backup.")
                }
            }
        }
        return try DataKey(secret: secret)
    }

    /// Structural checks before any expensive or secret work.
    func validate() throws {
        guard version == Self.currentVersion else {
            throw SealError(.unsupportedVersion, "The wrapped key has format version \(version); this build reads version \(Self.currentVersion). Use a newer build.")
        }
        guard nonce.count == XChaCha.nonceBytes, ciphertext.count == DataKey.byteCount + XChaCha.tagBytes else {
            throw SealError(.malformedWrappedKey, "The wrapped key has a nonce or ciphertext of the wrong length. Restore it from a backup.")
        }
        switch kdf {
        case .argon2id13:
            guard salt.count == Self.saltBytes else {
                throw SealError(.malformedWrappedKey, "The wrapped key's salt is \(salt.count) bytes, not \(Self.saltBytes). Restore it from a backup.")
            }
            guard limits.isAcceptable else {
                throw SealError(.malformedWrappedKey, "The wrapped key's Argon2id limits (opslimit \(opslimit), memlimit \(memlimit)) are out of the accepted range. Restore it from a backup.")
            }
        case .keyfile:
            guard salt.isEmpty, opslimit == 0, memlimit == 0 else {
                throw SealError(.malformedWrappedKey, "A key-file wrapped key must have no salt and zero limits. Restore it from a backup.")
            }
        }
    }

    static func deriveKEK(passphrase: SecretBytes, salt: Data, limits: Argon2Limits) throws -> SecretBytes {
        guard passphrase.count > 0 else { throw emptyPassphraseError }
        precondition(salt.count == saltBytes)
        return try SecretBytes(count: XChaCha.keyBytes) { out in
            let rc = passphrase.withUnsafeBytes { p in
                salt.withUnsafeBytes { s in
                    crypto_pwhash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(out.count),
                        p.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(p.count),
                        s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        limits.opslimit, Int(limits.memlimit), crypto_pwhash_alg_argon2id13())
                }
            }
            guard rc == 0 else {
                throw SealError(.keyDerivationFailed, "Argon2id could not run with memlimit \(limits.memlimit >> 20) MiB (usually not enough memory). Free memory and try again.")
            }
        }
    }

    static let emptyPassphraseError = SealError(.emptyPassphrase, "The passphrase is empty. Give a non-empty passphrase.")
}
