import Client
import Foundation
import Memory
import Seal
import Testing

struct BundleTests {
    let passphrase = SecretBytes(utf8: "home passphrase")
    let bundlePassphrase = SecretBytes(utf8: "bundle passphrase")

    func sourceHome() throws -> (ClientHome, UnlockedHome) {
        let home = ClientHome(path: temporaryFolder("src"))
        let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum)
        try unlocked.memory.add([
            NewItem(kind: .behaviour, content: ItemContent(text: "A documentary about glaciers", output: "slow-burn", source: "lamp2")),
            NewItem(kind: .note, content: ItemContent(text: "Prefers aisle seats"), importance: 0.95),
            NewItem(kind: .chatTurn, content: ItemContent(text: "Hello there", role: "user"), tier: .working),
        ])
        _ = try unlocked.memory.search("glaciers documentary")
        return (home, unlocked)
    }

    @Test func exportImportRoundTripIntoANewHome() throws {
        let (src, unlocked) = try sourceHome()
        let dst = ClientHome(path: temporaryFolder("dst"))
        defer { for p in [src.path, dst.path] { try? FileManager.default.removeItem(atPath: p) } }
        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum)
        let contents = try SealedBundle.open(bytes, passphrase: bundlePassphrase)
        #expect(contents.manifest.entries.map(\.name) == ["memory.jsonl", "identity.secret"])
        #expect(try SealedBundle.importContents(contents, into: dst, passphrase: passphrase, limits: .minimum) == 3)
        let imported = try dst.unlock(passphrase: passphrase)
        #expect(imported.identity.publicKeys == unlocked.identity.publicKeys)
        let a = try unlocked.memory.list().map { [$0.content.text, $0.tier.rawValue, "\($0.accessCount)", "\($0.created)"] }
        let b = try imported.memory.list().map { [$0.content.text, $0.tier.rawValue, "\($0.accessCount)", "\($0.created)"] }
        #expect(a == b)
        // Imported again into the now existing home: repeated items are rehearsed, not duplicated.
        #expect(try SealedBundle.importContents(contents, into: dst, passphrase: passphrase) == 3)
        #expect(try imported.memory.list().count == 3)
        // Without --include-identity the bundle carries none.
        let plain = try SealedBundle.open(
            SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: false, limits: .minimum),
            passphrase: bundlePassphrase)
        #expect(plain.identity == nil)
        // A home with another identity refuses the bundle unless told otherwise.
        let other = ClientHome(path: temporaryFolder("other"))
        defer { try? FileManager.default.removeItem(atPath: other.path) }
        try other.initialize(passphrase: passphrase, limits: .minimum)
        #expect(throws: ClientError.self) { try SealedBundle.importContents(plain, into: other, passphrase: passphrase) }
        #expect(try other.unlock(passphrase: passphrase).memory.list().isEmpty)
        #expect(try SealedBundle.importContents(plain, into: other, passphrase: passphrase, allowForeignIdentity: true) == 3)
    }

    @Test func wrongPassphraseIsAClearError() throws {
        let (src, unlocked) = try sourceHome()
        defer { try? FileManager.default.removeItem(atPath: src.path) }
        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: false, limits: .minimum)
        do {
            _ = try SealedBundle.open(bytes, passphrase: SecretBytes(utf8: "nope"))
            Issue.record("a wrong passphrase must fail")
        } catch let e as ClientError {
            #expect(e.code == .wrongPassphrase)
        }
    }

    /// Every single-byte flip and every truncation gives a clear error; nothing reaches the home.
    @Test func everyFlipAndTruncationIsRefused() throws {
        let (src, unlocked) = try sourceHome()
        defer { try? FileManager.default.removeItem(atPath: src.path) }
        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum)
        var accepted = 0
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x01 << UInt8(i % 8)
            if (try? SealedBundle.open(damaged, passphrase: bundlePassphrase)) != nil { accepted += 1 }
        }
        for n in 0..<bytes.count {
            if (try? SealedBundle.open(Array(bytes.prefix(n)), passphrase: bundlePassphrase)) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
        #expect((try? SealedBundle.open(bytes + [0], passphrase: bundlePassphrase)) == nil)
        do {
            _ = try SealedBundle.open(Array(bytes.prefix(bytes.count - 10)), passphrase: bundlePassphrase)
        } catch let e as ClientError {
            #expect(e.message.contains("truncated") || e.code == .wrongPassphrase || e.code == .corrupt)
        }
    }

    /// The committed test vector (protocol/vectors/bundle-v1.json) opens to its stated contents.
    @Test func testVectorOpens() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/vectors/bundle-v1.json")
        if ProcessInfo.processInfo.environment["PCLIENT_WRITE_VECTORS"] == "1" {
            let (src, unlocked) = try sourceHome()
            defer { try? FileManager.default.removeItem(atPath: src.path) }
            let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum)
            let vector: [String: Any] = [
                "about": "A pclient export bundle (format 1, Argon2id at libsodium's minimum limits) and its contents.",
                "passphrase": "bundle passphrase",
                "bundle_base64": Data(bytes).base64EncodedString(),
                "identity_signing_base64": unlocked.identity.publicKeys.signing.base64EncodedString(),
                "items": try unlocked.memory.list().reversed().map { ["text": $0.content.text, "tier": $0.tier.rawValue] },
            ]
            try JSONSerialization.data(withJSONObject: vector, options: [.prettyPrinted, .sortedKeys]).write(to: url)
        }
        let vector = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let bytes = Array(Data(base64Encoded: vector["bundle_base64"] as! String)!)
        let contents = try SealedBundle.open(bytes, passphrase: SecretBytes(utf8: vector["passphrase"] as! String))
        #expect(contents.manifest.identity.signing.base64EncodedString() == vector["identity_signing_base64"] as? String)
        let expected = (vector["items"] as! [[String: String]]).map { [$0["text"]!, $0["tier"]!] }
        #expect(contents.items.map { [$0.content.text, $0.tier.rawValue] } == expected)
        #expect(contents.identity != nil)
    }
}
