import Diagnostics
import Foundation
import Testing
@testable import Seal

@Suite struct WrappedKeyTests {
    let passphrase = SecretBytes(utf8: "correct horse battery staple")

    @Test func passphraseRoundTripAtMinimumLimits() throws {
        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, passphrase: passphrase, limits: .minimum)
        #expect(wrapped.kdf == .argon2id13)
        #expect(wrapped.salt.count == 16)
        #expect(wrapped.nonce.count == 24)
        #expect(wrapped.ciphertext.count == 48)
        #expect(wrapped.limits == .minimum)
        #expect(try wrapped.unwrap(passphrase: passphrase) == dataKey)
    }

    @Test func passphraseRoundTripAtInteractiveLimits() throws {
        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, passphrase: passphrase, limits: .interactive)
        #expect(wrapped.opslimit == 2 && wrapped.memlimit == 64 << 20)
        #expect(try wrapped.unwrap(passphrase: passphrase) == dataKey)
    }

    @Test func moderateIsTheProductionDefault() {
        #expect(Argon2Limits.moderate == Argon2Limits(opslimit: 3, memlimit: 256 << 20))
        #expect(Argon2Limits.minimum == Argon2Limits(opslimit: 1, memlimit: 8192))
    }

    @Test func wrongPassphraseIsAClearError() throws {
        let wrapped = try WrappedKey.wrap(DataKey.generate(), passphrase: passphrase, limits: .minimum)
        let error = try #require(sealError { _ = try wrapped.unwrap(passphrase: SecretBytes(utf8: "correct horse battery stapler")) })
        #expect(error.code == .wrongPassphrase)
        #expect(error.message.contains("passphrase is wrong"))
        #expect(!error.description.contains("correct horse"))
    }

    @Test func emptyPassphraseIsRefused() throws {
        let error = sealError { _ = try WrappedKey.wrap(DataKey.generate(), passphrase: SecretBytes(utf8: ""), limits: .minimum) }
        #expect(error?.code == .emptyPassphrase)
    }

    @Test func everyHeaderFieldIsAuthenticated() throws {
        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, passphrase: passphrase, limits: .minimum)
        var tampered: [WrappedKey] = []
        var w = wrapped; w.salt[0] ^= 1; tampered.append(w)
        w = wrapped; w.opslimit = 2; tampered.append(w)
        w = wrapped; w.memlimit = 16384; tampered.append(w)
        w = wrapped; w.nonce[5] ^= 0x80; tampered.append(w)
        for i in 0..<wrapped.ciphertext.count {
            w = wrapped; w.ciphertext[i] ^= 0x01; tampered.append(w)
        }
        for t in tampered {
            let error = sealError { _ = try t.unwrap(passphrase: passphrase) }
            #expect(error?.code == .wrongPassphrase)
        }
        // The version and KDF name are checked structurally before any decryption.
        w = wrapped; w.version = 2
        #expect(sealError { _ = try w.unwrap(passphrase: passphrase) }?.code == .unsupportedVersion)
        w = wrapped; w.kdf = .keyfile
        #expect(sealError { _ = try w.unwrap(keyFile: KeyFile.generate()) }?.code == .malformedWrappedKey)
        // Absurd limits are rejected before Argon2 runs.
        w = wrapped; w.memlimit = 1 << 50
        #expect(sealError { _ = try w.unwrap(passphrase: passphrase) }?.code == .malformedWrappedKey)
        w = wrapped; w.salt = Data(count: 8)
        #expect(sealError { _ = try w.unwrap(passphrase: passphrase) }?.code == .malformedWrappedKey)
    }

    @Test func associatedDataIsBoundToTheKDFName() throws {
        // A key-file wrapped key relabelled as argon2id13 (with plausible parameters) must not open.
        let keyFile = KeyFile.generate()
        var w = try WrappedKey.wrap(DataKey.generate(), keyFile: keyFile)
        #expect(w.associatedData != { var v = w; v.kdf = .argon2id13; return v.associatedData }())
        w.kdf = .argon2id13
        w.salt = Data(count: 16)
        w.opslimit = 1
        w.memlimit = 8192
        #expect(sealError { _ = try w.unwrap(passphrase: passphrase) }?.code == .wrongPassphrase)
    }

    @Test func jsonRoundTripUsesBase64() throws {
        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, passphrase: passphrase, limits: .minimum)
        let json = try wrapped.jsonData()
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["kdf"] as? String == "argon2id13")
        #expect(object["version"] as? Int == 1)
        #expect(object["salt"] as? String == wrapped.salt.base64EncodedString())
        #expect(object["ciphertext"] as? String == wrapped.ciphertext.base64EncodedString())
        let decoded = try WrappedKey(jsonData: json)
        #expect(decoded == wrapped)
        #expect(try decoded.unwrap(passphrase: passphrase) == dataKey)
        #expect(sealError { _ = try WrappedKey(jsonData: Data("{\"version\":1}".utf8)) }?.code == .malformedWrappedKey)
        #expect(sealError { _ = try WrappedKey(jsonData: Data(json.dropLast(3))) }?.code == .malformedWrappedKey)
    }

    @Test func rewrapKeepsDataReadableAndRetiresTheOldPassphrase() throws {
        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, passphrase: passphrase, limits: .minimum)
        let sealer = try RecordSealer(key: dataKey.subkey(for: .recordSealing))
        let ad = RecordAD(table: "items", rowID: 7)
        let record = sealer.seal(Array("remember the milk".utf8), associatedData: ad)

        let newPassphrase = SecretBytes(utf8: "a whole new passphrase")
        let rewrapped = try wrapped.rewrap(oldPassphrase: passphrase, newPassphrase: newPassphrase)
        #expect(rewrapped.salt != wrapped.salt)
        #expect(rewrapped.limits == wrapped.limits)
        #expect(sealError { _ = try rewrapped.unwrap(passphrase: passphrase) }?.code == .wrongPassphrase)
        let recovered = try rewrapped.unwrap(passphrase: newPassphrase)
        #expect(recovered == dataKey)
        let reopened = try RecordSealer(key: recovered.subkey(for: .recordSealing)).open(record, associatedData: ad)
        #expect(reopened == Array("remember the milk".utf8))
        // Rewrapping needs the old passphrase.
        #expect(sealError { _ = try wrapped.rewrap(oldPassphrase: newPassphrase, newPassphrase: newPassphrase) }?.code == .wrongPassphrase)
    }

    @Test func keyFileRoundTrip() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let keyFile = KeyFile.generate()
        try KeyFile.write(keyFile, to: folder.file("key"))
        #expect(sealError { try KeyFile.write(keyFile, to: folder.file("key")) }?.code == .io)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.file("key"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let loaded = try KeyFile.read(from: folder.file("key"))
        #expect(loaded == keyFile)

        let dataKey = DataKey.generate()
        let wrapped = try WrappedKey.wrap(dataKey, keyFile: keyFile)
        #expect(wrapped.kdf == .keyfile && wrapped.salt.isEmpty && wrapped.opslimit == 0)
        #expect(try wrapped.unwrap(keyFile: loaded) == dataKey)
        #expect(sealError { _ = try wrapped.unwrap(keyFile: KeyFile.generate()) }?.code == .wrongPassphrase)
        #expect(sealError { _ = try wrapped.unwrap(passphrase: passphrase) }?.code == .wrongPassphrase)

        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder.file("short")))
        #expect(sealError { _ = try KeyFile.read(from: folder.file("short")) }?.code == .invalidKey)
        #expect(sealError { _ = try KeyFile.read(from: folder.file("missing")) }?.code == .io)
    }

    @Test func subkeysAreDeterministicAndDistinct() throws {
        let dataKey = DataKey.generate()
        let subkeys = KeyPurpose.allCases.map { dataKey.subkey(for: $0) }
        for (i, a) in subkeys.enumerated() {
            #expect(a.count == 32)
            #expect(a != dataKey.secret)
            #expect(a == dataKey.subkey(for: KeyPurpose.allCases[i]))
            for b in subkeys[(i + 1)...] { #expect(a != b) }
        }
        #expect(DataKey.generate().subkey(for: .recordSealing) != subkeys[0])
        #expect(sealError { _ = try DataKey(secret: SecretBytes(randomCount: 16)) }?.code == .invalidKey)
    }
}

@Suite struct SubkeyKnownAnswerTests {
    /// crypto_kdf_derive_from_key is BLAKE2b(key: master, salt: id little-endian, personal: context);
    /// the expected values come from Python's hashlib.blake2b with those parameters, pinning the
    /// contexts and ids that existing data depends on.
    @Test func subkeysMatchAnIndependentBLAKE2bComputation() throws {
        let master = try DataKey(secret: SecretBytes(copying: Array(0..<32) as [UInt8]))
        #expect(master.subkey(for: .recordSealing).bytes == hex("10e6e14169d37e8e9a4303c0698514bd04ad1ff30acd8414e70c0bb09cb6a10d"))
        #expect(master.subkey(for: .blindIndex).bytes == hex("413d9c309858d9c27b7d70762a8eb9886c950ed890b755477b7e92b5658c36ae"))
    }
}
