import Diagnostics
internal import CSodium

/// The random 32-byte key everything personal is sealed under. It never touches disk in the clear:
/// it is stored only as a `WrappedKey`. Use `subkey(for:)`, never the data key itself, to seal.
public struct DataKey: Sendable, Equatable {
    public static let byteCount = 32

    public let secret: SecretBytes

    public init(secret: SecretBytes) throws {
        guard secret.count == Self.byteCount else {
            throw SealError(.invalidKey, "A data key must be \(Self.byteCount) bytes, got \(secret.count). Generate one with DataKey.generate().")
        }
        self.secret = secret
    }

    public static func generate() -> DataKey {
        // Force-try is safe: the length is right by construction.
        try! DataKey(secret: SecretBytes(randomCount: byteCount))
    }

    /// A 32-byte subkey for one purpose (`crypto_kdf_derive_from_key`, BLAKE2b). Subkeys for
    /// different purposes are independent: leaking one reveals nothing about the others.
    public func subkey(for purpose: KeyPurpose) -> SecretBytes {
        let (id, context) = purpose.derivation
        precondition(context.utf8.count == Int(crypto_kdf_CONTEXTBYTES))
        return SecretBytes(count: Int(crypto_kdf_KEYBYTES)) { out in
            let rc = secret.withUnsafeBytes { key in
                context.withCString { ctx in
                    crypto_kdf_derive_from_key(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count,
                        id, ctx, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            precondition(rc == 0, "crypto_kdf_derive_from_key failed")
        }
    }
}

/// What a subkey is for. Each purpose has its own KDF context (8 bytes) and subkey id; both are
/// part of the on-disk contract: changing one makes existing data unreadable.
public enum KeyPurpose: Sendable, CaseIterable, Hashable {
    /// `RecordSealer` for rows of the memory store.
    case recordSealing
    /// `BlindIndex` search tokens.
    case blindIndex
    /// `SealedFileWriter` for files (adapters, profile blobs).
    case fileSealing
    /// The sealed secret identity (`Identity.sealed(with:)`).
    case identitySealing
    /// Export/import bundles.
    case bundleSealing

    var derivation: (id: UInt64, context: String) {
        switch self {
        case .recordSealing: (1, "PLrecord")
        case .blindIndex: (2, "PLblindx")
        case .fileSealing: (3, "PLfiles_")
        case .identitySealing: (4, "PLidenty")
        case .bundleSealing: (5, "PLbundle")
        }
    }
}
