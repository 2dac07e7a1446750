public import Foundation
public import Federation
import GRDB
import Seal

/// `CoordinatorStore` on one SQLite file (WAL) through GRDB. Small records are JSON columns; the
/// columns that are queried or constrained (token hashes, client ids, nonces, round numbers, the
/// uniqueness of one message per participant and stage) are real columns.
///
/// The payloads of masked inputs (4 bytes per parameter, pruned when their round ends) live in
/// files of `messageDirectory` named in their row, not in the database: each is written to a
/// temporary file, fsynced and renamed before the transaction that records it commits, and
/// unlinked after the transaction that prunes it commits. Files that no row names (left by a
/// crash between the two) are removed when the store opens.
public final class SQLiteCoordinatorStore: CoordinatorStore {
    private let pool: DatabasePool
    public let path: String
    /// `<database folder>/messages`.
    public let messageDirectory: String
    private let cleanup = DispatchQueue(label: "pcoord.store.cleanup")

    public init(path: String) throws {
        self.path = path
        messageDirectory = (path as NSString).deletingLastPathComponent + "/messages"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        do {
            var config = Configuration()
            config.busyMode = .timeout(5)
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
            try FileManager.default.createDirectory(atPath: messageDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CoordinatorError(.storage, "Cannot open the coordinator database at \(path): \(error).",
                                   remedy: "Check that the directory is writable and the file is not damaged; restore it from a backup otherwise.", cause: error)
        }
        try removeUnreferencedMessageFiles()
    }

    /// Deletes files in `messageDirectory` that no stored message names (temporary files of an
    /// interrupted write, or payloads of a prune whose unlinks a crash cut short). Files of the
    /// round that is still open are left alone: another pcoord process (`serve`, while this one is
    /// `status` or `enroll`) may be between writing one and committing its row. They are removed
    /// by an open after that round has ended.
    private func removeUnreferencedMessageFiles() throws {
        let (referenced, open) = try read { db in
            (Set(try String.fetchAll(db, sql: "SELECT payload_file FROM round_messages WHERE payload_file IS NOT NULL")),
             try Int64.fetchOne(db, sql: "SELECT round FROM rounds WHERE stage NOT IN (?, ?) ORDER BY round DESC LIMIT 1",
                                arguments: [RoundStage.completed.rawValue, RoundStage.aborted.rawValue]))
        }
        let openPrefix = open.map { "r\(UInt64(bitPattern: $0))-" }
        let present = (try? FileManager.default.contentsOfDirectory(atPath: messageDirectory)) ?? []
        for name in present where !referenced.contains(name) {
            if let openPrefix, name.hasPrefix(openPrefix) { continue }
            unlink(messageDirectory + "/" + name)
        }
    }

    /// Named, append-only: a shipped migration is never edited, changes come as new ones.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-coordinator") { db in
            try db.execute(sql: """
                CREATE TABLE settings (id INTEGER PRIMARY KEY CHECK (id = 1), json BLOB NOT NULL);
                CREATE TABLE identity (id INTEGER PRIMARY KEY CHECK (id = 1), sealed BLOB NOT NULL);
                CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), json BLOB NOT NULL);
                CREATE TABLE enrollment_tokens (
                    hash TEXT PRIMARY KEY, name TEXT, created_at REAL NOT NULL, expires_at REAL NOT NULL,
                    used_at REAL, used_by TEXT);
                CREATE TABLE clients (
                    id TEXT PRIMARY KEY, signing BLOB NOT NULL, agreement BLOB NOT NULL, name TEXT,
                    enrolled_at REAL NOT NULL, last_seen REAL);
                CREATE TABLE nonces (
                    client TEXT NOT NULL, nonce TEXT NOT NULL, seen_at REAL NOT NULL, PRIMARY KEY (client, nonce));
                CREATE INDEX nonces_seen_at ON nonces (seen_at);
                CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, kind TEXT NOT NULL, created_at REAL NOT NULL);
                CREATE TABLE adapter_versions (
                    version INTEGER PRIMARY KEY, sha256 TEXT NOT NULL REFERENCES blobs (sha256), size INTEGER NOT NULL,
                    created_at REAL NOT NULL, round INTEGER);
                CREATE TABLE rounds (round INTEGER PRIMARY KEY, stage TEXT NOT NULL, json BLOB NOT NULL);
                CREATE TABLE round_messages (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL REFERENCES rounds (round),
                    stage TEXT NOT NULL, participant INTEGER NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL,
                    UNIQUE (round, stage, participant));
                """)
        }
        m.registerMigration("v2-message-files") { db in
            // A payload in a file of messageDirectory: `payload` is empty, the file's name and size are here.
            try db.execute(sql: """
                ALTER TABLE round_messages ADD COLUMN payload_file TEXT;
                ALTER TABLE round_messages ADD COLUMN payload_size INTEGER;
                """)
        }
        return m
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.storage, "Reading the coordinator database failed: \(error).", remedy: "Check the disk and the file's permissions.", cause: error)
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.storage, "Writing the coordinator database failed: \(error).", remedy: "Check free disk space and the file's permissions.", cause: error)
        }
    }

    private static func encode(_ value: some Encodable) throws -> Data { try WireCoding.encoder().encode(value) }
    private static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T { try WireCoding.decoder().decode(type, from: data) }

    // MARK: Settings, identity, state

    public func loadSettings() throws -> CoordinatorSettings? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT json FROM settings WHERE id = 1").map { try Self.decode(CoordinatorSettings.self, $0) }
        }
    }

    public func saveSettings(_ settings: CoordinatorSettings) throws {
        let json = try Self.encode(settings)
        try write { db in try db.execute(sql: "INSERT OR REPLACE INTO settings (id, json) VALUES (1, ?)", arguments: [json]) }
    }

    public func loadSealedIdentity() throws -> Data? {
        try read { db in try Data.fetchOne(db, sql: "SELECT sealed FROM identity WHERE id = 1") }
    }

    public func saveSealedIdentity(_ sealed: Data) throws {
        try write { db in try db.execute(sql: "INSERT OR REPLACE INTO identity (id, sealed) VALUES (1, ?)", arguments: [sealed]) }
    }

    public func loadState() throws -> CoordinatorState {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT json FROM state WHERE id = 1").map { try Self.decode(CoordinatorState.self, $0) } ?? CoordinatorState()
        }
    }

    public func apply(_ changes: [StoreChange]) throws {
        // Large payloads go to their files first, so a committed row always names a whole file.
        var spilled: [Int: String] = [:]
        do {
            for (i, change) in changes.enumerated() {
                guard case .appendMessage(let round, let stage, let participant, let payload, _) = change, stage == .maskedInput else { continue }
                let name = "r\(round)-\(stage.rawValue)-p\(participant)-" + Hex.encode(SecureRandom.bytes(count: 6))
                // Read back only to rebuild a round after a restart: not worth the page cache.
                try AtomicFile.write(payload, to: messageDirectory + "/" + name, keepCached: false)
                spilled[i] = name
            }
        } catch {
            for name in spilled.values { unlink(messageDirectory + "/" + name) }
            throw CoordinatorError(.storage, "Cannot store a message payload in \(messageDirectory): \(error).",
                                   remedy: "Check free disk space and the folder's permissions.", cause: error)
        }
        var pruned: [String] = []
        do {
            try write { db in
                for (i, change) in changes.enumerated() {
                    switch change {
                    case .saveState(let s):
                        try db.execute(sql: "INSERT OR REPLACE INTO state (id, json) VALUES (1, ?)", arguments: [Self.encode(s)])
                    case .saveRound(let r):
                        try db.execute(sql: "INSERT OR REPLACE INTO rounds (round, stage, json) VALUES (?, ?, ?)",
                                       arguments: [Int64(bitPattern: r.round), r.stage.rawValue, Self.encode(r)])
                    case .appendMessage(let round, let stage, let participant, let payload, let at):
                        let file = spilled[i]
                        try db.execute(sql: """
                            INSERT INTO round_messages (round, stage, participant, payload, received_at, payload_file, payload_size)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [Int64(bitPattern: round), stage.rawValue, Int(participant), file == nil ? payload : Data(),
                                             at.timeIntervalSince1970, file, payload.count])
                    case .addAdapterVersion(let v):
                        try db.execute(sql: "INSERT INTO adapter_versions (version, sha256, size, created_at, round) VALUES (?, ?, ?, ?, ?)",
                                       arguments: [v.version, v.blob.sha256, v.blob.size, v.createdAt.timeIntervalSince1970,
                                                   v.round.map { Int64(bitPattern: $0) }])
                    case .pruneMessages(let round, let stage):
                        let arguments: StatementArguments = [Int64(bitPattern: round), stage.rawValue]
                        pruned += try String.fetchAll(db, sql: "SELECT payload_file FROM round_messages WHERE round = ? AND stage = ? AND payload_file IS NOT NULL",
                                                      arguments: arguments)
                        try db.execute(sql: "DELETE FROM round_messages WHERE round = ? AND stage = ?", arguments: arguments)
                    case .addBlob(let b, let kind, let at):
                        try db.execute(sql: "INSERT OR IGNORE INTO blobs (sha256, size, kind, created_at) VALUES (?, ?, ?, ?)",
                                       arguments: [b.sha256, b.size, kind, at.timeIntervalSince1970])
                    }
                }
            }
        } catch {
            for name in spilled.values { unlink(messageDirectory + "/" + name) }
            throw error
        }
        // After the commit, off the caller's path (freeing 8 MB files takes about a millisecond
        // each): a crash before these unlinks leaves files no row names, removed at the next open.
        if !pruned.isEmpty {
            let directory = messageDirectory, names = pruned
            cleanup.async { for name in names { unlink(directory + "/" + name) } }
        }
    }

    /// Waits until the payload files of every prune so far are unlinked.
    public func waitForCleanup() { cleanup.sync {} }

    // MARK: Enrollment and clients

    public func addEnrollmentToken(hash: String, name: String?, createdAt: Date, expiresAt: Date) throws {
        try write { db in
            try db.execute(sql: "INSERT INTO enrollment_tokens (hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)",
                           arguments: [hash, name, createdAt.timeIntervalSince1970, expiresAt.timeIntervalSince1970])
        }
    }

    public func enrollmentTokens() throws -> [EnrollmentToken] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM enrollment_tokens ORDER BY created_at").map { row in
                EnrollmentToken(hash: row["hash"], name: row["name"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
                                expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
                                usedAt: (row["used_at"] as Double?).map(Date.init(timeIntervalSince1970:)), usedBy: row["used_by"])
            }
        }
    }

    public func enroll(tokenHash: String, client: EnrolledClient, now: Date) throws -> TokenCheck {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT expires_at, used_at FROM enrollment_tokens WHERE hash = ?", arguments: [tokenHash]) else {
                return .unknown
            }
            if (row["used_at"] as Double?) != nil { return .used }
            if (row["expires_at"] as Double) <= now.timeIntervalSince1970 { return .expired }
            try db.execute(sql: "UPDATE enrollment_tokens SET used_at = ?, used_by = ? WHERE hash = ?",
                           arguments: [now.timeIntervalSince1970, client.id, tokenHash])
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM clients WHERE id = ?", arguments: [client.id]) == true {
                // A rejoin (`pclient join --rejoin`): a fresh token and a proof from the same identity.
                return .rejoined
            }
            try db.execute(sql: "INSERT INTO clients (id, signing, agreement, name, enrolled_at, last_seen) VALUES (?, ?, ?, ?, ?, NULL)",
                           arguments: [client.id, client.identity.signing, client.identity.agreement, client.name,
                                       client.enrolledAt.timeIntervalSince1970])
            return .valid
        }
    }

    private static func client(_ row: Row) throws -> EnrolledClient {
        EnrolledClient(id: row["id"], identity: try IdentityPublicKeys(signing: row["signing"], agreement: row["agreement"]),
                       name: row["name"], enrolledAt: Date(timeIntervalSince1970: row["enrolled_at"]),
                       lastSeen: (row["last_seen"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    public func client(id: String) throws -> EnrolledClient? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM clients WHERE id = ?", arguments: [id]).map(Self.client) }
    }

    public func clients() throws -> [EnrolledClient] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM clients ORDER BY enrolled_at, id").map(Self.client) }
    }

    public func nonceSeen(client: String, nonce: String, after: Date) throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM nonces WHERE client = ? AND nonce = ? AND seen_at >= ?)",
                              arguments: [client, nonce, after.timeIntervalSince1970]) ?? false
        }
    }

    public func recordRequest(client: String, nonce: String, at: Date, pruneBefore: Date) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM nonces WHERE seen_at < ?", arguments: [pruneBefore.timeIntervalSince1970])
            try db.execute(sql: "INSERT OR IGNORE INTO nonces (client, nonce, seen_at) VALUES (?, ?, ?)",
                           arguments: [client, nonce, at.timeIntervalSince1970])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE clients SET last_seen = ? WHERE id = ?", arguments: [at.timeIntervalSince1970, client])
            return true
        }
    }

    // MARK: Blobs, versions, rounds

    public func blob(sha256: String) throws -> BlobRef? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT sha256, size FROM blobs WHERE sha256 = ?", arguments: [sha256]).map {
                BlobRef(sha256: $0["sha256"], size: $0["size"])
            }
        }
    }

    public func adapterVersions() throws -> [AdapterVersion] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM adapter_versions ORDER BY version").map { row in
                AdapterVersion(version: row["version"], blob: BlobRef(sha256: row["sha256"], size: row["size"]),
                               createdAt: Date(timeIntervalSince1970: row["created_at"]),
                               round: (row["round"] as Int64?).map { UInt64(bitPattern: $0) })
            }
        }
    }

    public func rounds() throws -> [RoundRecord] {
        try read { db in try Data.fetchAll(db, sql: "SELECT json FROM rounds ORDER BY round").map { try Self.decode(RoundRecord.self, $0) } }
    }

    public func round(_ number: UInt64) throws -> RoundRecord? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT json FROM rounds WHERE round = ?", arguments: [Int64(bitPattern: number)])
                .map { try Self.decode(RoundRecord.self, $0) }
        }
    }

    public func messages(round: UInt64) throws -> [StoredMessage] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM round_messages WHERE round = ? ORDER BY sequence", arguments: [Int64(bitPattern: round)]).map { row in
                guard let stage = RoundStage(rawValue: row["stage"]) else {
                    throw CoordinatorError(.storage, "A stored message has an unknown stage.", remedy: "The database was written by a newer pcoord; upgrade.")
                }
                var payload: Data = row["payload"]
                if let file = row["payload_file"] as String? {
                    let size: Int = row["payload_size"]
                    guard let bytes = FileManager.default.contents(atPath: messageDirectory + "/" + file), bytes.count == size else {
                        throw CoordinatorError(.storage, "The stored payload \(messageDirectory)/\(file) of round \(round) is missing or not \(size) bytes.",
                                               remedy: "Restore the coordinator directory from a backup, or abort the round by starting a fresh directory.")
                    }
                    payload = bytes
                }
                return StoredMessage(round: round, sequence: row["sequence"], stage: stage,
                                     participant: ParticipantID(truncatingIfNeeded: row["participant"] as Int), payload: payload)
            }
        }
    }
}
