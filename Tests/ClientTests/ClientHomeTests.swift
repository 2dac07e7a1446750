import Diagnostics
import Foundation
import Memory
import Seal
import Testing
import Vault

func temporaryFolder(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
}

struct ClientHomeTests {
    let passphrase = SecretBytes(utf8: "a long passphrase for tests")

    @Test func initializeUnlockAndRefuseTheWrongPassphrase() throws {
        let home = ClientHome(path: temporaryFolder("home"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        #expect(!home.isInitialized)
        let first = try home.initialize(passphrase: passphrase, limits: .minimum)
        let id = try first.memory.add(NewItem(kind: .note, content: ItemContent(text: "the spare key is under the blue pot")))
        #expect(home.isInitialized)
        #expect(throws: ClientError.self) { try home.initialize(passphrase: passphrase, limits: .minimum) }

        let again = try home.unlock(passphrase: passphrase)
        #expect(again.identity.publicKeys == first.identity.publicKeys)
        #expect(try again.memory.item(id).content.text == "the spare key is under the blue pot")
        do {
            _ = try home.unlock(passphrase: SecretBytes(utf8: "not it"))
            Issue.record("a wrong passphrase must be refused")
        } catch let e as ClientError {
            #expect(e.code == .wrongPassphrase)
        }
        let perms = try FileManager.default.attributesOfItem(atPath: home.memoryPath)[.posixPermissions] as? Int
        #expect(perms == 0o600)
    }

    @Test func changingThePassphraseKeepsTheData() throws {
        let home = ClientHome(path: temporaryFolder("home"))
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        let id = try home.initialize(passphrase: passphrase, limits: .minimum).memory
            .add(NewItem(kind: .note, content: ItemContent(text: "gate code 7731")))
        let newer = SecretBytes(utf8: "another passphrase")
        #expect(throws: ClientError.self) { try home.changePassphrase(old: newer, new: newer) }
        try home.changePassphrase(old: passphrase, new: newer, limits: .minimum)
        #expect(throws: ClientError.self) { try home.unlock(passphrase: passphrase) }
        #expect(try home.unlock(passphrase: newer).memory.item(id).content.text == "gate code 7731")
    }

    @Test func missingHomeSaysHowToCreateIt() {
        let home = ClientHome(path: temporaryFolder("none"))
        do {
            _ = try home.unlock(passphrase: passphrase)
            Issue.record("a missing home must throw")
        } catch let e as ClientError {
            #expect(e.code == .notInitialized)
            #expect(e.message.contains("pclient init"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
