import Diagnostics
import Foundation
import Testing
@testable import Seal

@Suite struct RecordSealerTests {
    let sealer = try! RecordSealer(key: DataKey.generate().subkey(for: .recordSealing))
    let ad = RecordAD(table: "items", rowID: 42, version: 3, column: "text")

    @Test func roundTripsBytesDataAndEmpty() throws {
        let plaintext = Array("the user's own words".utf8)
        let sealed = sealer.seal(plaintext, associatedData: ad)
        #expect(sealed.count == plaintext.count + RecordSealer.overhead)
        #expect(try sealer.open(sealed, associatedData: ad) == plaintext)
        #expect(try sealer.open(Data(sealed), associatedData: ad) == plaintext)
        #expect(try sealer.open(sealer.seal(Data(plaintext), associatedData: ad), associatedData: ad) == plaintext)
        let empty = sealer.seal([UInt8](), associatedData: ad)
        #expect(empty.count == RecordSealer.overhead)
        #expect(try sealer.open(empty, associatedData: ad) == [])
    }

    @Test func sealingTwiceGivesDifferentCiphertexts() {
        let a = sealer.seal(Array("same".utf8), associatedData: ad)
        let b = sealer.seal(Array("same".utf8), associatedData: ad)
        #expect(a != b)
        #expect(a[..<24] != b[..<24])
    }

    @Test func everySingleByteFlipFails() throws {
        let sealed = sealer.seal(Array("flip me if you can".utf8), associatedData: ad)
        for i in sealed.indices {
            for mask: UInt8 in [0x01, 0x80, 0xff] {
                var tampered = sealed
                tampered[i] ^= mask
                #expect(sealError { _ = try sealer.open(tampered, associatedData: ad) }?.code == .authenticationFailed)
            }
        }
    }

    @Test func wrongAssociatedDataFails() throws {
        let sealed = sealer.seal(Array("bound to its row".utf8), associatedData: ad)
        let others = [
            RecordAD(table: "itemz", rowID: 42, version: 3, column: "text"),
            RecordAD(table: "items", rowID: 43, version: 3, column: "text"),
            RecordAD(table: "items", rowID: 42, version: 4, column: "text"),
            RecordAD(table: "items", rowID: 42, version: 3, column: "embedding"),
            RecordAD(table: "items", rowID: -42, version: 3, column: "text"),
        ]
        for other in others {
            #expect(sealError { _ = try sealer.open(sealed, associatedData: other) }?.code == .authenticationFailed)
        }
        // Two rows' values swapped: each fails where it now sits.
        let adA = RecordAD(table: "items", rowID: 1), adB = RecordAD(table: "items", rowID: 2)
        let a = sealer.seal(Array("A".utf8), associatedData: adA)
        let b = sealer.seal(Array("B".utf8), associatedData: adB)
        #expect(throws: SealError.self) { try sealer.open(a, associatedData: adB) }
        #expect(throws: SealError.self) { try sealer.open(b, associatedData: adA) }
    }

    @Test func wrongKeyAndTruncationFail() throws {
        let sealed = sealer.seal(Array("secret".utf8), associatedData: ad)
        let other = try RecordSealer(key: DataKey.generate().subkey(for: .recordSealing))
        #expect(sealError { _ = try other.open(sealed, associatedData: ad) }?.code == .authenticationFailed)
        for length in 0..<sealed.count {
            let code = sealError { _ = try sealer.open(Array(sealed[..<length]), associatedData: ad) }?.code
            #expect(code == (length < RecordSealer.overhead ? .malformedSealedData : .authenticationFailed))
        }
        #expect(sealError { _ = try RecordSealer(key: SecretBytes(randomCount: 16)) }?.code == .invalidKey)
    }

    @Test func associatedDataEncodingIsCanonicalAndInjective() {
        // Length prefixes keep field boundaries: moving bytes between table and column changes the encoding.
        let a = RecordAD(table: "ab", rowID: 1, version: 1, column: "c")
        let b = RecordAD(table: "a", rowID: 1, version: 1, column: "bc")
        #expect(a.encoded != b.encoded)
        #expect(a.encoded == RecordAD(table: "ab", rowID: 1, version: 1, column: "c").encoded)
        #expect(RecordAD(table: "t", rowID: 258, version: 7).encoded
            == [1, 0, 0, 0, 1, UInt8(ascii: "t"), 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 7, 0, 0, 0, 0])
    }
}
