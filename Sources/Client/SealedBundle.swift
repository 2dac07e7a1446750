public import Foundation
public import Memory
public import Seal

// An export bundle: everything personal in one file, sealed by a passphrase, its manifest signed by
// the user's Ed25519 identity. The format is specified in protocol/BUNDLE.md:
//
//   0   8  magic "PLLMBNDL"
//   8   1  format version (1)
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

/// The verified contents of a bundle.
public struct BundleContents: Sendable {
    public var manifest: BundleManifest
    public var items: [NewItem]
    public var identity: Identity?
}

public enum SealedBundle {
    static let magic = Array("PLLMBNDL".utf8)
    static let version: UInt8 = 1
    static let kdfArgon2id: UInt8 = 1
    static let headerBytes = 42
    static let memoryEntry = "memory.jsonl"
    static let identityEntry = "identity.secret"

    /// One memory item as a bundle line.
    struct ItemRecord: Codable {
        var kind: ItemKind
        var tier: Tier
        var created: Double
        var lastAccess: Double
        var accessCount: Int
        var importance: Double
        var content: ItemContent
    }

    /// Seals everything personal of `home` into bundle bytes.
    public static func export(_ home: UnlockedHome, passphrase: SecretBytes, includeIdentity: Bool,
                              limits: Argon2Limits = .moderate, now: Date = Date()) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var memory = Data()
        for item in try home.memory.list(limit: Int.max / 2).reversed() {
            let record = ItemRecord(kind: item.kind, tier: item.tier, created: item.created.timeIntervalSince1970,
                                    lastAccess: item.lastAccess.timeIntervalSince1970, accessCount: item.accessCount,
                                    importance: item.importance, content: item.content)
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
        let manifest = BundleManifest(
            format: 1, created: ISO8601DateFormatter().string(from: now), identity: home.identity.publicKeys,
            entries: entries.map { .init(name: $0.0, bytes: $0.1.count, blake2b: hex(Blake2b.hash($0.1))) })
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
        for (_, bytes) in entries { out += stream.update(bytes) }
        out += stream.finish()
        return out
    }

    /// Opens and verifies a bundle completely: header, every chunk, the manifest signature, every
    /// entry's size and hash. Nothing is returned unless all of it checks out.
    public static func open(_ bytes: [UInt8], passphrase: SecretBytes) throws -> BundleContents {
        guard bytes.count >= headerBytes, Array(bytes[0..<8]) == magic else {
            throw ClientError(.corrupt, "this is not a pclient bundle (wrong magic bytes or too short)")
        }
        guard bytes[8] == version else {
            throw ClientError(.corrupt, "the bundle has format version \(bytes[8]); this build reads version \(version)")
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
        let plain: [UInt8]
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
        var items: [NewItem] = []
        var identity: Identity?
        for entry in manifest.entries {
            let data = Array(try take(entry.bytes, "entry \(entry.name)"))
            guard hex(Blake2b.hash(data)) == entry.blake2b else {
                throw ClientError(.corrupt, "the bundle's entry \(entry.name) does not match its hash")
            }
            switch entry.name {
            case memoryEntry:
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    guard let r = try? JSONDecoder().decode(ItemRecord.self, from: Data(line)) else {
                        throw ClientError(.corrupt, "the bundle's memory entry holds an unreadable item")
                    }
                    items.append(NewItem(kind: r.kind, content: r.content, tier: r.tier, importance: r.importance,
                                         created: Date(timeIntervalSince1970: r.created),
                                         lastAccess: Date(timeIntervalSince1970: r.lastAccess), accessCount: r.accessCount))
                }
            case identityEntry:
                guard data.count == 96 else { throw ClientError(.corrupt, "the bundle's identity entry has the wrong size") }
                let id = try Identity(signingSecretKey: SecretBytes(copying: data[0..<64]),
                                      agreementSecretKey: SecretBytes(copying: data[64..<96]))
                guard id.publicKeys == manifest.identity else {
                    throw ClientError(.corrupt, "the bundle's identity does not match the one that signed it")
                }
                identity = id
            default:
                throw ClientError(.corrupt, "the bundle holds an entry this build does not know (\(entry.name)); use a newer build")
            }
        }
        guard at == plain.count else { throw ClientError(.corrupt, "the bundle has bytes after its last entry") }
        return BundleContents(manifest: manifest, items: items, identity: identity)
    }

    /// Imports verified contents into `home`, all or nothing. A home that does not exist yet is
    /// built in a temporary folder beside it and moved into place only when complete (with the
    /// bundle's identity when it carries one); an existing home gets the items in one transaction.
    public static func importContents(_ contents: BundleContents, into home: ClientHome, passphrase: SecretBytes,
                                      limits: Argon2Limits = .moderate, allowForeignIdentity: Bool = false) throws -> Int {
        if home.isInitialized {
            let unlocked = try home.unlock(passphrase: passphrase)
            guard allowForeignIdentity || unlocked.identity.publicKeys == contents.manifest.identity else {
                throw ClientError(.badInput, "this bundle was signed by another identity than this home's: nothing was imported (pass --foreign to import its memory anyway)")
            }
            return Set(try unlocked.memory.add(contents.items)).count
        }
        if FileManager.default.fileExists(atPath: home.path),
           let existing = try? FileManager.default.contentsOfDirectory(atPath: home.path), !existing.isEmpty {
            throw ClientError(.badInput, "\(home.path) exists and is not an empty pclient home: import into a new folder or an initialized home")
        }
        let staging = ClientHome(path: home.path + ".importing-" + hex(SecureRandom.bytes(count: 6)))
        do {
            // The staged store is closed (the unlocked home released) before the folder moves.
            let count = try {
                let unlocked = try staging.initialize(passphrase: passphrase, limits: limits, identity: contents.identity)
                let count = Set(try unlocked.memory.add(contents.items)).count
                try unlocked.memory.compact()
                return count
            }()
            if FileManager.default.fileExists(atPath: home.path) { try FileManager.default.removeItem(atPath: home.path) }
            try FileManager.default.moveItem(atPath: staging.path, toPath: home.path)
            return count
        } catch {
            try? FileManager.default.removeItem(atPath: staging.path)
            throw error
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
