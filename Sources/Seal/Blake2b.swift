public import Foundation
internal import CSodium

/// BLAKE2b (`crypto_generichash`), keyed or not.
public enum Blake2b {
    public static let minimumOutputByteCount = Int(crypto_generichash_BYTES_MIN)   // 16
    public static let maximumOutputByteCount = Int(crypto_generichash_BYTES_MAX)   // 64
    public static let maximumKeyByteCount = Int(crypto_generichash_KEYBYTES_MAX)   // 64

    /// `outputByteCount` in 16...64; `key` nil or up to 64 bytes (16...64 recommended).
    public static func hash(_ input: some ContiguousBytes, key: SecretBytes? = nil, outputByteCount: Int = 32) -> [UInt8] {
        input.withUnsafeBytes { hash(rawInput: $0, key: key, outputByteCount: outputByteCount) }
    }

    static func hash(rawInput input: UnsafeRawBufferPointer, key: SecretBytes?, outputByteCount: Int) -> [UInt8] {
        precondition((minimumOutputByteCount...maximumOutputByteCount).contains(outputByteCount), "BLAKE2b output must be 16...64 bytes")
        precondition((key?.count ?? 0) <= maximumKeyByteCount, "BLAKE2b key must be at most 64 bytes")
        Sodium.ensureInitialised()
        return [UInt8](unsafeUninitializedCapacity: outputByteCount) { out, initialised in
            let rc = withNonNull(input) { m -> Int32 in
                if let key {
                    return key.withUnsafeBytes { k in
                        crypto_generichash(out.baseAddress!, outputByteCount, m, UInt64(input.count),
                                           k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
                    }
                }
                return crypto_generichash(out.baseAddress!, outputByteCount, m, UInt64(input.count), nil, 0)
            }
            precondition(rc == 0, "crypto_generichash failed")
            initialised = outputByteCount
        }
    }
}
