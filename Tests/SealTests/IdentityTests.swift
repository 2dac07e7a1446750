import Diagnostics
import Foundation
import Testing
@testable import Seal

@Suite struct IdentityTests {
    let identity = Identity.generate()

    @Test func signaturesVerifyAndAFlippedBitFails() {
        let message = Array("manifest sha: 1234".utf8)
        let signature = identity.sign(message)
        #expect(signature.count == 64)
        #expect(identity.publicKeys.verify(signature: signature, for: message))
        #expect(identity.publicKeys.verify(signature: identity.sign(Data()), for: Data()))
        for bit in [0, 7, 100, 511] {
            var badSignature = signature
            badSignature[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(!identity.publicKeys.verify(signature: badSignature, for: message))
            var badMessage = message
            badMessage[(bit / 8) % message.count] ^= UInt8(1 << (bit % 8))
            #expect(!identity.publicKeys.verify(signature: signature, for: badMessage))
        }
        #expect(!identity.publicKeys.verify(signature: signature.dropLast(), for: message))
        #expect(!Identity.generate().publicKeys.verify(signature: signature, for: message))
    }

    @Test func keysHaveTheDocumentedShapes() {
        #expect(identity.signingSecretKey.count == 64)
        #expect(identity.agreementSecretKey.count == 32)
        #expect(identity.publicKeys.signing.count == 32)
        #expect(identity.publicKeys.agreement.count == 32)
        // The Ed25519 secret key embeds its public key.
        #expect(Array(identity.signingSecretKey.bytes[32...]) == Array(identity.publicKeys.signing))
        #expect(Identity.generate().publicKeys != identity.publicKeys)
    }

    @Test func sealedIdentityRoundTrips() throws {
        let key = DataKey.generate().subkey(for: .identitySealing)
        let sealed = try identity.sealed(with: key)
        #expect(sealed.count == 1 + 40 + 96)
        let restored = try Identity(sealed: sealed, key: key)
        #expect(restored.publicKeys == identity.publicKeys)
        #expect(restored.signingSecretKey == identity.signingSecretKey)
        #expect(restored.agreementSecretKey == identity.agreementSecretKey)
        let message = Array("hello".utf8)
        #expect(identity.publicKeys.verify(signature: restored.sign(message), for: message))

        #expect(sealError { _ = try Identity(sealed: sealed, key: SecretBytes(randomCount: 32)) }?.code == .authenticationFailed)
        for i in stride(from: 1, to: sealed.count, by: 7) {
            var tampered = sealed
            tampered[i] ^= 1
            #expect(sealError { _ = try Identity(sealed: tampered, key: key) }?.code == .authenticationFailed)
        }
        var badVersion = sealed; badVersion[0] = 9
        #expect(sealError { _ = try Identity(sealed: badVersion, key: key) }?.code == .unsupportedVersion)
        #expect(sealError { _ = try Identity(sealed: sealed.dropLast(), key: key) }?.code == .malformedSealedData)
    }

    @Test func inconsistentSecretKeysAreRejected() throws {
        var bytes = identity.signingSecretKey.bytes
        bytes[40] ^= 1 // the embedded public key no longer matches the seed
        let error = sealError { _ = try Identity(signingSecretKey: SecretBytes(copying: bytes), agreementSecretKey: identity.agreementSecretKey) }
        #expect(error?.code == .invalidKey)
    }

    @Test func publicKeysAreCodableAsBase64() throws {
        let json = try JSONEncoder().encode(identity.publicKeys)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: String])
        #expect(object["signing"] == identity.publicKeys.signing.base64EncodedString())
        #expect(object["agreement"] == identity.publicKeys.agreement.base64EncodedString())
        #expect(try JSONDecoder().decode(IdentityPublicKeys.self, from: json) == identity.publicKeys)
        let short = Data(#"{"signing":"AAAA","agreement":"AAAA"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(IdentityPublicKeys.self, from: short) }
    }
}
