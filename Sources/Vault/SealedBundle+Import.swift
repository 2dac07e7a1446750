import Diagnostics
import Foundation
import Memory
public import Seal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Importing a bundle: verified contents (`SealedBundle.open`) installed into a home built complete in a
// staging folder beside it, then switched into place atomically. The format is in SealedBundle.swift.

/// What an import did, entry kind by entry kind.
public struct BundleImportReport: Sendable, Equatable {
    /// Distinct memory items stored or rehearsed.
    public var items: Int
    /// What the bundle brought that is now in the home ("personal adapter", "profile", …).
    public var installed: [String] = []
    /// What the bundle carried and the import left out, each with the reason.
    public var notInstalled: [String] = []
}

extension SealedBundle {
    /// Imports verified contents into `home`, all or nothing.
    ///
    /// The resulting home is built complete in a folder beside it (a compact copy of the existing
    /// home, or a new one carrying the bundle's identity if it has one), every file written under
    /// that home's data key (a bundle sealed with another passphrase is re-sealed) and fsynced, and
    /// only then switched into place with one atomic exchange of the two folders. A process killed
    /// at any moment leaves the previous home or the complete new one.
    ///
    /// Memory is merged (items already there are rehearsed). The personal adapter, the profile and
    /// the coordinator link (with the shared adapter) are installed when the home has none of its
    /// own; a home's own are kept, never overwritten. The coordinator link is installed only when the
    /// home's identity is the bundle's (the coordinator enrolled that identity).
    public static func importContents(_ contents: BundleContents, into home: ClientHome, passphrase: SecretBytes,
                                      limits: Argon2Limits = .moderate, allowForeignIdentity: Bool = false) throws -> BundleImportReport {
        let fm = FileManager.default
        let target = ClientHome(path: home.path.count > 1 && home.path.hasSuffix("/") ? String(home.path.dropLast()) : home.path)
        let wasInitialized = target.isInitialized
        if !wasInitialized, fm.fileExists(atPath: target.path),
           let inside = try? fm.contentsOfDirectory(atPath: target.path), !inside.isEmpty {
            throw ClientError(.badInput, "\(target.path) exists and is not an empty pclient home: import into a new folder or an initialized home")
        }
        // No other process may have the home open while it is switched for the new one.
        let exclusive = wasInitialized ? try HomeLock(target, .exclusive) : nil
        defer { withExtendedLifetime(exclusive) {} }
        let staging = ClientHome(path: target.path + ".importing-" + Hex.encode(SecureRandom.bytes(count: 6)))
        var report = BundleImportReport(items: 0)
        do {
            // Everything that opens the homes (their SQLite connections) is released before the
            // folders move: a connection closing later would act on files by their old names.
            try {
                let staged: UnlockedHome
                if wasInitialized {
                    let existing = try target.unlock(passphrase: passphrase)
                    guard allowForeignIdentity || existing.identity.publicKeys == contents.manifest.identity else {
                        throw ClientError(.badInput, "this bundle was signed by another identity than this home's: nothing was imported (pass --foreign to import its memory anyway)")
                    }
                    try copyHome(existing, to: staging)
                    staged = try UnlockedHome(home: staging, key: existing.key)
                } else {
                    staged = try staging.initialize(passphrase: passphrase, limits: limits, identity: contents.identity)
                    if contents.identity != nil { report.installed.append("identity") }
                }
                try install(contents, into: staged, report: &report)
                try staged.memory.compact()
            }()
            try fsyncTree(staging.path)
            if wasInitialized {
                try exchange(staging.path, target.path)
                try? fm.removeItem(atPath: staging.path)        // the previous home, now beside
            } else {
                if fm.fileExists(atPath: target.path) { try fm.removeItem(atPath: target.path) }
                try fm.moveItem(atPath: staging.path, toPath: target.path)
            }
            try fsyncDirectory((target.path as NSString).deletingLastPathComponent.isEmpty ? "." : (target.path as NSString).deletingLastPathComponent)
            return report
        } catch {
            try? fm.removeItem(atPath: staging.path)
            throw error
        }
    }

    /// Adds the bundle's entries to the (staged) home.
    static func install(_ contents: BundleContents, into home: UnlockedHome, report: inout BundleImportReport) throws {
        let ids = try home.memory.add(contents.items)
        for link in contents.replacements where ids.indices.contains(link.older) && ids.indices.contains(link.newer) {
            guard ids[link.older] != ids[link.newer] else { continue }
            try home.memory.link(ids[link.older], replacedBy: ids[link.newer], how: link.how, validTo: link.validTo)
        }
        report.items = Set(ids).count
        let adapters = PersonalAdapterStore(home: home)
        if var bundled = contents.personalAdapter {
            if adapters.exists {
                report.notInstalled.append("personal adapter (this home has its own; it was kept)")
            } else {
                bundled.metadata.trainedItemIDs = Array(Set(bundled.metadata.trainedItemIDs.map { ids[Int($0)] })).sorted()
                bundled.metadata.trainedNoteIDs = bundled.metadata.trainedNoteIDs.map { Array(Set($0.map { ids[Int($0)] })).sorted() }
                try adapters.saveParts(metadata: bundled.metadata, config: bundled.config, weights: bundled.safetensors)
                report.installed.append("personal adapter")
            }
        }
        let profiles = ProfileStore(home: home)
        if let profile = contents.profile {
            if FileManager.default.fileExists(atPath: profiles.path) {
                report.notInstalled.append("profile (this home has its own; it was kept)")
            } else {
                // Current after the import only if long-term memory is exactly what it was written from.
                let mark = profile.longTermItems.map { ProfileStore.watermark(ids: $0.map { ids[$0] }) } ?? "out of date"
                try profiles.save(ProfileSummary(text: profile.text, watermark: mark, written: profile.written))
                report.installed.append("profile")
            }
        }
        if let federation = contents.federation {
            if try CoordinatorLink.load(home.home) != nil {
                report.notInstalled.append("coordinator link (this home has its own; it was kept)")
            } else if home.identity.publicKeys != contents.manifest.identity {
                report.notInstalled.append("coordinator link (it belongs to the bundle's identity, which this home does not have: run `pclient join` again)")
            } else {
                if let signed = federation.signedManifest {
                    try FileManager.default.createDirectory(atPath: SharedAdapterStore.folder(home.home), withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o700])
                    if let version = federation.sharedVersion, let vector = federation.sharedVector {
                        try AtomicFile.write(vector, to: SharedAdapterStore.vectorPath(home.home, version: version))
                    }
                    try AtomicFile.write(signed, to: SharedAdapterStore.manifestPath(home.home))
                    report.installed.append("shared adapter v\(federation.sharedVersion ?? 0)")
                }
                try AtomicFile.write(federation.linkJSON, to: CoordinatorLink.path(home.home))
                report.installed.append("coordinator link")
            }
        }
    }

    /// Copies a home into a new folder: the memory store as a compact snapshot, every other file
    /// byte for byte (all of it sealed or public already), each fsynced. Temporary files are left out.
    static func copyHome(_ home: UnlockedHome, to staging: ClientHome) throws {
        let fm = FileManager.default
        let memoryName = (home.home.memoryPath as NSString).lastPathComponent
        do {
            try fm.createDirectory(atPath: staging.path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClientError(.io, "cannot create \(staging.path) to stage the import: \(error.localizedDescription)")
        }
        try home.memory.snapshot(to: staging.memoryPath)
        for relative in try fm.subpathsOfDirectory(atPath: home.home.path).sorted() {
            let name = (relative as NSString).lastPathComponent
            if relative.hasPrefix(memoryName) || name.contains(".tmp-") || relative == HomeLock.fileName { continue }
            let from = home.home.path + "/" + relative, to = staging.path + "/" + relative
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: from, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                try fm.createDirectory(atPath: to, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } else {
                guard let bytes = fm.contents(atPath: from) else { throw ClientError(.io, "cannot read \(from) to copy it") }
                try AtomicFile.write(bytes, to: to)
            }
        }
    }

    /// fsyncs a folder and every folder under it (files were fsynced as they were written; SQLite
    /// syncs its own), so the entries the switch makes visible are on disk.
    static func fsyncTree(_ path: String) throws {
        try fsyncDirectory(path)
        for relative in try FileManager.default.subpathsOfDirectory(atPath: path) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + relative, isDirectory: &isDirectory), isDirectory.boolValue {
                try fsyncDirectory(path + "/" + relative)
            }
        }
        // The memory store itself: SQLite synced it, but a checkpointed WAL store is synced once more here.
        let memory = path + "/memory.sqlite"
        if let handle = FileHandle(forUpdatingAtPath: memory) {
            defer { try? handle.close() }
            try handle.synchronize()
        }
    }

    static func fsyncDirectory(_ path: String) throws {
        let fd = openFolder(path)
        guard fd >= 0 else { throw ClientError(.io, "cannot open the folder \(path) to flush it (errno \(errno))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ClientError(.io, "cannot flush the folder \(path) (errno \(errno))") }
    }

    /// Swaps two folders in one step (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np RENAME_SWAP).
    static func exchange(_ a: String, _ b: String) throws {
        #if canImport(Glibc)
        typealias Exchange = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        if let symbol = dlsym(nil, "renameat2") {
            let renameat2 = unsafeBitCast(symbol, to: Exchange.self)
            if renameat2(AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */) == 0 { return }
            throw ClientError(.io, "cannot switch the imported home into \(b) (renameat2: errno \(errno)); nothing was imported")
        }
        #elseif canImport(Darwin)
        typealias Swap = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UInt32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -2), "renamex_np") {
            let renamex = unsafeBitCast(symbol, to: Swap.self)
            if renamex(a, b, 2 /* RENAME_SWAP */) == 0 { return }
            throw ClientError(.io, "cannot switch the imported home into \(b) (renamex_np: errno \(errno)); nothing was imported")
        }
        #endif
        throw ClientError(.io, "this system cannot swap two folders atomically; nothing was imported")
    }
}

/// A folder opened for fsync (outside `SealedBundle`, whose `open` would shadow the C function).
private func openFolder(_ path: String) -> Int32 { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
