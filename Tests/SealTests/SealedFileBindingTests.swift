import Diagnostics
import Foundation
import Testing
@testable import Seal

/// Sealed stream format 2: a file bound to a role and a generation (issue 16, item 10).
@Suite struct SealedFileBindingTests {
    let key = DataKey.generate().subkey(for: .fileSealing)
    let plaintext = Array("the personal adapter's weights, or any other sealed file".utf8)

    func sealed(role: String?, generation: UInt64 = 1, chunkSize: Int = 16) throws -> [UInt8] {
        let encoder = try SealedStreamEncoder(key: key, chunkSize: chunkSize,
                                              binding: role.map { SealedFileBinding(role: $0, generation: generation) })
        return encoder.update(plaintext) + encoder.finish()
    }

    func open(_ bytes: [UInt8], _ expectation: SealedStreamDecoder.Expectation) throws -> (plain: [UInt8], generation: UInt64?) {
        let decoder = try SealedStreamDecoder(key: key, expecting: expectation)
        let plain = try decoder.update(bytes) + decoder.finish()
        return (plain, decoder.generation)
    }

    func exactly(_ g: UInt64) -> SealedStreamDecoder.Expectation { .bound(role: "profile", accept: { $0 == g }) }

    @Test func aBoundFileOpensInItsRoleAtItsGeneration() throws {
        let bytes = try sealed(role: "profile", generation: 7)
        #expect(bytes[8] == 2)
        let opened = try open(bytes, exactly(7))
        #expect(opened.plain == plaintext)
        #expect(opened.generation == 7)
    }

    /// The swap attack: the personal adapter's file put in the profile's place (same key) fails the
    /// first chunk's authentication, because the role is associated data.
    @Test func aFileSealedForAnotherRoleDoesNotOpen() throws {
        let adapter = try sealed(role: "personal-adapter", generation: 1)
        #expect(throws: SealError.self) { try open(adapter, exactly(1)) }
        do {
            _ = try open(adapter, exactly(1))
        } catch let e as SealError {
            #expect(e.code == .sealedFileCorrupted)
        }
    }

    /// The rollback attack: an older generation of the same file is refused as such.
    @Test func anOlderGenerationIsRefusedAsARollback() throws {
        let old = try sealed(role: "profile", generation: 3)
        do {
            _ = try open(old, exactly(4))
            Issue.record("generation 3 must not open where 4 is recorded")
        } catch let e as SealError {
            #expect(e.code == .sealedFileRolledBack)
        }
    }

    /// Rewriting the header's generation (to pass the check) breaks authentication instead.
    @Test func aForgedGenerationDoesNotAuthenticate() throws {
        var bytes = try sealed(role: "profile", generation: 3)
        bytes[20] = 4    // the generation's last byte (header bytes 13..<21)
        do {
            _ = try open(bytes, exactly(4))
            Issue.record("a forged generation must not authenticate")
        } catch let e as SealError {
            #expect(e.code == .sealedFileCorrupted)
        }
    }

    /// Unbound (version 1) files: refused where a bound one is required, accepted for migration, and a
    /// bound file is not accepted where an unbound one (a bundle) is expected.
    @Test func versionOneOnlyWhereAllowed() throws {
        let legacy = try sealed(role: nil)
        #expect(legacy[8] == 1)
        do {
            _ = try open(legacy, exactly(1))
            Issue.record("an unbound file must be refused where a bound one is required")
        } catch let e as SealError {
            #expect(e.code == .sealedFileRolledBack)
        }
        let migrated = try open(legacy, .boundOrLegacy(role: "profile"))
        #expect(migrated.plain == plaintext && migrated.generation == nil)
        #expect(throws: SealError.self) { try open(try sealed(role: "profile"), .unbound) }
        #expect(try open(legacy, .unbound).plain == plaintext)
    }

    /// Every chunk, not only the first, is bound to the role.
    @Test func everyChunkCarriesTheRole() throws {
        let long = Array(repeating: UInt8(7), count: 100)
        let encoder = try SealedStreamEncoder(key: key, chunkSize: 16, binding: SealedFileBinding(role: "a", generation: 1))
        let a = encoder.update(long) + encoder.finish()
        let other = try SealedStreamEncoder(key: key, chunkSize: 16, binding: SealedFileBinding(role: "b", generation: 1))
        let b = other.update(long) + other.finish()
        #expect(a.count == b.count)
        let decoder = try SealedStreamDecoder(key: key, expecting: .bound(role: "a", accept: { _ in true }))
        #expect(try decoder.update(a) + decoder.finish() == long)
    }
}
