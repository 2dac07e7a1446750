internal import CSodium

/// XChaCha20-Poly1305-IETF with a random 24-byte nonce stored in front of the ciphertext:
/// `nonce (24) || ciphertext || tag (16)`. Random nonces are safe at this nonce size.
enum XChaCha {
    static let keyBytes = 32
    static let nonceBytes = 24
    static let tagBytes = 16
    static let overhead = nonceBytes + tagBytes

    static func seal(_ plaintext: UnsafeRawBufferPointer, ad: UnsafeRawBufferPointer, key: SecretBytes) -> [UInt8] {
        precondition(key.count == keyBytes, "XChaCha20-Poly1305 needs a 32-byte key")
        let total = overhead + plaintext.count
        return [UInt8](unsafeUninitializedCapacity: total) { out, initialised in
            let base = out.baseAddress!
            randombytes_buf(base, nonceBytes)
            var written: UInt64 = 0
            let rc = key.withUnsafeBytes { k in
                withNonNull(plaintext) { m in
                    withNonNull(ad) { a in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            base + nonceBytes, &written,
                            m, UInt64(plaintext.count),
                            a, UInt64(ad.count),
                            nil, base, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            precondition(rc == 0 && Int(written) == total - nonceBytes, "crypto_aead_xchacha20poly1305_ietf_encrypt failed")
            initialised = total
        }
    }

    /// Opens `sealed` (nonce || ciphertext) into `output`, which must hold exactly
    /// `sealed.count - overhead` bytes. Returns false on any authentication failure.
    static func open(_ sealed: UnsafeRawBufferPointer, ad: UnsafeRawBufferPointer, key: SecretBytes,
                     into output: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(key.count == keyBytes, "XChaCha20-Poly1305 needs a 32-byte key")
        guard sealed.count >= overhead, output.count == sealed.count - overhead else { return false }
        let nonce = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var written: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            withNonNull(ad) { a in
                withNonNullMutable(output) { m in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        m, &written, nil,
                        nonce + nonceBytes, UInt64(sealed.count - nonceBytes),
                        a, UInt64(ad.count),
                        nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return rc == 0 && Int(written) == output.count
    }
}

// libsodium wants non-null pointers even for zero-length inputs.

@inline(__always)
func withNonNull<R>(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>) -> R) -> R {
    if let base = buffer.baseAddress { return body(base.assumingMemoryBound(to: UInt8.self)) }
    var zero: UInt8 = 0
    return withUnsafePointer(to: &zero) { body($0) }
}

@inline(__always)
func withNonNullMutable<R>(_ buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
    if let base = buffer.baseAddress { return body(base.assumingMemoryBound(to: UInt8.self)) }
    var zero: UInt8 = 0
    return withUnsafeMutablePointer(to: &zero) { body($0) }
}

/// Big-endian, length-prefixed encodings for associated data, so distinct fields never collide.
struct CanonicalEncoder {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ value: UInt8) { bytes.append(value) }
    mutating func append(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func appendLengthPrefixed(_ value: some Collection<UInt8>) {
        append(UInt32(value.count))
        bytes.append(contentsOf: value)
    }
}
