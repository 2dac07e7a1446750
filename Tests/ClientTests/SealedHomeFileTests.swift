import Diagnostics
import Foundation
import GRDB
import Memory
@testable import Seal
import Testing
@testable import Vault

/// Someone who can write the home's disk puts back an older copy of a sealed file, or one sealed
/// file in another's place (issue 16, item 10). Each file is bound to its role and to the
/// generation the memory store records.
@Suite struct SealedHomeFileTests {
    let passphrase = SecretBytes(utf8: "a long passphrase for tests")

    func summary(_ text: String) -> ProfileSummary { ProfileSummary(text: text, watermark: "w", written: "now") }

    @Test func anOlderProfilePutBackIsRefused() throws {
        let home = ClientHome(path: temporaryFolder("rollback"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum)
        let profiles = ProfileStore(home: unlocked)
        try profiles.save(summary("The user lives in Lyon."))
        let old = try Data(contentsOf: URL(fileURLWithPath: profiles.path))
        try profiles.save(summary("The user lives in Porto."))
        #expect(try profiles.cached()?.text == "The user lives in Porto.")
        try old.write(to: URL(fileURLWithPath: profiles.path))
        do {
            _ = try profiles.cached()
            Issue.record("a rolled-back profile must be refused")
        } catch let e as ClientError {
            #expect(e.code == .corrupt)
            #expect("\(e)".contains("generation"))
        }
        // After a restart as well (the record is in the sealed store, not in the process).
        let again = try home.unlock(passphrase: passphrase)
        #expect(throws: ClientError.self) { try ProfileStore(home: again).cached() }
    }

    @Test func aSealedFileInAnotherRolesPlaceIsRefused() throws {
        let home = ClientHome(path: temporaryFolder("swap"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum)
        try ProfileStore(home: unlocked).save(summary("The user lives in Lyon."))
        // The distillation cache, generation 1 like the profile: only the role tells them apart.
        let distillation = SealedHomeFile(.distillation, in: unlocked)
        try FileManager.default.createDirectory(atPath: home.path + "/adapters", withIntermediateDirectories: true)
        try distillation.write(Array("{\"format\":1}".utf8))
        try FileManager.default.removeItem(atPath: ProfileStore(home: unlocked).path)
        try FileManager.default.copyItem(atPath: distillation.path, toPath: ProfileStore(home: unlocked).path)
        #expect(throws: ClientError.self) { try ProfileStore(home: unlocked).cached() }
        // And the profile where the personal adapter should be.
        try FileManager.default.copyItem(atPath: ProfileStore(home: unlocked).path, toPath: PersonalAdapterStore(home: unlocked).path)
        #expect(throws: ClientError.self) { try PersonalAdapterStore(home: unlocked).metadata() }
    }

    /// A crash after the new file is in place but before its generation is recorded: the file one
    /// generation ahead is accepted (it is the one being written) and recorded; the one before it is
    /// then refused.
    @Test func aWriteInterruptedBeforeItsRecordIsKept() throws {
        let home = ClientHome(path: temporaryFolder("interrupted"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum)
        let file = SealedHomeFile(.profile, in: unlocked)
        try file.write(Array("one".utf8))
        let first = try Data(contentsOf: URL(fileURLWithPath: file.path))
        try sealFile(Array("two".utf8), to: file.path, key: unlocked.key.subkey(for: .fileSealing),
                     binding: SealedFileBinding(role: "profile", generation: 2))
        #expect(try file.read() == Array("two".utf8))
        #expect(try unlocked.memory.sealedFileGenerations()?["profile"] == 2)
        try first.write(to: URL(fileURLWithPath: file.path))
        #expect(throws: SealError.self) { try file.read() }
    }

    /// A home from before files were bound: its unbound files are re-sealed on the first unlock, and
    /// the unbound copy is refused from then on.
    @Test func unboundFilesOfAnOlderHomeAreBoundOnceAndNeverAcceptedAgain() throws {
        let home = ClientHome(path: temporaryFolder("legacy"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let path: String
        do {
            let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum)
            path = ProfileStore(home: unlocked).path
            try sealFile(Array(try JSONEncoder().encode(summary("The user plays the cello."))), to: path,
                         key: unlocked.key.subkey(for: .fileSealing))
        }
        // As an older version left it: no record of generations.
        let db = try DatabaseQueue(path: home.memoryPath)
        try db.write { try $0.execute(sql: "DELETE FROM meta WHERE key = 'sealed-files'") }
        let legacy = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(legacy[8] == 1)
        let unlocked = try home.unlock(passphrase: passphrase)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path))[8] == 2)
        #expect(try ProfileStore(home: unlocked).cached()?.text == "The user plays the cello.")
        try legacy.write(to: URL(fileURLWithPath: path))
        #expect(throws: ClientError.self) { try ProfileStore(home: unlocked).cached() }
    }
}

/// `--kdf minimum` (8 KiB, one pass) was taken from PCLIENT_KDF without a word: now it needs
/// `--insecure-kdf`, and every unlock of such a home warns.
@Suite(.serialized) struct WeakKDFTests {
    @Test func theMinimumCostNeedsALoudFlag() throws {
        let pclient = try PClientBinary()
        let home = temporaryFolder("weak-kdf")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let refused = try pclient.run(["init", "--kdf", "minimum"], home: home, environment: ["PCLIENT_INSECURE_KDF": nil])
        #expect(refused.status != 0)
        #expect(refused.err.contains("--insecure-kdf"))
        #expect(!ClientHome(path: home).isInitialized)
        let allowed = try pclient.run(["init", "--kdf", "minimum", "--insecure-kdf"], home: home, environment: ["PCLIENT_INSECURE_KDF": nil])
        #expect(allowed.status == 0)
        #expect(allowed.err.contains("WARNING"))
        let used = try pclient.run(["memory", "stats"], home: home)
        #expect(used.status == 0)
        #expect(used.err.contains("WARNING") && used.err.contains("weak Argon2id cost"))
    }
}
