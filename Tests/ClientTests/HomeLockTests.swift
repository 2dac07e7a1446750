import Diagnostics
import Foundation
import Memory
import Seal
import Testing
import Vault
#if canImport(Glibc)
import Glibc
#endif

/// The lock between pclient processes on one home. Another process is stood in for by a raw
/// `flock` on `<home>/.lock` through a descriptor of its own (flock locks belong to open file
/// descriptions, so a second one conflicts even within this process).
@Suite(.serialized) struct HomeLockTests {
    let passphrase = SecretBytes(utf8: "home passphrase")
    let bundlePassphrase = SecretBytes(utf8: "bundle passphrase")

    func otherProcess(locks home: ClientHome, _ operation: Int32) throws -> Int32 {
        let fd = open(home.path + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        try #require(flock(fd, operation | LOCK_NB) == 0)
        return fd
    }

    @Test func anImportRefusesWhileAnotherProcessHasTheHomeOpenAndChangesNothing() throws {
        // The destination sits in a folder of its own: other suites import beside their homes in the
        // shared temporary folder at the same time, and their staging folders must not count here.
        let parent = temporaryFolder("lock-parent")
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let src = ClientHome(path: temporaryFolder("lock-src")), dst = ClientHome(path: parent + "/home")
        defer { for p in [src.path, parent] { try? FileManager.default.removeItem(atPath: p) } }
        let source = try src.initialize(passphrase: passphrase, limits: .minimum)
        try source.memory.add(NewItem(kind: .note, content: ItemContent(text: "from the old laptop")))
        let bundle = try SealedBundle.open(SealedBundle.export(source, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum),
                                           passphrase: bundlePassphrase)
        _ = try SealedBundle.importContents(bundle, into: dst, passphrase: passphrase, limits: .minimum)
        try dst.unlock(passphrase: passphrase).memory.add(NewItem(kind: .note, content: ItemContent(text: "written on this machine")))

        // `pclient sync --watch` running elsewhere: the import is refused, nothing moves.
        let watcher = try otherProcess(locks: dst, LOCK_SH)
        #expect { try SealedBundle.importContents(bundle, into: dst, passphrase: passphrase) } throws: { error in
            (error as? ClientError)?.code == .badInput && "\(error)".contains("another pclient process")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["home"])
        // Other shared holders (this process opening the home) are fine meanwhile.
        #expect(try dst.unlock(passphrase: passphrase).memory.list().count == 2)
        close(watcher)

        // Once it has stopped, the same import goes through.
        let report = try SealedBundle.importContents(bundle, into: dst, passphrase: passphrase)
        #expect(report.items == 1)
        #expect(try dst.unlock(passphrase: passphrase).memory.list().count == 2)
    }

    @Test func openingWaitsForAnImportInAnotherProcessThenSaysSo() throws {
        let home = ClientHome(path: temporaryFolder("lock-wait"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        try home.initialize(passphrase: passphrase, limits: .minimum)
        let importer = try otherProcess(locks: home, LOCK_EX)
        let start = Date()
        #expect { try home.unlock(passphrase: passphrase, lockWait: 0.3) } throws: { error in
            (error as? ClientError)?.code == .io && "\(error)".contains("being switched")
        }
        #expect(Date().timeIntervalSince(start) >= 0.3)
        #expect { try home.changePassphrase(old: passphrase, new: SecretBytes(utf8: "new"), limits: .minimum, lockWait: 0.1) }
            throws: { ($0 as? ClientError)?.code == .io }
        close(importer)
        #expect(try home.unlock(passphrase: passphrase).memory.list().isEmpty)
    }
}
