import Diagnostics
public import Seal
internal import CSodium

extension Identity {
    /// An identity from fixed secrets: the Ed25519 key pair from its 32-byte seed
    /// (`crypto_sign_seed_keypair`) and the X25519 secret as given. For test vectors and for
    /// implementations that store seeds; ordinary identities come from `Identity.generate()`.
    public static func seeded(signingSeed: [UInt8], agreementSecret: [UInt8]) throws -> Identity {
        guard signingSeed.count == 32, agreementSecret.count == 32 else {
            throw FederationError(.invalidKey, "An identity seed and an agreement secret are 32 bytes each.")
        }
        SodiumInit.ensure()
        var publicKey = [UInt8](repeating: 0, count: 32)
        let signing = SecretBytes(count: 64) { sk in
            _ = crypto_sign_seed_keypair(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self), signingSeed)
        }
        return try Identity(signingSecretKey: signing, agreementSecretKey: SecretBytes(copying: agreementSecret))
    }
}
