import Diagnostics
public import Foundation
internal import CSodium

/// The public half of a user's identity: an Ed25519 signing key and an X25519 key-agreement key.
/// Codable with base64 fields; decoding checks the lengths.
public struct IdentityPublicKeys: Codable, Sendable, Hashable {
    public static let keyByteCount = 32
    public static let signatureByteCount = Int(crypto_sign_BYTES)

    /// Ed25519 public key.
    public let signing: Data
    /// X25519 public key.
    public let agreement: Data

    public init(signing: Data, agreement: Data) throws {
        guard signing.count == Self.keyByteCount, agreement.count == Self.keyByteCount else {
            throw SealError(.invalidKey, "Identity public keys must be \(Self.keyByteCount) bytes each, got \(signing.count) and \(agreement.count).")
        }
        self.signing = signing
        self.agreement = agreement
    }

    private enum CodingKeys: String, CodingKey { case signing, agreement }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let signing = try container.decode(Data.self, forKey: .signing)
        let agreement = try container.decode(Data.self, forKey: .agreement)
        guard signing.count == Self.keyByteCount, agreement.count == Self.keyByteCount else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "identity public keys must be \(Self.keyByteCount) bytes each"))
        }
        self.signing = signing
        self.agreement = agreement
    }

    /// True when `signature` is a valid Ed25519 signature of `message` by this identity.
    public func verify(signature: some ContiguousBytes, for message: some ContiguousBytes) -> Bool {
        Sodium.ensureInitialised()
        return signature.withUnsafeBytes { sig in
            guard sig.count == Self.signatureByteCount else { return false }
            return message.withUnsafeBytes { m in
                signing.withUnsafeBytes { pk in
                    withNonNull(m) { mp in
                        crypto_sign_verify_detached(sig.baseAddress!.assumingMemoryBound(to: UInt8.self), mp, UInt64(m.count),
                                                    pk.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0
                    }
                }
            }
        }
    }
}

/// A user's identity key pairs, generated at init: Ed25519 (`crypto_sign_keypair`) to sign bundle
/// manifests and federation messages, X25519 (`crypto_kx_keypair`) for key agreement. The secret
/// halves are `SecretBytes` and are only ever serialised sealed (`sealed(with:)`).
public struct Identity: Sendable {
    public let publicKeys: IdentityPublicKeys
    /// Ed25519 secret key in libsodium's 64-byte layout (seed || public key).
    public let signingSecretKey: SecretBytes
    /// X25519 secret scalar, 32 bytes.
    public let agreementSecretKey: SecretBytes

    static let signingSecretBytes = Int(crypto_sign_SECRETKEYBYTES)
    static let agreementSecretBytes = Int(crypto_kx_SECRETKEYBYTES)

    public static func generate() -> Identity {
        Sodium.ensureInitialised()
        var signingPublic = [UInt8](repeating: 0, count: IdentityPublicKeys.keyByteCount)
        var agreementPublic = [UInt8](repeating: 0, count: IdentityPublicKeys.keyByteCount)
        let signingSecret = SecretBytes(count: signingSecretBytes) { sk in
            let rc = crypto_sign_keypair(&signingPublic, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            precondition(rc == 0, "crypto_sign_keypair failed")
        }
        let agreementSecret = SecretBytes(count: agreementSecretBytes) { sk in
            let rc = crypto_kx_keypair(&agreementPublic, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            precondition(rc == 0, "crypto_kx_keypair failed")
        }
        return try! Identity(signingSecretKey: signingSecret, agreementSecretKey: agreementSecret)
    }

    /// Rebuilds an identity from its secret halves, deriving (and so checking) the public keys.
    public init(signingSecretKey: SecretBytes, agreementSecretKey: SecretBytes) throws {
        guard signingSecretKey.count == Self.signingSecretBytes, agreementSecretKey.count == Self.agreementSecretBytes else {
            throw SealError(.invalidKey, "Identity secret keys must be \(Self.signingSecretBytes) and \(Self.agreementSecretBytes) bytes.")
        }
        Sodium.ensureInitialised()
        // The Ed25519 secret key embeds its public key; recompute it from the seed to be sure they agree.
        var derived = [UInt8](repeating: 0, count: IdentityPublicKeys.keyByteCount)
        let consistent = signingSecretKey.withUnsafeBytes { sk -> Bool in
            // The recomputed secret key goes to a guarded scratch buffer that is wiped straight away.
            _ = SecretBytes(count: Self.signingSecretBytes) { scratch in
                _ = crypto_sign_seed_keypair(&derived, scratch.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return derived.withUnsafeBytes { d in sodium_memcmp(d.baseAddress!, sk.baseAddress! + 32, 32) == 0 }
        }
        guard consistent else {
            throw SealError(.invalidKey, "The Ed25519 secret key does not match its embedded public key: the identity is damaged.")
        }
        var agreementPublic = [UInt8](repeating: 0, count: IdentityPublicKeys.keyByteCount)
        let rc = agreementSecretKey.withUnsafeBytes { sk in
            crypto_scalarmult_base(&agreementPublic, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard rc == 0 else { throw SealError(.invalidKey, "The X25519 secret key is invalid: the identity is damaged.") }
        publicKeys = try IdentityPublicKeys(signing: Data(derived), agreement: Data(agreementPublic))
        self.signingSecretKey = signingSecretKey
        self.agreementSecretKey = agreementSecretKey
    }

    /// A detached Ed25519 signature (64 bytes).
    public func sign(_ message: some ContiguousBytes) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: IdentityPublicKeys.signatureByteCount)
        let rc = message.withUnsafeBytes { m in
            signingSecretKey.withUnsafeBytes { sk in
                withNonNull(m) { mp in
                    crypto_sign_detached(&signature, nil, mp, UInt64(m.count), sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        precondition(rc == 0, "crypto_sign_detached failed")
        return signature
    }

    // Sealed form: 0x01 (version) || nonce (24) || XChaCha20-Poly1305(signing sk (64) || agreement sk (32))
    // with associated data "pllm.identity" || 0x01. Use the `.identitySealing` subkey.
    private static let sealedVersion: UInt8 = 1
    private static let sealedAD = Array("pllm.identity".utf8) + [sealedVersion]
    private static let plaintextBytes = signingSecretBytes + agreementSecretBytes

    public func sealed(with key: SecretBytes) throws -> [UInt8] {
        guard key.count == XChaCha.keyBytes else {
            throw SealError(.invalidKey, "The identity sealing key must be 32 bytes. Use DataKey.subkey(for: .identitySealing).")
        }
        let plaintext = SecretBytes(count: Self.plaintextBytes) { out in
            signingSecretKey.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            agreementSecretKey.withUnsafeBytes { (out.baseAddress! + Self.signingSecretBytes).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
        let body = plaintext.withUnsafeBytes { p in Self.sealedAD.withUnsafeBytes { XChaCha.seal(p, ad: $0, key: key) } }
        return [Self.sealedVersion] + body
    }

    public init(sealed: some ContiguousBytes, key: SecretBytes) throws {
        guard key.count == XChaCha.keyBytes else {
            throw SealError(.invalidKey, "The identity sealing key must be 32 bytes. Use DataKey.subkey(for: .identitySealing).")
        }
        let plaintext = try sealed.withUnsafeBytes { s -> SecretBytes in
            guard s.count == 1 + XChaCha.overhead + Self.plaintextBytes else {
                throw SealError(.malformedSealedData, "The sealed identity is \(s.count) bytes, not \(1 + XChaCha.overhead + Self.plaintextBytes): it is damaged. Restore it from a backup.")
            }
            guard s[0] == Self.sealedVersion else {
                throw SealError(.unsupportedVersion, "The sealed identity has format version \(s[0]); this build reads version \(Self.sealedVersion).")
            }
            return try SecretBytes(count: Self.plaintextBytes) { out in
                let ok = Self.sealedAD.withUnsafeBytes { XChaCha.open(UnsafeRawBufferPointer(rebasing: s[1...]), ad: $0, key: key, into: out) }
                guard ok else {
                    throw SealError(.authenticationFailed, "The sealed identity did not open: it was altered or sealed under another key. Restore it from a backup.")
                }
            }
        }
        try self.init(signingSecretKey: plaintext.slice(0..<Self.signingSecretBytes),
                      agreementSecretKey: plaintext.slice(Self.signingSecretBytes..<Self.plaintextBytes))
    }
}
