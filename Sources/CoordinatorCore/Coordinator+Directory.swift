import Foundation
public import Logging
import Seal

// The default home of a coordinator: one directory holding the SQLite database, the key file that
// unseals the identity stored in it, and the blob files.
extension Coordinator {
    public static let databaseName = "coordinator.sqlite"
    public static let keyFileName = "coordinator.key"

    /// Creates a coordinator directory: the database with `settings`, a fresh identity sealed in it
    /// under a 32-byte key in `coordinator.key` (mode 0600, the operator's machine), and `blobs/`.
    public static func initialise(directory: String, settings: CoordinatorSettings) throws {
        try settings.validate()
        let keyPath = directory + "/" + keyFileName
        let dbPath = directory + "/" + databaseName
        guard !FileManager.default.fileExists(atPath: dbPath), !FileManager.default.fileExists(atPath: keyPath) else {
            throw CoordinatorError(.configuration, "\(directory) already holds a coordinator.", remedy: "Choose another --dir, or use the existing one.")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let key = KeyFile.generate()
            try KeyFile.write(key, to: keyPath)
            let store = try SQLiteCoordinatorStore(path: dbPath)
            try store.saveSettings(settings)
            try store.saveSealedIdentity(Data(Identity.generate().sealed(with: key)))
            _ = try FileBlobStore(directory: directory + "/blobs")
        } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.storage, "Cannot initialise \(directory): \(error).", remedy: "Check that the directory is writable.", cause: error)
        }
    }

    /// Opens an initialised directory (`SQLiteCoordinatorStore`, `FileBlobStore` in `blobs/`, the
    /// identity unsealed with `coordinator.key`) and rebuilds the open round, if any.
    /// `roundsLimit`: open at most this many rounds from now on.
    public init(directory: String, roundsLimit: Int? = nil, logger: Logger = Logger(label: "pcoord")) throws {
        let dbPath = directory + "/" + Self.databaseName
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw CoordinatorError(.notInitialised, "\(directory) holds no coordinator.", remedy: "Run `pcoord init --dir \(directory)` first.")
        }
        let store = try SQLiteCoordinatorStore(path: dbPath)
        guard try store.loadSettings() != nil, let sealed = try store.loadSealedIdentity() else {
            throw CoordinatorError(.notInitialised, "The coordinator database in \(directory) has no settings or identity.", remedy: "Initialise a new directory with `pcoord init`.")
        }
        let identity: Identity
        do {
            let key = try KeyFile.read(from: directory + "/" + Self.keyFileName)
            identity = try Identity(sealed: sealed, key: key)
        } catch {
            throw CoordinatorError(.configuration, "The coordinator identity does not open with \(directory)/\(Self.keyFileName): \(error).",
                                   remedy: "Restore the key file that belongs to this database (mode 0600).", cause: error)
        }
        try self.init(store: store, blobs: try FileBlobStore(directory: directory + "/blobs"), identity: identity,
                      roundsLimit: roundsLimit, logger: logger)
    }
}
