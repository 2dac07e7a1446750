internal import Seal
internal import CSodium

/// XChaCha20-Poly1305-IETF with a caller-supplied 24-byte nonce, stored in front:
/// nonce (24) ‖ ciphertext ‖ tag (16). (Seal's sealing draws its own nonce; SecAgg takes the nonce
/// from the injected generator so test vectors reproduce.)
enum ShareBox {
    static let nonceBytes = 24
    static let tagBytes = 16

    static func seal(_ plaintext: [UInt8], ad: [UInt8], key: SecretBytes, nonce: [UInt8]) -> [UInt8] {
        precondition(nonce.count == nonceBytes && key.count == 32)
        SodiumInit.ensure()
        var out = nonce + [UInt8](repeating: 0, count: plaintext.count + tagBytes)
        var written: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            out.withUnsafeMutableBufferPointer { o in
                crypto_aead_xchacha20poly1305_ietf_encrypt(o.baseAddress! + nonceBytes, &written, plaintext, UInt64(plaintext.count),
                                                           ad, UInt64(ad.count), nil, nonce, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        precondition(rc == 0, "crypto_aead_xchacha20poly1305_ietf_encrypt failed")
        return out
    }

    static func open(_ sealed: [UInt8], ad: [UInt8], key: SecretBytes) -> [UInt8]? {
        guard sealed.count >= nonceBytes + tagBytes else { return nil }
        SodiumInit.ensure()
        var out = [UInt8](repeating: 0, count: sealed.count - nonceBytes - tagBytes)
        var written: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            sealed.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(o.baseAddress ?? UnsafeMutablePointer(mutating: s.baseAddress!), &written, nil,
                                                               s.baseAddress! + nonceBytes, UInt64(sealed.count - nonceBytes),
                                                               ad, UInt64(ad.count), s.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return rc == 0 ? out : nil
    }

    static func associatedData(round: UInt64, sender: ParticipantID, recipient: ParticipantID) -> [UInt8] {
        var t = Transcript(label: Label.shareAD)
        t.append(round)
        t.append(sender)
        t.append(recipient)
        return t.bytes
    }
}
