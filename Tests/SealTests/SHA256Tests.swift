import CSodium
import Foundation
import Seal
import Testing

@Suite struct SHA256Tests {
    /// FIPS 180-2 examples, then agreement with libsodium's `crypto_hash_sha256` on every length
    /// around the 64-byte block and its padding, fed whole and in uneven pieces.
    @Test func knownAnswersAndLibsodiumAgree() throws {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var million = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { million.update(chunk) }
        #expect(Hex.encode(million.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")

        #expect(sodium_init() >= 0)
        var rng = SystemRandomNumberGenerator()
        for length in [1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
            var reference = [UInt8](repeating: 0, count: 32)
            _ = crypto_hash_sha256(&reference, bytes, UInt64(length))
            #expect(SHA256.hash(bytes) == reference, "length \(length)")
            var pieces = SHA256()
            var i = 0, step = 1
            while i < length { let j = min(length, i + step); pieces.update(bytes[i..<j]); i = j; step = step * 3 + 1 }
            #expect(pieces.finish() == reference, "length \(length) in pieces")
        }
    }
}
