public import Diagnostics
public import Foundation
public import Memory
public import Seal

/// The folder that holds everything pclient keeps about its user, all of it sealed:
///
///     key.json          the data key, wrapped by the passphrase (Argon2id) or a key file
///     identity.sealed   Ed25519 + X25519 identity, sealed with the data key
///     memory.sqlite     the private memory store (+ -wal, -shm)
///     adapters/personal.sealed   the personal adapter (PersonalAdapterStore)
///     profile.sealed    the cached profile summary (ProfileStore)
///     coordinator.json  the coordinator link, public data (CoordinatorLink)
///     shared/           the shared adapter and its signed manifest, public data (SharedAdapterStore)
///     .lock             empty; flock'd between pclient processes (HomeLock)
///
/// `pclient export` carries all of it in a bundle (protocol/BUNDLE.md) except key.json.
///
/// Found from `--home`, then `$PCLIENT_HOME`, then `~/.pclient`.
public struct ClientHome: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public static func resolve(explicit: String?, environment: [String: String]) -> ClientHome {
        if let explicit, !explicit.isEmpty { return ClientHome(path: explicit) }
        if let env = environment["PCLIENT_HOME"], !env.isEmpty { return ClientHome(path: env) }
        return ClientHome(path: (environment["HOME"] ?? NSHomeDirectory()) + "/.pclient")
    }

    public var keyPath: String { path + "/key.json" }
    public var identityPath: String { path + "/identity.sealed" }
    public var memoryPath: String { path + "/memory.sqlite" }

    public var isInitialized: Bool { FileManager.default.fileExists(atPath: keyPath) }

    /// Creates the home: a fresh data key wrapped by `passphrase`, a new identity, an empty memory.
    /// Refuses to touch a folder that already holds a key.
    @discardableResult
    public func initialize(passphrase: SecretBytes, limits: Argon2Limits = .moderate, identity given: Identity? = nil,
                           embedder: (any TextEmbedder)? = nil) throws -> UnlockedHome {
        guard !isInitialized else {
            throw ClientError(.alreadyInitialized, "\(path) already holds a pclient home; use it, or choose another folder with --home")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClientError(.io, "cannot create \(path): \(error.localizedDescription)")
        }
        let key = DataKey.generate()
        let identity = given ?? Identity.generate()
        try AtomicFile.write(try identity.sealed(with: key.subkey(for: .identitySealing)), to: identityPath)
        // The key file last: a home without it is not initialized, so a crash here can be retried.
        try AtomicFile.write(try WrappedKey.wrap(key, passphrase: passphrase, limits: limits).jsonData(), to: keyPath)
        return try UnlockedHome(home: self, key: key, embedder: embedder)
    }

    private func wrappedKey() throws -> WrappedKey {
        guard isInitialized else {
            throw ClientError(.notInitialized, "there is no pclient home at \(path): run `pclient init` first (or pass --home)")
        }
        do {
            return try WrappedKey(jsonData: Data(contentsOf: URL(fileURLWithPath: keyPath)))
        } catch {
            throw ClientError(.corrupt, "\(keyPath) cannot be read as a wrapped key: \(error)")
        }
    }

    /// The Argon2id cost the data key is wrapped with (nil for a key file).
    public func keyWrappingLimits() throws -> Argon2Limits? {
        let wrapped = try wrappedKey()
        return wrapped.kdf == .argon2id13 ? wrapped.limits : nil
    }

    /// Unwraps the data key with the passphrase and opens the sealed stores. With an `embedder`,
    /// memory search is hybrid (BM25 + dense) and new items are embedded as they are stored.
    /// Waits up to `lockWait` seconds while another process imports a bundle into this home.
    public func unlock(passphrase: SecretBytes, embedder: (any TextEmbedder)? = nil, lockWait: Double = 30) throws -> UnlockedHome {
        let key: DataKey
        do {
            key = try wrappedKey().unwrap(passphrase: passphrase)
        } catch let e as SealError where e.code == .wrongPassphrase {
            throw ClientError(.wrongPassphrase, "the passphrase does not open \(path): check it and try again")
        }
        return try UnlockedHome(home: self, key: key, embedder: embedder, lockWait: lockWait)
    }

    /// Changes the passphrase: the data key is rewrapped; no data is re-encrypted.
    public func changePassphrase(old: SecretBytes, new: SecretBytes, limits: Argon2Limits? = nil, lockWait: Double = 30) throws {
        let wrapped = try wrappedKey()
        let lock = try HomeLock(self, .shared, wait: lockWait)
        defer { withExtendedLifetime(lock) {} }
        let rewrapped: WrappedKey
        do {
            rewrapped = try wrapped.rewrap(oldPassphrase: old, newPassphrase: new, limits: limits)
        } catch let e as SealError where e.code == .wrongPassphrase {
            throw ClientError(.wrongPassphrase, "the current passphrase does not open \(path): nothing was changed")
        }
        try AtomicFile.write(try rewrapped.jsonData(), to: keyPath)
    }
}

/// A home whose data key is in memory: the identity and the memory store are open.
public final class UnlockedHome: Sendable {
    public let home: ClientHome
    public let key: DataKey
    public let identity: Identity
    public let memory: MemoryStore
    /// Held shared while this is open, so no import switches the folder away (`HomeLock`).
    private let lock: HomeLock

    init(home: ClientHome, key: DataKey, schedule: MemorySchedule = MemorySchedule(),
         embedder: (any TextEmbedder)? = nil, lockWait: Double = 30) throws {
        self.home = home
        self.key = key
        lock = try HomeLock(home, .shared, wait: lockWait)
        do {
            identity = try Identity(sealed: openSealedBytes(home.identityPath), key: key.subkey(for: .identitySealing))
        } catch let e as ClientError {
            throw e
        } catch {
            throw ClientError(.corrupt, "\(home.identityPath) does not open with this home's key: \(error)")
        }
        memory = try MemoryStore(path: home.memoryPath, key: key, schedule: schedule, embedder: embedder)
        try SealedHomeFile.bindLegacyFiles(of: self)
    }
}

private func openSealedBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ClientError(.corrupt, "\(path) is missing: the home is incomplete")
    }
    return Array(data)
}
