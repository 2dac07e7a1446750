import Foundation
import Testing
@testable import Seal

@Suite struct SecretBytesTests {
    @Test func equalityComparesContents() {
        let a = SecretBytes(copying: [1, 2, 3] as [UInt8])
        let b = SecretBytes(copying: [1, 2, 3] as [UInt8])
        let c = SecretBytes(copying: [1, 2, 4] as [UInt8])
        let d = SecretBytes(copying: [1, 2] as [UInt8])
        #expect(a == b)
        #expect(a != c)
        #expect(a != d)
        #expect(SecretBytes(count: 0) { _ in } == SecretBytes(count: 0) { _ in })
    }

    @Test func randomBytesDifferAndHaveTheRightLength() {
        let a = SecretBytes(randomCount: 32)
        let b = SecretBytes(randomCount: 32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(SecureRandom.bytes(count: 24).count == 24)
        #expect(SecureRandom.bytes(count: 32) != SecureRandom.bytes(count: 32))
    }

    @Test func descriptionsNeverShowTheBytes() {
        let secret = SecretBytes(utf8: "hunter2-canary")
        for text in [secret.description, secret.debugDescription, String(describing: secret), String(reflecting: secret)] {
            #expect(!text.contains("hunter2"))
            #expect(text.contains("redacted"))
        }
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!dumped.contains("104")) // 'h' as a decimal byte
    }

    @Test func sliceCopiesTheRange() {
        let secret = SecretBytes(copying: Array(0..<10) as [UInt8])
        #expect(secret.slice(2..<5).bytes == [2, 3, 4])
        #expect(secret.slice(0..<0).count == 0)
    }

    @Test func failedInitialisationPropagatesTheError() {
        struct Boom: Error {}
        #expect(throws: Boom.self) { try SecretBytes(count: 8) { _ in throw Boom() } }
    }
}
