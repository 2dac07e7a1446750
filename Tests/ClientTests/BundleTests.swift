import Diagnostics
import Federation
import Foundation
import LLM
import Memory
import Personalization
import Seal
import Tensor
import TestModels
import Testing
import Tuning
import Vault

/// What a home holds beyond memory, made without a model: a tiny personal adapter, a profile
/// summary, a coordinator link with a signed manifest and a shared adapter vector.
enum BundleFixtures {
    static let tiny = LlamaConfig(blockCount: 2, dim: 16, ffnDim: 24, headCount: 4, kvHeadCount: 2, vocabularySize: 32)
    static let coordinator = try! Identity.seeded(signingSeed: [UInt8](repeating: 7, count: 32), agreementSecret: [UInt8](repeating: 8, count: 32))

    static func addPersonalState(to home: UnlockedHome, profileText: String = "The user likes glaciers and aisle seats.",
                                 adapterNote: String = "0123456789abcdef", federation: Bool = true) throws {
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), model: tiny, seed: 5)
        var rng = Xoshiro256(seed: 11)
        for m in adapter.modules { for i in 0..<m.b.count { m.b[i] = Float(rng.nextDouble() * 2 - 1) } }
        let longTerm = try home.memory.trainingSet()
        let meta = PersonalAdapterMetadata(baseModelSHA256: adapterNote, rank: 2, alpha: 4, targets: ["q", "v"],
                                           trainedItemIDs: longTerm.map(\.id), sharedAdapterFingerprint: nil, ragK: 0,
                                           trainedAt: "2026-12-01T00:00:00Z", trainings: 1, lastLoss: 0.25,
                                           trainedNoteIDs: try home.memory.list(kind: .note).map(\.id))
        try PersonalAdapterStore(home: home).save(adapter, metadata: meta, model: tiny)
        try ProfileStore(home: home).save(ProfileSummary(text: profileText, watermark: ProfileStore.watermark(longTerm),
                                                         written: "2026-12-01T00:00:00Z"))
        guard federation else { return }
        let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q", "v"], seed: 3)
        let dims = BaseDimensions(tiny)
        let vector = (0..<spec.vectorLength(dims)).map { Float($0) * 0.125 - 1 }
        let blob = SharedAdapterStore.encodeVector(vector)
        let manifest = try FederatedTestFixtures.manifest(sequence: 4, spec: spec, dims: dims, version: 2,
                                                          blob: BlobRef(sha256: SHA256.hex(blob), size: Int64(blob.count)))
        try CoordinatorLink(url: "http://127.0.0.1:1", clientID: "c1", coordinatorKey: coordinator.publicKeys.signing,
                            lastManifestSequence: 4, enrolledAt: Date(timeIntervalSince1970: 1_800_000_000)).save(home.home)
        try FileManager.default.createDirectory(atPath: SharedAdapterStore.folder(home.home), withIntermediateDirectories: true)
        try AtomicFile.write(WireCoding.encoder().encode(SignedManifest.sign(manifest, with: coordinator)),
                             to: SharedAdapterStore.manifestPath(home.home))
        try AtomicFile.write(blob, to: SharedAdapterStore.vectorPath(home.home, version: 2))
    }

    /// Every file under `path` with its bytes: "unchanged" means this is equal before and after.
    /// Opening the memory store at all lets SQLite touch its file (WAL housekeeping), so where a
    /// home is opened, `sqlite: false` leaves the store out and callers compare its items instead.
    static func snapshot(_ path: String, sqlite: Bool = true) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? [] where sqlite || !f.hasPrefix("memory.sqlite") {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + f, isDirectory: &isDir), !isDir.boolValue {
                out[f] = FileManager.default.contents(atPath: path + "/" + f)
            }
        }
        return out
    }
}

struct BundleTests {
    let passphrase = SecretBytes(utf8: "home passphrase")
    let otherPassphrase = SecretBytes(utf8: "another home's passphrase")
    let bundlePassphrase = SecretBytes(utf8: "bundle passphrase")

    func sourceHome(identity: Identity? = nil, personal: Bool = true) throws -> (ClientHome, UnlockedHome) {
        let home = ClientHome(path: temporaryFolder("src"))
        let unlocked = try home.initialize(passphrase: passphrase, limits: .minimum, identity: identity)
        try unlocked.memory.add([
            NewItem(kind: .behaviour, content: ItemContent(text: "A documentary about glaciers", output: "slow-burn", source: "lamp2"),
                    created: Date(timeIntervalSince1970: 1_790_000_000)),
            NewItem(kind: .note, content: ItemContent(text: "Prefers aisle seats"), importance: 0.95,
                    created: Date(timeIntervalSince1970: 1_790_000_100)),
            NewItem(kind: .chatTurn, content: ItemContent(text: "Hello there", role: "user"), tier: .working,
                    created: Date(timeIntervalSince1970: 1_790_000_200)),
        ])
        if personal { try BundleFixtures.addPersonalState(to: unlocked) }
        return (home, unlocked)
    }

    func texts(_ home: UnlockedHome, _ ids: [Int64]) throws -> [String] {
        try ids.map { try home.memory.item($0).content.text }.sorted()
    }

    /// Every entry kind survives export and import into a new home whose passphrase differs from
    /// the source's and the bundle's: entries are re-sealed under the new home's key.
    @Test func everyEntryRoundTripsIntoANewHome() throws {
        let (src, unlocked) = try sourceHome()
        let dst = ClientHome(path: temporaryFolder("dst"))
        defer { for p in [src.path, dst.path] { try? FileManager.default.removeItem(atPath: p) } }
        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum)
        #expect(bytes[8] == 2)
        let contents = try SealedBundle.open(bytes, passphrase: bundlePassphrase)
        #expect(contents.manifest.entries.map(\.name) == [
            "memory.jsonl", "identity.secret", "personal/metadata.json", "personal/adapter_config.json",
            "personal/adapter_model.safetensors", "profile.json", "coordinator.json", "shared/manifest.json", "shared/adapter-v2.f32"])
        let report = try SealedBundle.importContents(contents, into: dst, passphrase: otherPassphrase, limits: .minimum)
        #expect(report.items == 3)
        #expect(report.installed == ["identity", "personal adapter", "profile", "shared adapter v2", "coordinator link"])
        #expect(report.notInstalled.isEmpty)
        #expect(throws: ClientError.self) { try dst.unlock(passphrase: passphrase) }
        let imported = try dst.unlock(passphrase: otherPassphrase)
        #expect(imported.identity.publicKeys == unlocked.identity.publicKeys)

        // Memory, field by field.
        let fields = { (h: UnlockedHome) in try h.memory.list().map {
            [$0.content.text, $0.content.output ?? "", $0.kind.rawValue, $0.tier.rawValue, "\($0.accessCount)", "\($0.importance)",
             "\($0.created.timeIntervalSince1970)", "\($0.lastAccess.timeIntervalSince1970)"] } }
        #expect(try fields(unlocked) == fields(imported))

        // The personal adapter: the same values, config and metadata; trained items are the same items.
        let a = try #require(try PersonalAdapterStore(home: unlocked).load(model: BundleFixtures.tiny))
        let b = try #require(try PersonalAdapterStore(home: imported).load(model: BundleFixtures.tiny))
        #expect(a.adapter.fingerprint == b.adapter.fingerprint)
        for (x, y) in zip(a.adapter.modules, b.adapter.modules) { #expect(x.a.array == y.a.array && x.b.array == y.b.array) }
        var ma = a.metadata, mb = b.metadata
        #expect(try texts(unlocked, ma.trainedItemIDs) == texts(imported, mb.trainedItemIDs))
        #expect(!ma.trainedItemIDs.isEmpty)
        #expect(try texts(unlocked, ma.trainedNoteIDs ?? []) == texts(imported, mb.trainedNoteIDs ?? []))
        #expect(ma.trainedNoteIDs?.isEmpty == false)
        ma.trainedItemIDs = []
        mb.trainedItemIDs = []
        ma.trainedNoteIDs = nil
        mb.trainedNoteIDs = nil
        #expect(ma == mb)
        // Re-sealed: the sealed files differ, and the source's key does not open the new one.
        let sealedA = try #require(FileManager.default.contents(atPath: PersonalAdapterStore(home: unlocked).path))
        let sealedB = try #require(FileManager.default.contents(atPath: PersonalAdapterStore(home: imported).path))
        #expect(sealedA != sealedB)

        // The profile, still current for the imported memory (no needless rewrite).
        let pa = try #require(try ProfileStore(home: unlocked).cached())
        let pb = try #require(try ProfileStore(home: imported).cached())
        #expect(pa.text == pb.text && pa.written == pb.written)
        #expect(pb.watermark == ProfileStore.watermark(try imported.memory.trainingSet()))

        // The coordinator link and the shared adapter, verified under the pinned key.
        #expect(try CoordinatorLink.load(dst) == CoordinatorLink.load(src))
        let sa = try #require(try SharedAdapterStore.current(src))
        let sb = try #require(try SharedAdapterStore.current(dst))
        #expect(sa.vector == sb.vector && sa.version == sb.version && sa.spec == sb.spec)

        // Nothing left beside the home.
        let parent = URL(fileURLWithPath: dst.path).deletingLastPathComponent().path
        let stem = URL(fileURLWithPath: dst.path).lastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.hasPrefix(stem) } == [stem])
    }

    /// A personal adapter trained on a tiny model answers the same after the move, and the imported
    /// home's trainer knows which items it was trained on (nothing to retrain).
    /// Replaced and corrected notes travel with their links and times; the current ones stay current.
    @Test func historyRoundTrips() throws {
        let (src, unlocked) = try sourceHome(personal: false)
        let dst = ClientHome(path: temporaryFolder("dst"))
        defer { for p in [src.path, dst.path] { try? FileManager.default.removeItem(atPath: p) } }
        let porto = try unlocked.memory.add(NewItem(kind: .note, content: ItemContent(text: "I live in Porto."), tier: .long,
                                                    created: Date(timeIntervalSince1970: 1_790_000_300)))
        let lisbon = try unlocked.memory.remember([NewItem(kind: .note, content: ItemContent(text: "I now live in Lisbon."), tier: .long)])[0]
        let code = try unlocked.memory.add(NewItem(kind: .note, content: ItemContent(text: "My locker code is 4817."), tier: .long))
        let fixed = try unlocked.memory.edit(code, text: "My locker code is 4871.")
        #expect(lisbon.superseded == [porto])

        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: false, limits: .minimum)
        _ = try SealedBundle.importContents(SealedBundle.open(bytes, passphrase: bundlePassphrase), into: dst,
                                            passphrase: otherPassphrase, limits: .minimum)
        let imported = try dst.unlock(passphrase: otherPassphrase).memory
        func chain(_ m: MemoryStore, _ text: String) throws -> [String] {
            let item = try #require(m.list(limit: 100).first { $0.content.text == text })
            return try m.history(item.id).map { "\($0.content.text) \($0.replacement?.rawValue ?? "current") \($0.validFrom.timeIntervalSince1970) \($0.validTo?.timeIntervalSince1970 ?? -1)" }
        }
        #expect(try chain(imported, "I now live in Lisbon.") == chain(unlocked.memory, "I now live in Lisbon."))
        #expect(try chain(imported, "My locker code is 4871.") == chain(unlocked.memory, "My locker code is 4871."))
        #expect(try chain(imported, "I live in Porto.").count == 2)
        let current = try imported.search("Where do I live?", limit: 5, rehearse: false).map(\.item.content.text)
        #expect(current.contains("I now live in Lisbon.") && !current.contains("I live in Porto."))
        _ = fixed
    }

    @Test func aTrainedAdapterAnswersTheSameAfterImport() throws {
        let generator = try TinyLlamaGGUF.chat().generator()
        let src = try temporaryHome()
        let dst = ClientHome(path: temporaryFolder("ask-dst"))
        defer { cleanup(src); try? FileManager.default.removeItem(atPath: dst.path) }
        try src.memory.add([
            NewItem(kind: .note, content: ItemContent(text: "an older note, forgotten later")),
            NewItem(kind: .behaviour, content: ItemContent(text: "Tag the film: a ship hits an iceberg", output: "romance"), importance: 0.95),
            NewItem(kind: .behaviour, content: ItemContent(text: "Tag the film: robots take over", output: "sci-fi"), importance: 0.95),
        ])
        // Ids in the new home differ from the source's: the first item is gone before the export.
        try src.memory.forget([try #require(try src.memory.list().first { $0.content.text.hasPrefix("an older") }?.id)])
        var quick = PersonalTrainingOptions()
        quick.rank = 2
        quick.epochs = 1
        quick.maxSequenceLength = 128
        #expect(try PersonalTrainer(home: src, generator: generator, baseModelSHA256: "tiny-base").train(quick).outcome == .trained)

        let bytes = try SealedBundle.export(src, passphrase: bundlePassphrase, includeIdentity: false, limits: .minimum)
        let report = try SealedBundle.importContents(SealedBundle.open(bytes, passphrase: bundlePassphrase), into: dst,
                                                     passphrase: otherPassphrase, limits: .minimum)
        #expect(report.installed == ["personal adapter"])
        let imported = try dst.unlock(passphrase: otherPassphrase)
        #expect(try imported.memory.list().map(\.id).sorted() != src.memory.list().map(\.id).sorted())
        #expect(try PersonalTrainer(home: imported, generator: generator, baseModelSHA256: "tiny-base").train(quick).outcome == .upToDate)

        var options = AskOptions.plain

        options.personalAdapter = .always     // these questions test the adapter itself
        options.choices = ["romance", "sci-fi", "horror"]
        options.useAdapters = true
        let before = try Assistant(generator: generator, home: src, baseModelSHA256: "tiny-base", contextWindow: 512)
            .ask("Tag the film: a ship", options: options).explanation
        let after = try Assistant(generator: generator, home: imported, baseModelSHA256: "tiny-base", contextWindow: 512)
            .ask("Tag the film: a ship", options: options).explanation
        #expect(after.adapters == ["personal"])
        #expect(after.choiceScores == before.choiceScores)
    }

    /// Into existing homes: memory merges; a home's own adapter, profile and link are kept; a home
    /// without them gets the bundle's; a coordinator link never goes to another identity.
    @Test func importIntoExistingHomes() throws {
        let (src, unlocked) = try sourceHome()
        let same = ClientHome(path: temporaryFolder("same"))
        let other = ClientHome(path: temporaryFolder("other"))
        defer { for p in [src.path, same.path, other.path] { try? FileManager.default.removeItem(atPath: p) } }
        let withIdentity = try SealedBundle.open(
            SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum), passphrase: bundlePassphrase)
        _ = try SealedBundle.importContents(withIdentity, into: same, passphrase: passphrase, limits: .minimum)
        try same.unlock(passphrase: passphrase).memory.add(NewItem(kind: .note, content: ItemContent(text: "only on the new machine")))
        // Again into the now existing home: items rehearsed, not duplicated; its own files kept.
        let before = try BundleFixtures.snapshot(same.path)
        let again = try SealedBundle.importContents(withIdentity, into: same, passphrase: passphrase)
        #expect(again.items == 3)
        #expect(again.installed.isEmpty)
        #expect(again.notInstalled.count == 3)
        let after = try BundleFixtures.snapshot(same.path)
        for name in ["adapters/personal.sealed", "profile.sealed", "coordinator.json", "shared/manifest.json", "key.json", "identity.sealed"] {
            #expect(after[name] != nil && after[name] == before[name], "\(name) changed")
        }
        let merged = try same.unlock(passphrase: passphrase)
        #expect(try merged.memory.list().count == 4)
        #expect(try merged.memory.list().first { $0.content.text == "Prefers aisle seats" }?.accessCount == 1)

        // Without --include-identity the bundle carries none; a home with another identity refuses it
        // unless told otherwise, then takes memory, adapter and profile but not the coordinator link.
        let plain = try SealedBundle.open(
            SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: false, limits: .minimum),
            passphrase: bundlePassphrase)
        #expect(plain.identity == nil)
        try other.initialize(passphrase: otherPassphrase, limits: .minimum)
        let untouched = try BundleFixtures.snapshot(other.path, sqlite: false)
        #expect(throws: ClientError.self) { try SealedBundle.importContents(plain, into: other, passphrase: otherPassphrase) }
        #expect(try BundleFixtures.snapshot(other.path, sqlite: false) == untouched)
        #expect(try other.unlock(passphrase: otherPassphrase).memory.list().isEmpty)
        let foreign = try SealedBundle.importContents(plain, into: other, passphrase: otherPassphrase, allowForeignIdentity: true)
        #expect(foreign.items == 3)
        #expect(foreign.installed == ["personal adapter", "profile"])
        #expect(foreign.notInstalled.count == 1 && foreign.notInstalled[0].hasPrefix("coordinator link"))
        let o = try other.unlock(passphrase: otherPassphrase)
        #expect(try PersonalAdapterStore(home: o).load(model: BundleFixtures.tiny)?.adapter.fingerprint
                == PersonalAdapterStore(home: unlocked).load(model: BundleFixtures.tiny)?.adapter.fingerprint)
        #expect(try CoordinatorLink.load(other) == nil)
        // The wrong home passphrase: a clear error, nothing changed.
        let now = try BundleFixtures.snapshot(other.path, sqlite: false)
        let items = try o.memory.list().map(\.content.text)
        do {
            _ = try SealedBundle.importContents(plain, into: other, passphrase: passphrase, allowForeignIdentity: true)
            Issue.record("a wrong home passphrase must fail")
        } catch let e as ClientError {
            #expect(e.code == .wrongPassphrase)
        }
        #expect(try BundleFixtures.snapshot(other.path, sqlite: false) == now)
        #expect(try other.unlock(passphrase: otherPassphrase).memory.list().map(\.content.text) == items)
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

    /// Every single-byte flip and every truncation of a v2 bundle with every entry kind gives a
    /// clear error; nothing reaches the home.
    @Test func everyFlipAndTruncationIsRefused() throws {
        let (src, unlocked) = try sourceHome()
        let dst = ClientHome(path: temporaryFolder("flip-dst"))
        defer { for p in [src.path, dst.path] { try? FileManager.default.removeItem(atPath: p) } }
        try dst.initialize(passphrase: passphrase, limits: .minimum)
        let before = try BundleFixtures.snapshot(dst.path)
        let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum)
        #expect(try SealedBundle.open(bytes, passphrase: bundlePassphrase).manifest.entries.count == 9)
        var accepted = 0, unclear = 0
        func attempt(_ damaged: [UInt8]) {
            do {
                let contents = try SealedBundle.open(damaged, passphrase: bundlePassphrase)
                accepted += 1
                _ = try? SealedBundle.importContents(contents, into: dst, passphrase: passphrase, allowForeignIdentity: true)
            } catch let e as ClientError {
                if e.message.isEmpty || ![.corrupt, .wrongPassphrase].contains(e.code) { unclear += 1 }
            } catch {
                unclear += 1
            }
        }
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] ^= 0x01 << UInt8(i % 8)
            attempt(damaged)
        }
        for n in 0..<bytes.count { attempt(Array(bytes.prefix(n))) }
        attempt(bytes + [0])
        #expect(accepted == 0)
        #expect(unclear == 0)
        #expect(try BundleFixtures.snapshot(dst.path) == before)
        do {
            _ = try SealedBundle.open(Array(bytes.prefix(bytes.count - 10)), passphrase: bundlePassphrase)
        } catch let e as ClientError {
            #expect(e.message.contains("truncated") || e.code == .wrongPassphrase || e.code == .corrupt)
        }
    }

    static var vectors: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/vectors")
    }

    /// The format 1 test vector (protocol/vectors/bundle-v1.json) still opens to its stated contents.
    @Test func formatOneVectorStillOpens() throws {
        let vector = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.vectors.appendingPathComponent("bundle-v1.json"))) as! [String: Any]
        let bytes = Array(Data(base64Encoded: vector["bundle_base64"] as! String)!)
        #expect(bytes[8] == 1)
        let contents = try SealedBundle.open(bytes, passphrase: SecretBytes(utf8: vector["passphrase"] as! String))
        #expect(contents.manifest.identity.signing.base64EncodedString() == vector["identity_signing_base64"] as? String)
        let expected = (vector["items"] as! [[String: String]]).map { [$0["text"]!, $0["tier"]!] }
        #expect(contents.items.map { [$0.content.text, $0.tier.rawValue] } == expected)
        #expect(contents.identity != nil)
        #expect(contents.personalAdapter == nil && contents.profile == nil && contents.federation == nil)
        // And it imports.
        let dst = ClientHome(path: temporaryFolder("v1"))
        defer { try? FileManager.default.removeItem(atPath: dst.path) }
        #expect(try SealedBundle.importContents(contents, into: dst, passphrase: passphrase, limits: .minimum).items == expected.count)
    }

    /// The format 2 test vector (protocol/vectors/bundle-v2.json) opens to its stated contents.
    /// PCLIENT_WRITE_VECTORS=1 rewrites it: the identities, items, adapter and dates are fixed; the
    /// salt and the secretstream header are random, so the bytes differ on each rewrite.
    @Test func formatTwoVectorOpens() throws {
        let url = Self.vectors.appendingPathComponent("bundle-v2.json")
        if ProcessInfo.processInfo.environment["PCLIENT_WRITE_VECTORS"] == "1" {
            let identity = try Identity.seeded(signingSeed: [UInt8](repeating: 1, count: 32), agreementSecret: [UInt8](repeating: 2, count: 32))
            let (src, unlocked) = try sourceHome(identity: identity)
            defer { try? FileManager.default.removeItem(atPath: src.path) }
            let bytes = try SealedBundle.export(unlocked, passphrase: bundlePassphrase, includeIdentity: true, limits: .minimum,
                                                now: Date(timeIntervalSince1970: 1_800_000_000))
            let contents = try SealedBundle.open(bytes, passphrase: bundlePassphrase)
            let adapter = try #require(contents.personalAdapter)
            let vector: [String: Any] = [
                "about": "A pclient export bundle (format 2, Argon2id at libsodium's minimum limits) with every entry kind, and its contents.",
                "passphrase": "bundle passphrase",
                "bundle_base64": Data(bytes).base64EncodedString(),
                "identity_signing_base64": identity.publicKeys.signing.base64EncodedString(),
                "items": try unlocked.memory.list().reversed().map { ["text": $0.content.text, "tier": $0.tier.rawValue] },
                "entries": contents.manifest.entries.map { ["name": $0.name, "bytes": $0.bytes, "blake2b": $0.blake2b] },
                "adapter_trained_lines": adapter.metadata.trainedItemIDs,
                "adapter_config": String(decoding: adapter.config, as: UTF8.self),
                "profile_text": contents.profile?.text ?? "",
                "coordinator_url": contents.federation?.link.url ?? "",
                "shared_version": contents.federation?.sharedVersion ?? -1,
            ]
            try JSONSerialization.data(withJSONObject: vector, options: [.prettyPrinted, .sortedKeys]).write(to: url)
        }
        let vector = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let bytes = Array(Data(base64Encoded: vector["bundle_base64"] as! String)!)
        #expect(bytes[8] == 2)
        let contents = try SealedBundle.open(bytes, passphrase: SecretBytes(utf8: vector["passphrase"] as! String))
        #expect(contents.manifest.identity.signing.base64EncodedString() == vector["identity_signing_base64"] as? String)
        let expected = (vector["items"] as! [[String: String]]).map { [$0["text"]!, $0["tier"]!] }
        #expect(contents.items.map { [$0.content.text, $0.tier.rawValue] } == expected)
        let entries = (vector["entries"] as! [[String: Any]]).map { "\($0["name"]!) \($0["bytes"]!) \($0["blake2b"]!)" }
        #expect(contents.manifest.entries.map { "\($0.name) \($0.bytes) \($0.blake2b)" } == entries)
        #expect(contents.identity != nil)
        let adapter = try #require(contents.personalAdapter)
        #expect(adapter.metadata.trainedItemIDs == (vector["adapter_trained_lines"] as! [Int]).map(Int64.init))
        #expect(String(decoding: adapter.config, as: UTF8.self) == vector["adapter_config"] as? String)
        #expect(contents.profile?.text == vector["profile_text"] as? String)
        #expect(contents.federation?.link.url == vector["coordinator_url"] as? String)
        #expect(contents.federation?.sharedVersion == vector["shared_version"] as? Int)
    }
}
