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

/// One result of a search, with the scores that ranked it.
public struct SearchHit: Sendable, Equatable {
    public var item: MemoryItem
    /// Final score: reciprocal-rank fusion of the ranked lists, weighted by recency and importance.
    public var score: Double
    /// The raw BM25 value (lower is better, as SQLite returns it).
    public var bm25: Double
}

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
    private let pool: DatabasePool
    private let sealer: RecordSealer
    private let index: BlindIndex
    private let clock: @Sendable () -> Date
    /// Dense retrieval, when the client gave an embedder: embeddings are sealed in the `embedding`
    /// column and decrypted into memory on first search.
    public let embedder: (any TextEmbedder)?
    private let dense: DenseIndex?
    /// The FTS5 index's blind tokens in memory, for BM25 (loaded on first search).
    private let lexical = LexicalIndex()
    /// `PRAGMA data_version` of the writer connection when the in-memory indexes were loaded: it
    /// changes only when another connection (another process, another store object) commits.
    private let loadedVersion = VersionMark()

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
        return m
    }

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

    private func counter(_ db: Database, _ name: String) throws -> Int {
        guard let data = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [name]) else { return 0 }
        let bytes = try sealer.open(data, associatedData: RecordAD(table: "meta", rowID: 0, column: name))
        return Int(String(decoding: bytes, as: UTF8.self)) ?? 0
    }

    private func setCounter(_ db: Database, _ name: String, _ value: Int) throws {
        let sealed = Data(sealer.seal(Array(String(value).utf8), associatedData: RecordAD(table: "meta", rowID: 0, column: name)))
        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", arguments: [name, sealed])
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let e as MemoryError {
            throw e
        } catch {
            throw MemoryError(.storage, "the memory store could not be written: \(error)", cause: error)
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let e as MemoryError {
            throw e
        } catch {
            throw MemoryError(.storage, "the memory store could not be read: \(error)", cause: error)
        }
    }

    // MARK: - Sealing rows

    private func contentAD(_ id: Int64, _ version: Int) -> RecordAD {
        RecordAD(table: "item", rowID: id, version: UInt32(version), column: "content")
    }

    private func embeddingAD(_ id: Int64, _ version: Int) -> RecordAD {
        RecordAD(table: "item", rowID: id, version: UInt32(version), column: "embedding")
    }

    /// Loads the in-memory search indexes if needed, and again after another connection changed
    /// the file (`PRAGMA data_version` on the writer moved). The lexical index is built from the
    /// second search of this store object on (unless `lexicalNow`): a one-shot command's single
    /// search runs on FTS5 itself (the same scores) instead of paying for the load.
    private func prepareSearchIndexes(lexicalNow: Bool = false) throws {
        let version = try dataVersion()
        if loadedVersion.replace(with: version) {
            lexical.unload()
            dense?.unload()
        }
        if !lexical.isLoaded && (loadedVersion.countSearch() > 1 || lexicalNow) { try loadLexicalIndex() }
        try loadDenseIndex()
    }

    private func dataVersion() throws -> Int {
        do {
            return try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        } catch {
            throw MemoryError(.storage, "the memory store could not be read: \(error)", cause: error)
        }
    }

    /// Reads every row's blind tokens from FTS5 into the lexical index.
    private func loadLexicalIndex() throws {
        try read { db in
            try lexical.load { add in
                let rows = try Row.fetchCursor(db, sql: "SELECT rowid, tokens FROM item_fts")
                while let row = try rows.next() {
                    let id: Int64 = row[0]
                    try row.withUnsafeData(atIndex: 1) { data in
                        guard let data else { return try add(id, UnsafeRawBufferPointer(start: nil, count: 0)) }
                        try data.withUnsafeBytes { try add(id, $0) }
                    }
                }
            }
        }
    }

    /// Decrypts every stored embedding into the dense index (once).
    private func loadDenseIndex() throws {
        guard let dense, !dense.isLoaded else { return }
        let rows = try read { db in
            try Row.fetchAll(db, sql: "SELECT id, version, embedding FROM item WHERE embedding IS NOT NULL")
        }
        var vectors: [(Int64, [Float])] = []
        vectors.reserveCapacity(rows.count)
        for row in rows {
            let id: Int64 = row["id"]
            let sealed: Data = row["embedding"]
            guard let plain = try? sealer.open(sealed, associatedData: embeddingAD(id, row["version"])),
                  let v = [Float](littleEndianBytes: plain) else {
                throw MemoryError(.corrupt, "the embedding of memory item \(id) failed authentication: the file was altered or damaged")
            }
            vectors.append((id, v))
        }
        dense.load(vectors)
    }

    /// Embeds the items stored without an embedding (before an encoder was available). Returns how many.
    @discardableResult
    public func embedMissing(batchSize: Int = 64) throws -> Int {
        guard let embedder else { return 0 }
        var done = 0
        while true {
            let rows = try read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM item WHERE embedding IS NULL ORDER BY id LIMIT ?", arguments: [batchSize])
            }
            if rows.isEmpty { return done }
            let items = try rows.map(decode)
            let vectors = try embedder.embed(items.map(\.content.searchableText))
            try write { db in
                for (i, row) in rows.enumerated() {
                    let id: Int64 = row["id"]
                    let sealed = Data(sealer.seal(vectors[i].littleEndianBytes, associatedData: embeddingAD(id, row["version"])))
                    try db.execute(sql: "UPDATE item SET embedding = ? WHERE id = ?", arguments: [sealed, id])
                }
            }
            for (i, item) in items.enumerated() { dense?.add(item.id, vectors[i]) }
            done += rows.count
        }
    }

    private func decode(_ row: Row) throws -> MemoryItem {
        let id: Int64 = row["id"]
        let version: Int = row["version"]
        let sealed: Data = row["content"]
        let plain: [UInt8]
        do {
            plain = try sealer.open(sealed, associatedData: contentAD(id, version))
        } catch {
            throw MemoryError(.corrupt, "memory item \(id) failed authentication: the file was altered or damaged", cause: error)
        }
        guard let content = try? JSONDecoder().decode(ItemContent.self, from: Data(plain)),
              let kind = ItemKind(rawValue: row["kind"]), let tier = Tier(rawValue: row["tier"]) else {
            throw MemoryError(.corrupt, "memory item \(id) holds data this version cannot read")
        }
        return MemoryItem(
            id: id, kind: kind, tier: tier,
            created: Date(timeIntervalSince1970: row["created"]),
            lastAccess: Date(timeIntervalSince1970: row["lastAccess"]),
            accessCount: row["accessCount"], importance: row["importance"], content: content)
    }

    /// The blind tokens of an item's searchable text, and a fingerprint of its kind and terms that
    /// recognises repeated items without plaintext (the tokens are keyed already).
    private func blind(_ kind: ItemKind, _ content: ItemContent) -> (tokens: [String], fingerprint: Data) {
        let text = index.tokens(in: content.text)
        let output = index.tokens(in: content.output ?? "")
        let signature = kind.rawValue + "|" + text.joined(separator: " ") + "|" + output.joined(separator: " ")
        return (text + output, Data(Blake2b.hash(Array(signature.utf8), outputByteCount: 16)))
    }

    // MARK: - Adding, reading, forgetting

    /// Stores new items (sealed) and returns their ids. An item identical to one already stored
    /// (same kind and terms) is not stored twice: the existing one is rehearsed instead (MaLP's
    /// "repeated"), and its id returned.
    @discardableResult
    public func add(_ items: [NewItem]) throws -> [Int64] {
        for item in items where !(0...1).contains(item.importance) {
            throw MemoryError(.badInput, "importance must be between 0 and 1, got \(item.importance)")
        }
        let now = clock().timeIntervalSince1970
        let encoder = JSONEncoder()
        let vectors = try embedder.map { try $0.embed(items.map(\.content.searchableText)) }
        // The CPU work (terms, tokens, JSON) happens before the write transaction; sealing needs the row id.
        let prepared = try items.map { item -> (tokens: String, fingerprint: Data, json: Data) in
            let (tokens, fp) = blind(item.kind, item.content)
            return (tokens.joined(separator: " "), fp, try encoder.encode(item.content))
        }
        var embedded: [(Int64, [Float])] = []
        var indexed: [(Int64, String)] = []
        let ids: [Int64] = try write { db in
            var next = (try Int64.fetchOne(db, sql: "SELECT IFNULL(MAX(id), 0) FROM item") ?? 0) + 1
            let find = try db.cachedStatement(sql: "SELECT id FROM item WHERE fingerprint = ? LIMIT 1")
            let rehearse = try db.cachedStatement(sql: """
                UPDATE item SET accessCount = accessCount + 1, lastAccess = ?, importance = MAX(importance, ?) WHERE id = ?
                """)
            let insertItem = try db.cachedStatement(sql: """
                INSERT INTO item(id, kind, tier, created, lastAccess, accessCount, importance, version, fingerprint, content, embedding)
                VALUES(?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
                """)
            let insertTokens = try db.cachedStatement(sql: "INSERT INTO item_fts(rowid, tokens) VALUES(?, ?)")
            var ids: [Int64] = []
            for (index, item) in items.enumerated() {
                let p = prepared[index]
                if let existing = try Int64.fetchOne(find, arguments: [p.fingerprint]) {
                    try rehearse.execute(arguments: [now, item.importance, existing])
                    ids.append(existing)
                    continue
                }
                let id = next
                next += 1
                let tier: Tier = item.importance >= schedule.importanceThreshold && item.tier == .short ? .long : item.tier
                let sealed = Data(sealer.seal(p.json, associatedData: contentAD(id, 1)))
                let created = item.created?.timeIntervalSince1970 ?? now
                let lastAccess = item.lastAccess?.timeIntervalSince1970 ?? created
                var sealedVector: Data?
                if let v = vectors?[index] {
                    sealedVector = Data(sealer.seal(v.littleEndianBytes, associatedData: embeddingAD(id, 1)))
                    embedded.append((id, v))
                }
                try insertItem.execute(arguments: [id, item.kind.rawValue, tier.rawValue, created, lastAccess,
                                                   max(0, item.accessCount), item.importance, p.fingerprint, sealed, sealedVector])
                try insertTokens.execute(arguments: [id, p.tokens])
                indexed.append((id, p.tokens))
                ids.append(id)
            }
            return ids
        }
        for (id, v) in embedded { dense?.add(id, v) }
        for (id, tokens) in indexed { try lexical.add(id, tokens: tokens) }
        return ids
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

    // MARK: - Search

    /// Hybrid retrieval: BM25 over blind tokens and (with an embedder) cosine similarity of sentence
    /// embeddings, fused by reciprocal rank and weighted by recency and importance. Returned items are
    /// rehearsed (access count and time updated) unless `rehearse` is false.
    public func search(_ query: String, limit: Int = 10, tiers: Set<Tier> = [.short, .long],
                       rehearse: Bool = true) throws -> [SearchHit] {
        guard limit > 0, !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        let terms = StopWords.filter(BlindIndex.terms(in: query))
        try prepareSearchIndexes()
        let tokens = try selectiveTokens(Array(Set(terms.map(index.token(for:)))))
        let candidates = max(limit * 5, 50)

        // The lexical list: BM25, best first (tier filter below, before fusion).
        let lexicalHits = try bm25Ranking(tokens, limit: candidates * 2, inMemory: lexical.isLoaded)
        var bm25: [Int64: Double] = [:]
        for hit in lexicalHits { bm25[hit.id] = hit.rank }
        // The dense list: nearest embeddings (any tier; filtered after fusion), best first.
        var semantic: [Int64] = []
        if let embedder, let dense {
            if let q = try embedder.embed([query]).first {
                semantic = dense.nearest(q, k: candidates).map(\.id)
            }
        }
        guard !lexicalHits.isEmpty || !semantic.isEmpty else { return [] }

        // Plaintext metadata of every candidate in one query: the tier filter, then ranking;
        // only the items that make the cut are decrypted.
        let idList = Set(lexicalHits.map(\.id) + semantic).map(String.init).joined(separator: ",")
        // (The tier is tested here, not in SQL: given "tier IN (...)", SQLite walks the tier index,
        // every item of those tiers, instead of looking up the candidates by id.)
        let meta = try read { db in
            try Row.fetchAll(db, sql: "SELECT id, tier, lastAccess, importance FROM item WHERE id IN (\(idList))")
        }
        let tierNames = Set(tiers.map(\.rawValue))
        var metadata: [Int64: (lastAccess: Double, importance: Double)] = [:]
        for row in meta where tierNames.contains(row["tier"]) { metadata[row["id"]] = (row["lastAccess"], row["importance"]) }
        let lexical = lexicalHits.map(\.id).filter { metadata[$0] != nil }
        let fused = RankFusion.fuse(lists: [lexical, semantic])
        let now = clock()
        var ranked: [(id: Int64, score: Double)] = fused.compactMap { id, score in
            guard let (lastAccess, importance) = metadata[id] else { return nil }
            let ageDays = max(0, now.timeIntervalSince1970 - lastAccess) / 86400
            let recency = pow(0.5, ageDays / schedule.recencyHalfLifeDays)
            return (id, score * (1 + 0.25 * recency + 0.25 * importance))
        }
        ranked.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        ranked = Array(ranked.prefix(limit))
        guard !ranked.isEmpty else { return [] }
        let topList = ranked.map { String($0.id) }.joined(separator: ",")
        let rows = try read { db in try Row.fetchAll(db, sql: "SELECT * FROM item WHERE id IN (\(topList))") }
        var items: [Int64: MemoryItem] = [:]
        for row in rows {
            let item = try decode(row)
            items[item.id] = item
        }
        let hits = ranked.compactMap { r in items[r.id].map { SearchHit(item: $0, score: r.score, bm25: bm25[r.id] ?? 0) } }
        if rehearse, !hits.isEmpty {
            let t = now.timeIntervalSince1970
            try write { db in
                for h in hits {
                    try db.execute(sql: "UPDATE item SET accessCount = accessCount + 1, lastAccess = ? WHERE id = ?",
                                   arguments: [t, h.item.id])
                }
            }
        }
        return hits
    }

    /// Drops query tokens found in more than `commonTermFraction` of the items, and in more than 500
    /// (they barely move
    /// BM25, whose IDF for them is near zero, and cost the most: their posting lists are the
    /// longest), keeping at least the rarest one. Unknown tokens are dropped: they match nothing.
    private func selectiveTokens(_ tokens: [String]) throws -> [String] {
        guard tokens.count > 1 else { return tokens }
        var total = 0
        var frequencies: [String: Int] = [:]
        if lexical.isLoaded {
            total = lexical.rowCount
            for t in tokens { frequencies[t] = lexical.documentFrequency(of: t) }
        } else {
            let placeholders = tokens.map { _ in "?" }.joined(separator: ",")
            try read { db in
                total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") ?? 0
                for row in try Row.fetchAll(db, sql: "SELECT term, doc FROM item_fts_vocab WHERE term IN (\(placeholders))",
                                            arguments: StatementArguments(tokens)) where (row["doc"] as Int) > 0 {
                    frequencies[row["term"]] = row["doc"]
                }
            }
        }
        let known = tokens.filter { frequencies[$0] != nil }
            .sorted { frequencies[$0]! < frequencies[$1]! || (frequencies[$0]! == frequencies[$1]! && $0 < $1) }
        guard let rarest = known.first else { return [] }
        // Small stores keep every term: only long posting lists are worth dropping.
        let limit = max(500, Int(Double(total) * schedule.commonTermFraction))
        let selective = known.filter { frequencies[$0]! <= limit }
        return selective.isEmpty ? [rarest] : selective
    }

    /// BM25 over the blind tokens OR-ed, best first, as (id, FTS5 rank = −bm25): from the in-memory
    /// index (`inMemory`, what search uses), or from FTS5's own `ORDER BY rank` (the reference the
    /// tests compare it with).
    func bm25Ranking(_ tokens: [String], limit: Int, inMemory: Bool = true) throws -> [(id: Int64, rank: Double)] {
        guard !tokens.isEmpty, limit > 0 else { return [] }
        if inMemory {
            if !lexical.isLoaded { try prepareSearchIndexes(lexicalNow: true) }
            return lexical.search(tokens, limit: limit)
        }
        let match = tokens.map { "\"\($0)\"" }.joined(separator: " OR ")
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT rowid AS id, rank FROM item_fts WHERE item_fts MATCH ? ORDER BY rank LIMIT ?",
                             arguments: [match, limit]).map { ($0["id"], $0["rank"]) }
        }
    }

    /// The blind tokens search would use for `query` (stop words and near-universal terms dropped).
    func searchTokens(_ query: String) throws -> [String] {
        try prepareSearchIndexes(lexicalNow: true)
        return try selectiveTokens(Array(Set(StopWords.filter(BlindIndex.terms(in: query)).map(index.token(for:)))))
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

    // MARK: - Tiers (MaLP)

    /// Records one interaction and runs the schedule: consolidation every `consolidateEvery`
    /// interactions, short-term refresh every `refreshEvery`, working memory kept within capacity.
    public func recordInteraction() throws {
        let n = try write { db in
            let n = try counter(db, "interactions") + 1
            try setCounter(db, "interactions", n)
            return n
        }
        try trimWorkingMemory()
        if n % schedule.consolidateEvery == 0 { try consolidate() }
        if n % schedule.refreshEvery == 0 { try refreshShortTerm() }
    }

    /// Ends a session: working memory moves to short-term.
    public func endSession() throws {
        try write { db in
            try db.execute(sql: "UPDATE item SET tier = 'short' WHERE tier = 'working'")
        }
    }

    /// Oldest working-memory items beyond capacity move to short-term.
    public func trimWorkingMemory() throws {
        try write { db in
            try db.execute(sql: """
                UPDATE item SET tier = 'short' WHERE id IN (
                    SELECT id FROM item WHERE tier = 'working' ORDER BY created DESC, id DESC LIMIT -1 OFFSET ?)
                """, arguments: [schedule.workingCapacity])
        }
    }

    /// Short-term items rehearsed often enough, or important enough, become long-term; then
    /// near-duplicates in long-term memory are merged. Returns the ids promoted.
    @discardableResult
    public func consolidate() throws -> [Int64] {
        var merged: [Int64] = []
        let survivors: [Int64] = try write { db in
            let promoted = try Int64.fetchAll(db, sql: """
                SELECT id FROM item WHERE tier = 'short' AND (accessCount >= ? OR importance >= ?) ORDER BY id
                """, arguments: [schedule.rehearsalThreshold, schedule.importanceThreshold])
            guard !promoted.isEmpty else { return [] }
            var longTerms = try Row.fetchAll(db, sql: """
                SELECT item.id, item.kind, item_fts.tokens FROM item JOIN item_fts ON item_fts.rowid = item.id
                WHERE item.tier = 'long'
                """).map { (id: $0["id"] as Int64, kind: $0["kind"] as String, terms: Set(($0["tokens"] as String).split(separator: " "))) }
            var survivors: [Int64] = []
            for id in promoted {
                guard let row = try Row.fetchOne(db, sql: "SELECT item.kind, item_fts.tokens FROM item JOIN item_fts ON item_fts.rowid = item.id WHERE item.id = ?", arguments: [id]) else { continue }
                let kind: String = row["kind"]
                let terms = Set((row["tokens"] as String).split(separator: " "))
                if let twin = longTerms.first(where: { $0.kind == kind && Self.jaccard($0.terms, terms) >= schedule.nearDuplicateSimilarity }) {
                    // Merge into the older long-term item: it keeps the rehearsals and the higher importance.
                    try db.execute(sql: """
                        UPDATE item SET accessCount = accessCount + (SELECT accessCount FROM item WHERE id = ?),
                            importance = MAX(importance, (SELECT importance FROM item WHERE id = ?)),
                            lastAccess = MAX(lastAccess, (SELECT lastAccess FROM item WHERE id = ?))
                        WHERE id = ?
                        """, arguments: [id, id, id, twin.id])
                    try db.execute(sql: "DELETE FROM item WHERE id = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM item_fts WHERE rowid = ?", arguments: [id])
                    merged.append(id)
                } else {
                    try db.execute(sql: "UPDATE item SET tier = 'long' WHERE id = ?", arguments: [id])
                    longTerms.append((id, kind, terms))
                    survivors.append(id)
                }
            }
            return survivors
        }
        dense?.remove(merged)
        lexical.remove(merged)
        return survivors
    }

    /// Short-term memory beyond capacity: the lowest-value items are forgotten for good. Value is
    /// importance and rehearsals, decayed by time since the last access.
    @discardableResult
    public func refreshShortTerm() throws -> Int {
        let now = clock().timeIntervalSince1970
        let halfLife = schedule.recencyHalfLifeDays * 86400
        let victims: [Int64] = try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, lastAccess, accessCount, importance FROM item WHERE tier = 'short'")
            guard rows.count > schedule.shortCapacity else { return [] }
            var scored: [(id: Int64, value: Double)] = []
            for row in rows {
                let lastAccess: Double = row["lastAccess"]
                let importance: Double = row["importance"]
                let rehearsals: Int = row["accessCount"]
                let decay = pow(0.5, max(0, now - lastAccess) / halfLife)
                scored.append((row["id"], (importance + 0.2 * Double(rehearsals)) * decay))
            }
            scored.sort { $0.value < $1.value || ($0.value == $1.value && $0.id < $1.id) }
            return scored.prefix(rows.count - schedule.shortCapacity).map(\.id)
        }
        if !victims.isEmpty { try forget(victims) }
        return victims.count
    }

    static func jaccard(_ a: Set<Substring>, _ b: Set<Substring>) -> Double {
        if a.isEmpty && b.isEmpty { return 1 }
        return Double(a.intersection(b).count) / Double(a.union(b).count)
    }

    /// The long-term items, oldest first: the personal adapter's training set.
    public func trainingSet() throws -> [MemoryItem] {
        try list(tiers: [.long], limit: Int.max / 2).reversed()
    }
}

/// Reciprocal-rank fusion (Cormack et al. 2009): score(d) = Σ_lists 1 / (k + rank_list(d)).
/// Lists hold item ids, best first (BM25 and dense retrieval).
public enum RankFusion {
    public static func fuse<ID: Hashable>(lists: [[ID]], k: Double = 60) -> [ID: Double] {
        var scores: [ID: Double] = [:]
        for list in lists {
            for (rank, item) in list.enumerated() { scores[item, default: 0] += 1 / (k + Double(rank + 1)) }
        }
        return scores
    }
}

/// Under a lock: the data version the in-memory indexes were loaded at, and the searches so far.
final class VersionMark: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?

    private var searches = 0

    /// Counts a search; returns how many so far.
    func countSearch() -> Int {
        lock.withLock {
            searches += 1
            return searches
        }
    }

    /// Records `version`; true if a different one was recorded before.
    func replace(with version: Int) -> Bool {
        lock.withLock {
            defer { value = version }
            return value != nil && value != version
        }
    }
}
