import Diagnostics
public import Foundation
import GRDB
public import Seal

// The private memory store: one SQLite file (WAL) in which every piece of user content is sealed
// with XChaCha20-Poly1305 before it is written (associated data: table, row id, version, column),
// and full-text search runs on FTS5 over blind tokens (keyed BLAKE2b of normalised terms), so BM25
// ranks while the file holds no plaintext word.
//
// Tables (migration "v1"):
//   meta(key, value)            sealed values: the key check, counters
//   item(id, kind, tier, created, lastAccess, accessCount, importance, version, fingerprint, content, embedding)
//   item_fts(tokens)            FTS5, rowid = item.id, space-separated blind tokens
// Migration "v3" adds the bi-temporal columns (validFrom, validTo), the replacement link
// (replacedBy, replacedHow) and frameKey, a keyed hash of a note's subject and relation (`NoteFrame`)
// that finds the notes a new one may supersede without decrypting the others. A data step after the
// migrations (it needs the key) turns stored assistant turns into `reply` items and keys old notes.

/// Counts and sizes, for `pclient memory stats`.
public struct MemoryStats: Sendable, Equatable, Codable {
    public var byTier: [String: Int]
    public var byKind: [String: Int]
    public var interactions: Int
    public var fileBytes: Int64
}

public final class MemoryStore: Sendable {
    public let path: String
    public let schedule: MemorySchedule
    let pool: DatabasePool
    let sealer: RecordSealer
    let index: BlindIndex
    let clock: @Sendable () -> Date
    /// Dense retrieval, when the client gave an embedder: embeddings are sealed in the `embedding`
    /// column and decrypted into memory on first search.
    public let embedder: (any TextEmbedder)?
    let dense: DenseIndex?
    /// The FTS5 index's blind tokens in memory, for BM25 (loaded on first search).
    let lexical = LexicalIndex()
    /// `PRAGMA data_version` of the writer connection when the in-memory indexes were loaded: it
    /// changes only when another connection (another process, another store object) commits.
    let loadedVersion = VersionMark()

    private static let keyCheckPlaintext = Array("pclient memory key check v1".utf8)

    /// Opens (or creates) the store at `path` with the user's data key. A wrong key is an error
    /// before anything is read or written.
    public init(path: String, key: DataKey, schedule: MemorySchedule = MemorySchedule(),
                embedder: (any TextEmbedder)? = nil, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.path = path
        self.embedder = embedder
        dense = embedder.map { DenseIndex(dimension: $0.dimension) }
        self.schedule = schedule
        self.clock = clock
        sealer = try RecordSealer(key: key.subkey(for: .recordSealing))
        index = try BlindIndex(key: key.subkey(for: .blindIndex))
        var config = Configuration()
        config.prepareDatabase { db in
            // Freed pages are overwritten, so deleted ciphertext and tokens do not linger in the file.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        // Owner-only from the start; SQLite gives the -wal and -shm files the same mode.
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
        } catch {
            throw MemoryError(.storage, "cannot open the memory store at \(path): \(error)", cause: error)
        }
        try checkKey()
        try migrateContent()
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                CREATE TABLE item(
                    id INTEGER PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL,
                    tier TEXT NOT NULL,
                    created REAL NOT NULL,
                    lastAccess REAL NOT NULL,
                    accessCount INTEGER NOT NULL DEFAULT 0,
                    importance REAL NOT NULL,
                    version INTEGER NOT NULL DEFAULT 1,
                    fingerprint BLOB NOT NULL,
                    content BLOB NOT NULL,
                    embedding BLOB);
                CREATE INDEX item_tier ON item(tier, lastAccess);
                CREATE INDEX item_fingerprint ON item(fingerprint);
                CREATE VIRTUAL TABLE item_fts USING fts5(tokens, tokenize = 'ascii');
                """)
        }
        m.registerMigration("v2: term statistics") { db in
            // Document frequency per blind token, for dropping near-universal query terms.
            try db.execute(sql: "CREATE VIRTUAL TABLE item_fts_vocab USING fts5vocab(item_fts, row)")
        }
        m.registerMigration("v3: time and replacement") { db in
            try db.execute(sql: """
                ALTER TABLE item ADD COLUMN validFrom REAL;
                ALTER TABLE item ADD COLUMN validTo REAL;
                ALTER TABLE item ADD COLUMN replacedBy INTEGER;
                ALTER TABLE item ADD COLUMN replacedHow TEXT;
                ALTER TABLE item ADD COLUMN frameKey TEXT;
                CREATE INDEX item_frame ON item(frameKey) WHERE frameKey IS NOT NULL;
                CREATE INDEX item_replacedBy ON item(replacedBy) WHERE replacedBy IS NOT NULL;
                """)
        }
        return m
    }

    /// Content migrations that need the key, run once each (a sealed counter records the last):
    /// 1. assistant turns stored as chat items become replies; notes get their frame key.
    /// 2. the search index keeps each item's distinct tokens in sorted order, stop words out
    ///    (it kept every token in text order, repeats and stop words included: a word-level
    ///    substitution cipher open to n-gram analysis); the rewritten pages are wiped; the id
    ///    counter starts at the largest id present.
    private func migrateContent() throws {
        let done = try read { db in try counter(db, "content-version") }
        if done < 1 { try migrateRepliesAndFrames() }
        if done < 2 { try migrateIndexToDistinctTokens() }
    }

    private func migrateIndexToDistinctTokens() throws {
        let stopTokens = Set(StopWords.english.map(index.token(for:)))
        try write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, tokens FROM item_fts")
            for row in rows {
                let tokens: String = row["tokens"] ?? ""
                let distinct = Self.indexed(tokens.split(separator: " ").map(String.init).filter { !stopTokens.contains($0) })
                if distinct != tokens {
                    try db.execute(sql: "UPDATE item_fts SET tokens = ? WHERE rowid = ?", arguments: [distinct, row["rowid"] as Int64])
                }
            }
            try db.execute(sql: "INSERT INTO item_fts(item_fts) VALUES('optimize')")
            // New ids continue past every id given so far (`ItemIDs`), from now on even after the newest is forgotten.
            try ItemIDs(db, self).record(db, self)
            try setCounter(db, "content-version", 2)
        }
        try compact()
    }

    /// What the search index holds for an item: its distinct blind tokens in sorted order, which
    /// says nothing about the text's word order or repeats (the sort is of keyed hashes).
    static func indexed(_ tokens: [String]) -> String { Set(tokens).sorted().joined(separator: " ") }

    private func migrateRepliesAndFrames() throws {
        try write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM item WHERE kind IN ('chat', 'note')")
            for row in rows {
                let item = try decode(row)
                if item.kind == .chatTurn, item.content.role == "assistant" {
                    try db.execute(sql: "UPDATE item SET kind = 'reply' WHERE id = ?", arguments: [item.id])
                } else if item.kind == .note, let frame = NoteFrame.frames(in: item.content.text).first {
                    try db.execute(sql: "UPDATE item SET frameKey = ? WHERE id = ?", arguments: [frameKey(frame), item.id])
                }
            }
            try setCounter(db, "content-version", 1)
        }
    }

    /// The keyed hash of a note's subject and relation.
    func frameKey(_ frame: NoteFrame) -> String { index.token(for: "\u{1}frame " + frame.key) }

    // MARK: - Key check and meta values

    private func checkKey() throws {
        let ad = RecordAD(table: "meta", rowID: 0, column: "keycheck")
        let existing = try pool.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'keycheck'")
        }
        if let existing {
            guard let opened = try? sealer.open(existing, associatedData: ad), opened == Self.keyCheckPlaintext else {
                throw MemoryError(.wrongKey, "the memory store at \(path) was sealed with another key: check the passphrase or key file")
            }
        } else {
            let sealed = Data(sealer.seal(Self.keyCheckPlaintext, associatedData: ad))
            try write { db in
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES('keycheck', ?)", arguments: [sealed])
            }
        }
    }

    func counter(_ db: Database, _ name: String) throws -> Int {
        guard let data = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [name]) else { return 0 }
        let bytes = try sealer.open(data, associatedData: RecordAD(table: "meta", rowID: 0, column: name))
        return Int(String(decoding: bytes, as: UTF8.self)) ?? 0
    }

    func setCounter(_ db: Database, _ name: String, _ value: Int) throws {
        let sealed = Data(sealer.seal(Array(String(value).utf8), associatedData: RecordAD(table: "meta", rowID: 0, column: name)))
        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", arguments: [name, sealed])
    }

    // MARK: - Generations of the home's sealed files

    /// The generation last recorded for each of the home's sealed files (by role, see
    /// `SealedFileBinding`), or nil when this store never recorded any (a home from before files were
    /// bound to a generation). Sealed in `meta`, so only the key's holder can change it.
    public func sealedFileGenerations() throws -> [String: UInt64]? {
        try read { db in try sealedFileGenerations(db) }
    }

    /// Records `generation` for `role` (never lowering it); with nil, only marks the record as
    /// started (an empty one), so that files without a generation are refused from now on.
    public func recordSealedFileGeneration(_ generation: UInt64?, for role: String? = nil) throws {
        try write { db in
            var all = try sealedFileGenerations(db) ?? [:]
            if let role, let generation { all[role] = max(all[role] ?? 0, generation) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let sealed = Data(sealer.seal(Array(try encoder.encode(all)), associatedData: RecordAD(table: "meta", rowID: 0, column: "sealed-files")))
            try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES('sealed-files', ?)", arguments: [sealed])
        }
    }

    private func sealedFileGenerations(_ db: Database) throws -> [String: UInt64]? {
        guard let data = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'sealed-files'") else { return nil }
        guard let plain = try? sealer.open(data, associatedData: RecordAD(table: "meta", rowID: 0, column: "sealed-files")),
              let all = try? JSONDecoder().decode([String: UInt64].self, from: Data(plain)) else {
            throw MemoryError(.corrupt, "the memory store's record of the home's sealed files failed authentication: the file was altered or damaged",
                              remedy: MemoryError.restoreRemedy)
        }
        return all
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let e as MemoryError {
            throw e
        } catch {
            throw MemoryError(.storage, "the memory store could not be written: \(error)", cause: error)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let e as MemoryError {
            throw e
        } catch {
            throw MemoryError(.storage, "the memory store could not be read: \(error)", cause: error)
        }
    }

    // MARK: - Sealing rows

    func contentAD(_ id: Int64, _ version: Int) -> RecordAD {
        RecordAD(table: "item", rowID: id, version: UInt32(version), column: "content")
    }

    func embeddingAD(_ id: Int64, _ version: Int) -> RecordAD {
        RecordAD(table: "item", rowID: id, version: UInt32(version), column: "embedding")
    }

    func decode(_ row: Row) throws -> MemoryItem {
        let id: Int64 = row["id"]
        let version: Int = row["version"]
        let sealed: Data = row["content"]
        let plain: [UInt8]
        do {
            plain = try sealer.open(sealed, associatedData: contentAD(id, version))
        } catch {
            throw MemoryError(.corrupt, "memory item \(id) failed authentication: the file was altered or damaged",
                              remedy: MemoryError.restoreRemedy, cause: error)
        }
        guard let content = try? JSONDecoder().decode(ItemContent.self, from: Data(plain)),
              let kind = ItemKind(rawValue: row["kind"]), let tier = Tier(rawValue: row["tier"]) else {
            throw MemoryError(.corrupt, "memory item \(id) holds data this version cannot read")
        }
        let validFrom: Double? = row["validFrom"]
        let validTo: Double? = row["validTo"]
        let how: String? = row["replacedHow"]
        return MemoryItem(
            id: id, kind: kind, tier: tier,
            created: Date(timeIntervalSince1970: row["created"]),
            lastAccess: Date(timeIntervalSince1970: row["lastAccess"]),
            accessCount: row["accessCount"], importance: row["importance"], content: content,
            validFrom: validFrom.map(Date.init(timeIntervalSince1970:)), validTo: validTo.map(Date.init(timeIntervalSince1970:)),
            replacedBy: row["replacedBy"], replacement: how.flatMap(Replacement.init(rawValue:)))
    }

    /// The blind tokens an item is indexed under (its distinct terms but stop words, sorted: see
    /// `indexed`), and a fingerprint of its kind and terms in order that recognises repeated items
    /// without plaintext (a hash of keyed tokens: it shows only which items are identical).
    func blind(_ kind: ItemKind, _ content: ItemContent) -> (tokens: String, fingerprint: Data) {
        let textTerms = BlindIndex.terms(in: content.text), outputTerms = BlindIndex.terms(in: content.output ?? "")
        let text = index.tokens(ofTerms: textTerms), output = index.tokens(ofTerms: outputTerms)
        let signature = kind.rawValue + "|" + text.joined(separator: " ") + "|" + output.joined(separator: " ")
        var kept: [String] = []
        for (term, token) in zip(textTerms + outputTerms, text + output) where !StopWords.english.contains(term) { kept.append(token) }
        return (Self.indexed(kept), Data(Blake2b.hash(Array(signature.utf8), outputByteCount: 16)))
    }

    // MARK: - Adding, reading, forgetting

    /// Stores new items (sealed) and returns their ids. An item identical to one already stored
    /// (same kind and terms) is not stored twice: the existing one is rehearsed instead (MaLP's
    /// "repeated"), and its id returned. A note closes the current notes it supersedes.
    @discardableResult
    public func add(_ items: [NewItem]) throws -> [Int64] { try remember(items).map(\.id) }

    /// `add`, saying for each item what happened: stored, or an existing one rehearsed, and which
    /// current notes it superseded.
    @discardableResult
    public func remember(_ items: [NewItem]) throws -> [Remembered] {
        for item in items where !(0...1).contains(item.importance) {
            throw MemoryError(.badInput, "importance must be between 0 and 1, got \(item.importance)")
        }
        let now = clock().timeIntervalSince1970
        let encoder = JSONEncoder()
        let vectors = try embedder.map { try $0.embed(items.map(\.content.searchableText)) }
        // The CPU work (terms, tokens, JSON, frames) happens before the write transaction; sealing needs the row id.
        let prepared = try items.map { item -> Prepared in
            let (tokens, fp) = blind(item.kind, item.content)
            let frames = item.kind == .note ? NoteFrame.frames(in: item.content.text) : []
            return Prepared(tokens: tokens, fingerprint: fp, json: try encoder.encode(item.content),
                            frames: frames, frameKeys: frames.map(frameKey))
        }
        var embedded: [(Int64, [Float])] = []
        var indexed: [(Int64, String)] = []
        let results: [Remembered] = try write { db in
            var results: [Remembered] = []
            var ids = try ItemIDs(db, self)
            for (index, item) in items.enumerated() {
                let r = try insert(db, item, prepared[index], vector: vectors?[index], now: now, ids: &ids)
                if r.stored {
                    if let v = vectors?[index] { embedded.append((r.id, v)) }
                    indexed.append((r.id, prepared[index].tokens))
                }
                results.append(r)
            }
            try ids.record(db, self)
            return results
        }
        for (id, v) in embedded { dense?.add(id, v) }
        for (id, tokens) in indexed { try lexical.add(id, tokens: tokens) }
        return results
    }

    struct Prepared {
        var tokens: String
        var fingerprint: Data
        var json: Data
        /// A note's frames, one per clause it has (`NoteFrame.frames`); the first one's key is stored.
        var frames: [NoteFrame]
        var frameKeys: [String]
    }

    /// Inserts one prepared item in the open transaction (or rehearses its twin), then closes the
    /// current notes it supersedes.
    func insert(_ db: Database, _ item: NewItem, _ p: Prepared, vector: [Float]?, now: Double,
                ids: inout ItemIDs, excluding: Set<Int64> = []) throws -> Remembered {
        if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM item WHERE fingerprint = ? LIMIT 1", arguments: [p.fingerprint]) {
            try db.execute(sql: "UPDATE item SET accessCount = accessCount + 1, lastAccess = ?, importance = MAX(importance, ?) WHERE id = ?",
                           arguments: [now, item.importance, existing])
            return Remembered(id: existing, stored: false, superseded: [])
        }
        let id = ids.take()
        let tier: Tier = item.importance >= schedule.importanceThreshold && item.tier == .short ? .long : item.tier
        let sealed = Data(sealer.seal(p.json, associatedData: contentAD(id, 1)))
        let created = item.created?.timeIntervalSince1970 ?? now
        let lastAccess = item.lastAccess?.timeIntervalSince1970 ?? created
        let validFrom = item.validFrom?.timeIntervalSince1970 ?? created
        let sealedVector = vector.map { Data(sealer.seal($0.littleEndianBytes, associatedData: embeddingAD(id, 1))) }
        try db.execute(sql: """
            INSERT INTO item(id, kind, tier, created, lastAccess, accessCount, importance, version, fingerprint, content,
                             embedding, validFrom, validTo, frameKey)
            VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, item.kind.rawValue, tier.rawValue, created, lastAccess, max(0, item.accessCount),
                             item.importance, p.fingerprint, sealed, sealedVector, validFrom,
                             item.validTo?.timeIntervalSince1970, p.frameKeys.first])
        try db.execute(sql: "INSERT INTO item_fts(rowid, tokens) VALUES(?, ?)", arguments: [id, p.tokens])
        var superseded: [Int64] = []
        if item.supersedesOlder, item.validTo == nil, !p.frames.isEmpty {
            superseded = try supersede(db, by: id, frames: p.frames, keys: p.frameKeys, vector: vector, validFrom: validFrom,
                                       excluding: excluding)
        }
        return Remembered(id: id, stored: true, superseded: superseded)
    }

    /// Closes the current notes with one of `keys` that one of `frames` supersedes. A vague frame ("I
    /// am …") needs the embeddings to agree as well (cosine ≥ `schedule.supersessionSimilarity`).
    private func supersede(_ db: Database, by id: Int64, frames: [NoteFrame], keys: [String], vector: [Float]?,
                           validFrom: Double, excluding: Set<Int64>) throws -> [Int64] {
        let placeholders = keys.map { _ in "?" }.joined(separator: ",")
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM item WHERE frameKey IN (\(placeholders)) AND kind = 'note' AND replacedBy IS NULL AND id != ? AND validFrom <= ?
            """, arguments: StatementArguments(keys + [id, validFrom] as [any DatabaseValueConvertible]))
        var closed: [Int64] = []
        for row in rows {
            let older = try decode(row)
            let olderFrames = NoteFrame.frames(in: older.content.text)
            guard !excluding.contains(older.id),
                  let frame = frames.first(where: { f in olderFrames.contains { f.supersedes($0) } }) else { continue }
            if frame.isVague {
                guard let vector, let sealed: Data = row["embedding"],
                      let plain = try? sealer.open(sealed, associatedData: embeddingAD(older.id, row["version"])),
                      let v = [Float](littleEndianBytes: plain), v.count == vector.count,
                      Double(zip(v, vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }) >= schedule.supersessionSimilarity else { continue }
            }
            try db.execute(sql: "UPDATE item SET validTo = ?, replacedBy = ?, replacedHow = ? WHERE id = ?",
                           arguments: [validFrom, id, Replacement.superseded.rawValue, older.id])
            closed.append(older.id)
        }
        return closed
    }

    /// New items' ids within one write transaction: past every id this store has given (a sealed
    /// counter, and the largest id present), so no id is reused and a forgotten item's old
    /// ciphertext, authenticated for its id and version, cannot be put back in a newer item's place.
    /// `record` saves the counter before the transaction commits.
    struct ItemIDs {
        private var last: Int64

        init(_ db: Database, _ store: MemoryStore) throws {
            let largest = try Int64.fetchOne(db, sql: "SELECT IFNULL(MAX(id), 0) FROM item") ?? 0
            last = max(largest, Int64(try store.counter(db, "last-item-id")))
        }

        mutating func take() -> Int64 {
            last += 1
            return last
        }

        /// Records the largest id given so far (also when none was taken here: a store from before the counter).
        func record(_ db: Database, _ store: MemoryStore) throws {
            try store.setCounter(db, "last-item-id", Int(last))
        }
    }

    @discardableResult
    public func add(_ item: NewItem) throws -> Int64 { try add([item])[0] }

    public func item(_ id: Int64) throws -> MemoryItem {
        guard let row = try read({ db in try Row.fetchOne(db, sql: "SELECT * FROM item WHERE id = ?", arguments: [id]) }) else {
            throw MemoryError(.notFound, "there is no memory item \(id)")
        }
        return try decode(row)
    }

    /// Items of the given tiers, newest first.
    public func list(tiers: Set<Tier> = Set(Tier.allCases), kind: ItemKind? = nil, limit: Int = 100, offset: Int = 0) throws -> [MemoryItem] {
        let tierList = tiers.map { "'\($0.rawValue)'" }.joined(separator: ",")
        var sql = "SELECT * FROM item WHERE tier IN (\(tierList))"
        var args: [any DatabaseValueConvertible] = []
        if let kind { sql += " AND kind = ?"; args.append(kind.rawValue) }
        sql += " ORDER BY created DESC, id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        let rows = try read { db in try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)) }
        return try rows.map(decode)
    }

    /// Deletes items for good: the rows, their search tokens, and (secure_delete, FTS5 optimize,
    /// WAL checkpoint) every copy of their pages in the database and its WAL.
    public func forget(_ ids: [Int64]) throws {
        try write { db in
            for id in ids {
                guard try Int64.fetchOne(db, sql: "SELECT id FROM item WHERE id = ?", arguments: [id]) != nil else {
                    throw MemoryError(.notFound, "there is no memory item \(id)")
                }
                // What it had replaced now points to its own replacement, if any; otherwise it stays
                // replaced (by an item since forgotten): forgetting the newest fact does not revive an older one.
                try db.execute(sql: """
                    UPDATE item SET replacedBy = (SELECT replacedBy FROM item WHERE id = ?)
                    WHERE replacedBy = ? AND (SELECT replacedBy FROM item WHERE id = ?) IS NOT NULL
                    """, arguments: [id, id, id])
                try db.execute(sql: "DELETE FROM item WHERE id = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM item_fts WHERE rowid = ?", arguments: [id])
            }
            try db.execute(sql: "INSERT INTO item_fts(item_fts) VALUES('optimize')")
        }
        dense?.remove(ids)
        lexical.remove(ids)
        try compact()
    }

    /// Checkpoints the WAL into the database and truncates it, so no deleted page survives there.
    public func compact() throws {
        do {
            try pool.writeWithoutTransaction { db in
                _ = try db.checkpoint(.truncate)
            }
        } catch {
            throw MemoryError(.storage, "the memory store could not be checkpointed: \(error)", cause: error)
        }
    }

    /// Writes a consistent, compact copy of the store to `path` (SQLite's VACUUM INTO: no free pages,
    /// so nothing deleted comes along), owner-only and fsynced. `path` must not exist.
    public func snapshot(to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw MemoryError(.storage, "cannot create \(path) for a copy of the memory store")
        }
        do {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM INTO ?", arguments: [path])
            }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw MemoryError(.storage, "the memory store could not be copied to \(path): \(error)", cause: error)
        }
    }

    // MARK: - Statistics

    public func stats() throws -> MemoryStats {
        try read { db in
            var byTier: [String: Int] = [:], byKind: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT tier, COUNT(*) AS n FROM item GROUP BY tier") {
                byTier[row["tier"]] = row["n"]
            }
            for row in try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM item GROUP BY kind") {
                byKind[row["kind"]] = row["n"]
            }
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return MemoryStats(byTier: byTier, byKind: byKind, interactions: try counter(db, "interactions"),
                               fileBytes: pages * size)
        }
    }
}
