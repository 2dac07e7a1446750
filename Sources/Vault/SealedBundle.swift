import Diagnostics
import Federation
public import Foundation
public import Memory
public import Seal
import Tuning

// An export bundle: everything personal in one file, sealed by a passphrase, its manifest signed by
// the user's Ed25519 identity. The format is specified in protocol/BUNDLE.md:
//
//   0   8  magic "PLLMBNDL"
//   8   1  format version (2; version 1 is still read)
//   9   1  KDF (1 = Argon2id13)
//   10  8  opslimit, u64 little endian
//   18  8  memlimit, u64 little endian
//   26 16  salt
//   42  …  Seal's sealed stream ("PLLMSEAL" …) under Argon2id(passphrase, salt, limits), holding:
//            u32 LE manifest length ‖ manifest JSON ‖ 64-byte Ed25519 signature of (header ‖ manifest)
//            ‖ each entry's bytes, in manifest order

/// What a bundle holds, signed.
public struct BundleManifest: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int
        /// BLAKE2b-256 of the entry, hex.
        public var blake2b: String
    }
    public var format: Int
    public var created: String
    public var identity: IdentityPublicKeys
    public var entries: [Entry]
}

/// The personal adapter as a bundle carries it: PEFT's two files and our metadata, whose
/// `trainedItemIDs` and `trainedNoteIDs` are line numbers (0-based) of the bundle's memory.jsonl.
public struct BundledPersonalAdapter: Sendable {
    public var metadata: PersonalAdapterMetadata
    public var config: [UInt8]
    public var safetensors: [UInt8]
}

/// The cached profile summary as a bundle carries it: `longTermItems` are the memory.jsonl lines
/// (0-based) of the long-term memory it was written from, or nil when it was already out of date.
public struct BundledProfile: Codable, Sendable, Equatable {
    public var text: String
    public var written: String
    public var longTermItems: [Int]?
}

/// The federation state as a bundle carries it: the coordinator link and, when the home had
/// downloaded one, the signed manifest and the shared adapter vector it names.
public struct BundledFederation: Sendable {
    public var link: CoordinatorLink
    public var linkJSON: [UInt8]
    public var signedManifest: [UInt8]?
    public var sharedVersion: Int?
    public var sharedVector: [UInt8]?
}

/// The verified contents of a bundle.
public struct BundleContents: Sendable {
    public struct Link: Sendable {
        public var older: Int
        public var newer: Int
        public var how: Replacement
        public var validTo: Date?
    }

    public var manifest: BundleManifest
    public var items: [NewItem]
    /// Which memory line replaced which (history), by line numbers of `items`.
    public var replacements: [Link] = []
    public var identity: Identity?
    public var personalAdapter: BundledPersonalAdapter?
    public var profile: BundledProfile?
    public var federation: BundledFederation?
}

public enum SealedBundle {
    static let magic = Array("PLLMBNDL".utf8)
    static let version: UInt8 = 2
    static let kdfArgon2id: UInt8 = 1
    static let headerBytes = 42
    static let memoryEntry = "memory.jsonl"
    static let identityEntry = "identity.secret"
    static let adapterMetadataEntry = "personal/metadata.json"
    static let adapterConfigEntry = "personal/adapter_config.json"
    static let adapterWeightsEntry = "personal/adapter_model.safetensors"
    static let profileEntry = "profile.json"
    static let coordinatorEntry = "coordinator.json"
    static let sharedManifestEntry = "shared/manifest.json"
    static let sharedVectorPrefix = "shared/adapter-v"

    /// One memory item as a bundle line.
    struct ItemRecord: Codable {
        var kind: ItemKind
        var tier: Tier
        var created: Double
        var lastAccess: Double
        var accessCount: Int
        var importance: Double
        var content: ItemContent
        // Since history (issue 14); absent in older bundles.
        var validFrom: Double?
        var validTo: Double?
        /// The memory.jsonl line of the item that replaced this one, and how.
        var replacedBy: Int?
        var replacement: Replacement?
    }

    /// Seals everything personal of `home` into bundle bytes: memory, the personal adapter, the
    /// profile summary, the coordinator link with the shared adapter, and (if asked) the identity.
    public static func export(_ home: UnlockedHome, passphrase: SecretBytes, includeIdentity: Bool,
                              limits: Argon2Limits = .moderate, now: Date = Date()) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var memory = Data()
        var lineOf: [Int64: Int] = [:]
        let items = try home.memory.list(limit: Int.max / 2).reversed()
        for (line, item) in items.enumerated() { lineOf[item.id] = line }
        for item in items {
            let record = ItemRecord(kind: item.kind, tier: item.tier, created: item.created.timeIntervalSince1970,
                                    lastAccess: item.lastAccess.timeIntervalSince1970, accessCount: item.accessCount,
                                    importance: item.importance, content: item.content,
                                    validFrom: item.validFrom.timeIntervalSince1970, validTo: item.validTo?.timeIntervalSince1970,
                                    replacedBy: item.replacedBy.flatMap { lineOf[$0] }, replacement: item.replacement)
            memory.append(try encoder.encode(record))
            memory.append(UInt8(ascii: "\n"))
        }
        var entries: [(String, [UInt8])] = [(memoryEntry, Array(memory))]
        if includeIdentity {
            var secret: [UInt8] = []
            home.identity.signingSecretKey.withUnsafeBytes { secret += $0 }
            home.identity.agreementSecretKey.withUnsafeBytes { secret += $0 }
            entries.append((identityEntry, secret))
        }
        let adapters = PersonalAdapterStore(home: home)
        if adapters.exists {
            let parts = try adapters.openParts()
            var metadata = parts.metadata
            metadata.trainedItemIDs = metadata.trainedItemIDs.compactMap { lineOf[$0].map(Int64.init) }.sorted()
            metadata.trainedNoteIDs = metadata.trainedNoteIDs?.compactMap { lineOf[$0].map(Int64.init) }.sorted()
            entries += [(adapterMetadataEntry, Array(try encoder.encode(metadata))),
                        (adapterConfigEntry, parts.config), (adapterWeightsEntry, parts.weights)]
        }
        let profiles = ProfileStore(home: home)
        if let summary = try profiles.cached() {
            let longTerm = try home.memory.trainingSet()
            let current = summary.watermark == ProfileStore.watermark(longTerm)
            let record = BundledProfile(text: summary.text, written: summary.written,
                                        longTermItems: current ? longTerm.compactMap { lineOf[$0.id] }.sorted() : nil)
            entries.append((profileEntry, Array(try encoder.encode(record))))
        }
        if try CoordinatorLink.load(home.home) != nil,
           let link = FileManager.default.contents(atPath: CoordinatorLink.path(home.home)) {
            entries.append((coordinatorEntry, Array(link)))
            // The shared adapter is public, but carried so that the personal adapter trained on top
            // of it keeps working on the new machine before (or without) a `pclient sync`.
            if let shared = try SharedAdapterStore.current(home.home),
               let signed = FileManager.default.contents(atPath: SharedAdapterStore.manifestPath(home.home)) {
                entries.append((sharedManifestEntry, Array(signed)))
                let vectorPath = SharedAdapterStore.vectorPath(home.home, version: shared.version)
                if let vector = FileManager.default.contents(atPath: vectorPath) {
                    entries.append((sharedVectorPrefix + "\(shared.version).f32", Array(vector)))
                }
            }
        }
        let manifest = BundleManifest(
            format: Int(version), created: ISO8601DateFormatter().string(from: now), identity: home.identity.publicKeys,
            entries: entries.map { .init(name: $0.0, bytes: $0.1.count, blake2b: Hex.encode(Blake2b.hash($0.1))) })
        let manifestJSON = Array(try encoder.encode(manifest))

        let salt = Data(SecureRandom.bytes(count: PassphraseKey.saltBytes))
        var header = magic + [version, kdfArgon2id]
        header += withUnsafeBytes(of: limits.opslimit.littleEndian, Array.init)
        header += withUnsafeBytes(of: limits.memlimit.littleEndian, Array.init)
        header += salt
        let key = try PassphraseKey.derive(passphrase: passphrase, salt: salt, limits: limits)
        let stream = try SealedStreamEncoder(key: key)
        var out = header
        out += stream.update(withUnsafeBytes(of: UInt32(manifestJSON.count).littleEndian, Array.init))
        out += stream.update(manifestJSON)
        out += stream.update(home.identity.sign(header + manifestJSON))
        for i in entries.indices {
            out += stream.update(entries[i].1)
            for j in entries[i].1.indices { entries[i].1[j] = 0 }
        }
        out += stream.finish()
        return out
    }

    /// Opens and verifies a bundle completely: header, every chunk, the manifest signature, every
    /// entry's size and hash and contents. Nothing is returned unless all of it checks out.
    public static func open(_ bytes: [UInt8], passphrase: SecretBytes) throws -> BundleContents {
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
            throw ClientError(.corrupt, "this is not a pclient bundle (wrong magic bytes or too short)")
        }
        let format = bytes[8]
        guard format == 1 || format == version else {
            throw ClientError(.corrupt, "the bundle has format version \(format); this build reads versions 1 and \(version)")
        }
        guard bytes[9] == kdfArgon2id else { throw ClientError(.corrupt, "the bundle names an unknown key derivation (\(bytes[9]))") }
        func u64(_ at: Int) -> UInt64 { bytes[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        let limits = Argon2Limits(opslimit: u64(10), memlimit: u64(18))
        let header = Array(bytes[0..<headerBytes])
        let key: SecretBytes
        do {
            key = try PassphraseKey.derive(passphrase: passphrase, salt: Data(bytes[26..<42]), limits: limits)
        } catch {
            throw ClientError(.corrupt, "the bundle's key-derivation parameters are invalid: \(error)")
        }
        var plain: [UInt8]
        do {
            let decoder = try SealedStreamDecoder(key: key)
            plain = try decoder.update(bytes[headerBytes...]) + decoder.finish()
        } catch let e as SealError where e.code == .sealedFileTruncated {
            throw ClientError(.corrupt, "the bundle is truncated: it was cut short in transfer; copy it again")
        } catch let e as SealError where e.code == .sealedFileHeader || e.code == .unsupportedVersion {
            throw ClientError(.corrupt, "the bundle's sealed body is damaged: \(e.message)")
        } catch {
            throw ClientError(.wrongPassphrase, "the bundle does not open: wrong passphrase, or the file was altered")
        }
        defer { for i in plain.indices { plain[i] = 0 } }

        var at = 0
        func take(_ n: Int, _ what: String) throws -> ArraySlice<UInt8> {
            guard n >= 0, plain.count - at >= n else { throw ClientError(.corrupt, "the bundle ends inside its \(what)") }
            defer { at += n }
            return plain[at..<at + n]
        }
        let lengthBytes = try take(4, "manifest length")
        let manifestLength = Int(lengthBytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let manifestJSON = Array(try take(manifestLength, "manifest"))
        let signature = Array(try take(64, "signature"))
        let manifest: BundleManifest
        do {
            manifest = try JSONDecoder().decode(BundleManifest.self, from: Data(manifestJSON))
        } catch {
            throw ClientError(.corrupt, "the bundle's manifest cannot be read")
        }
        guard manifest.identity.verify(signature: signature, for: header + manifestJSON) else {
            throw ClientError(.corrupt, "the bundle's manifest signature does not verify: it was not written by the identity it names")
        }
        guard manifest.format == Int(format) else {
            throw ClientError(.corrupt, "the bundle's manifest says format \(manifest.format) but its header says \(format)")
        }
        guard Set(manifest.entries.map(\.name)).count == manifest.entries.count else {
            throw ClientError(.corrupt, "the bundle names an entry twice")
        }

        var contents = BundleContents(manifest: manifest, items: [], identity: nil)
        var adapterParts: [String: [UInt8]] = [:]
        var sharedManifest: [UInt8]?
        var sharedVector: (version: Int, bytes: [UInt8])?
        for entry in manifest.entries {
            let data = Array(try take(entry.bytes, "entry \(entry.name)"))
            guard Hex.encode(Blake2b.hash(data)) == entry.blake2b else {
                throw ClientError(.corrupt, "the bundle's entry \(entry.name) does not match its hash")
            }
            guard format >= 2 || [memoryEntry, identityEntry].contains(entry.name) else {
                throw ClientError(.corrupt, "the bundle holds an entry (\(entry.name)) that format 1 does not have")
            }
            switch entry.name {
            case memoryEntry:
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    guard let r = try? JSONDecoder().decode(ItemRecord.self, from: Data(line)) else {
                        throw ClientError(.corrupt, "the bundle's memory entry holds an unreadable item")
                    }
                    // A bundle with history restores it as it was (links below); an older one lets
                    // notes supersede as they are added, oldest first.
                    let line = contents.items.count
                    contents.items.append(NewItem(kind: r.kind, content: r.content, tier: r.tier, importance: r.importance,
                                                  created: Date(timeIntervalSince1970: r.created),
                                                  lastAccess: Date(timeIntervalSince1970: r.lastAccess), accessCount: r.accessCount,
                                                  validFrom: r.validFrom.map(Date.init(timeIntervalSince1970:)),
                                                  validTo: r.validTo.map(Date.init(timeIntervalSince1970:)),
                                                  supersedesOlder: r.validFrom == nil))
                    if let newer = r.replacedBy {
                        contents.replacements.append(BundleContents.Link(older: line, newer: newer, how: r.replacement ?? .superseded,
                                                                         validTo: r.validTo.map(Date.init(timeIntervalSince1970:))))
                    }
                }
            case identityEntry:
                guard data.count == 96 else { throw ClientError(.corrupt, "the bundle's identity entry has the wrong size") }
                let id = try Identity(signingSecretKey: SecretBytes(copying: data[0..<64]),
                                      agreementSecretKey: SecretBytes(copying: data[64..<96]))
                guard id.publicKeys == manifest.identity else {
                    throw ClientError(.corrupt, "the bundle's identity does not match the one that signed it")
                }
                contents.identity = id
            case adapterMetadataEntry, adapterConfigEntry, adapterWeightsEntry:
                adapterParts[entry.name] = data
            case profileEntry:
                guard let profile = try? JSONDecoder().decode(BundledProfile.self, from: Data(data)) else {
                    throw ClientError(.corrupt, "the bundle's profile entry cannot be read")
                }
                contents.profile = profile
            case coordinatorEntry:
                guard let link = try? WireCoding.decoder().decode(CoordinatorLink.self, from: Data(data)) else {
                    throw ClientError(.corrupt, "the bundle's coordinator link cannot be read")
                }
                contents.federation = BundledFederation(link: link, linkJSON: data)
            case sharedManifestEntry:
                sharedManifest = data
            case let name where name.hasPrefix(sharedVectorPrefix) && name.hasSuffix(".f32"):
                guard let v = Int(name.dropFirst(sharedVectorPrefix.count).dropLast(4)), v >= 0 else {
                    throw ClientError(.corrupt, "the bundle's shared adapter entry \(name) has no version number")
                }
                sharedVector = (v, data)
            default:
                throw ClientError(.corrupt, "the bundle holds an entry this build does not know (\(entry.name)); use a newer build")
            }
        }
        guard at == plain.count else { throw ClientError(.corrupt, "the bundle has bytes after its last entry") }

        // Entries that refer to each other.
        let lines = contents.items.count
        guard contents.replacements.allSatisfy({ (0..<lines).contains($0.newer) && $0.newer != $0.older }) else {
            throw ClientError(.corrupt, "the bundle's memory names a replacing item it does not have")
        }
        if !adapterParts.isEmpty {
            guard let metaBytes = adapterParts[adapterMetadataEntry], let config = adapterParts[adapterConfigEntry],
                  let weights = adapterParts[adapterWeightsEntry] else {
                throw ClientError(.corrupt, "the bundle holds part of a personal adapter (it needs metadata, config and weights)")
            }
            guard let metadata = try? JSONDecoder().decode(PersonalAdapterMetadata.self, from: Data(metaBytes)) else {
                throw ClientError(.corrupt, "the bundle's personal adapter metadata cannot be read")
            }
            guard (metadata.trainedItemIDs + (metadata.trainedNoteIDs ?? [])).allSatisfy({ $0 >= 0 && $0 < lines }) else {
                throw ClientError(.corrupt, "the bundle's personal adapter names memory lines the bundle does not have")
            }
            try checkPEFT(config: config, safetensors: weights, metadata: metadata)
            contents.personalAdapter = BundledPersonalAdapter(metadata: metadata, config: config, safetensors: weights)
        }
        if let lt = contents.profile?.longTermItems, !lt.allSatisfy({ $0 >= 0 && $0 < lines }) {
            throw ClientError(.corrupt, "the bundle's profile names memory lines the bundle does not have")
        }
        if sharedManifest != nil || sharedVector != nil {
            guard let link = contents.federation?.link, let signed = sharedManifest else {
                throw ClientError(.corrupt, "the bundle's shared adapter comes without its coordinator link or manifest")
            }
            let opened: Manifest
            do {
                let s = try WireCoding.decoder().decode(SignedManifest.self, from: Data(signed))
                opened = try s.open(coordinatorKey: link.coordinatorKey)
            } catch {
                throw ClientError(.corrupt, "the bundle's shared adapter manifest does not verify under its pinned coordinator key: \(error)")
            }
            if let blob = opened.sharedAdapterBlob {
                guard let vector = sharedVector, vector.version == opened.sharedAdapterVersion,
                      SHA256.hex(vector.bytes) == blob.sha256.lowercased() else {
                    throw ClientError(.corrupt, "the bundle's shared adapter vector is not the one its manifest names")
                }
            } else if sharedVector != nil {
                throw ClientError(.corrupt, "the bundle carries a shared adapter vector its manifest does not name")
            }
            contents.federation?.signedManifest = signed
            contents.federation?.sharedVersion = opened.sharedAdapterVersion
            contents.federation?.sharedVector = sharedVector?.bytes
        }
        return contents
    }

    /// The PEFT files of a bundled adapter: a LoRA config matching the metadata and a safetensors
    /// file of finite values, A and B for each module (the shapes are checked against the model
    /// when the adapter is loaded).
    static func checkPEFT(config: [UInt8], safetensors: [UInt8], metadata: PersonalAdapterMetadata) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(config))) as? [String: Any],
              (object["r"] as? NSNumber)?.intValue == metadata.rank,
              let modules = object["target_modules"] as? [String], modules.count == metadata.targets.count else {
            throw ClientError(.corrupt, "the bundle's personal adapter config is not the PEFT LoRA config its metadata describes")
        }
        let tensors: [String: SafeTensors.Tensor]
        do {
            tensors = try SafeTensors.decode(safetensors).tensors
        } catch {
            throw ClientError(.corrupt, "the bundle's personal adapter weights are not a readable safetensors file: \(error)")
        }
        guard !tensors.isEmpty, tensors.count % 2 == 0, tensors.values.allSatisfy({ $0.values.allSatisfy(\.isFinite) }) else {
            throw ClientError(.corrupt, "the bundle's personal adapter weights are not pairs of finite LoRA matrices")
        }
    }
}
