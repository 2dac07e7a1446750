import Diagnostics
import Foundation
import GRDB
import Seal

// Search: BM25 over the blind tokens (in memory, or FTS5 itself) fused with dense cosine by
// reciprocal rank, weighted by recency and importance; the in-memory indexes and when they reload.

/// One result of a search, with the scores that ranked it.
public struct SearchHit: Sendable, Equatable {
    public var item: MemoryItem
    /// Final score: reciprocal-rank fusion of the ranked lists, weighted by recency and importance.
    public var score: Double
    /// The raw BM25 value (lower is better, as SQLite returns it).
    public var bm25: Double
    /// Cosine of the query's and the item's embeddings (nil without an encoder or when not computed).
    public var similarity: Double?
    /// The cosine minus the best other candidate's (computed when relevance is asked).
    public var lead: Double?
    /// The share of the query's term weight the item holds (computed when relevance is asked).
    public var coverage: Double?
    /// The calibrated probability that the item is relevant (when asked).
    public var relevance: Double?

    public init(item: MemoryItem, score: Double, bm25: Double, similarity: Double? = nil, lead: Double? = nil,
                coverage: Double? = nil, relevance: Double? = nil) {
        self.item = item
        self.score = score
        self.bm25 = bm25
        self.similarity = similarity
        self.lead = lead
        self.coverage = coverage
        self.relevance = relevance
    }
}

extension MemoryStore {
    // MARK: - In-memory indexes

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
                throw MemoryError(.corrupt, "the embedding of memory item \(id) failed authentication: the file was altered or damaged",
                                  remedy: MemoryError.restoreRemedy)
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

    // MARK: - Search

    /// Hybrid retrieval: BM25 over blind tokens and (with an embedder) cosine similarity of sentence
    /// embeddings, fused by reciprocal rank and weighted by recency and importance. Returned items are
    /// rehearsed (access count and time updated) unless `rehearse` is false.
    ///
    /// - Parameters:
    ///   - kinds: the kinds returned; nil: all but the assistant's replies (which are never facts).
    ///   - includeReplaced: also items superseded or edited since (history); by default only current ones.
    ///   - relevance: when given, only items at least that relevant to the query are returned, best
    ///     first by relevance, so an unrelated query returns nothing; without it, the top `limit`.
    public func search(_ query: String, limit: Int = 10, tiers: Set<Tier> = [.short, .long],
                       kinds: Set<ItemKind>? = nil, includeReplaced: Bool = false,
                       relevance: RelevanceModel? = nil, rehearse: Bool = true) throws -> [SearchHit] {
        guard limit > 0, !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return [] }
        let terms = StopWords.filter(BlindIndex.terms(in: query))
        try prepareSearchIndexes()
        let queryTokens = Array(Set(terms.map(index.token(for:))))
        let statistics = try termStatistics(queryTokens)
        let tokens = selective(queryTokens, statistics)
        let candidates = max(limit * 5, 50)

        // The lexical list: BM25, best first (tier filter below, before fusion).
        let lexicalHits = try bm25Ranking(tokens, limit: candidates * 2, inMemory: lexical.isLoaded)
        var bm25: [Int64: Double] = [:]
        for hit in lexicalHits { bm25[hit.id] = hit.rank }
        // The dense list: nearest embeddings (any tier; filtered after fusion), best first.
        var semantic: [Int64] = []
        var queryVector: [Float]?
        if let embedder, let dense {
            if let q = try embedder.embed([query]).first {
                queryVector = q
                semantic = dense.nearest(q, k: candidates).map(\.id)
            }
        }
        guard !lexicalHits.isEmpty || !semantic.isEmpty else { return [] }

        // Plaintext metadata of every candidate in one query: the tier, kind and replacement filters,
        // then ranking; only the items that make the cut are decrypted.
        let idList = Set(lexicalHits.map(\.id) + semantic).map(String.init).joined(separator: ",")
        // (The tier is tested here, not in SQL: given "tier IN (...)", SQLite walks the tier index,
        // every item of those tiers, instead of looking up the candidates by id.)
        let meta = try read { db in
            try Row.fetchAll(db, sql: "SELECT id, tier, kind, replacedBy, lastAccess, importance FROM item WHERE id IN (\(idList))")
        }
        let tierNames = Set(tiers.map(\.rawValue))
        let kindNames = Set((kinds ?? Set(ItemKind.allCases).subtracting([.reply])).map(\.rawValue))
        var metadata: [Int64: (lastAccess: Double, importance: Double)] = [:]
        var replaced: [Int64: Bool] = [:]
        for row in meta where tierNames.contains(row["tier"]) && kindNames.contains(row["kind"]) {
            let isReplaced = (row["replacedBy"] as Int64?) != nil
            if !includeReplaced, isReplaced { continue }
            replaced[row["id"]] = isReplaced
            metadata[row["id"]] = (row["lastAccess"], row["importance"])
        }
        let lexical = lexicalHits.map(\.id).filter { metadata[$0] != nil }
        let fused = RankFusion.fuse(lists: [lexical, semantic])
        let now = clock()
        var ranked: [(id: Int64, score: Double, relevance: Double?)] = fused.compactMap { id, score in
            guard let (lastAccess, importance) = metadata[id] else { return nil }
            let ageDays = max(0, now.timeIntervalSince1970 - lastAccess) / 86400
            let recency = pow(0.5, ageDays / schedule.recencyHalfLifeDays)
            return (id, score * (1 + 0.25 * recency + 0.25 * importance), nil)
        }
        // Relevance: each candidate's calibrated probability from its cosine and term coverage.
        var similarity: [Int64: Float] = [:]
        var coverage: [Int64: Double] = [:]
        var lead: [Int64: Double] = [:]
        if let relevance, !ranked.isEmpty {
            let ids = ranked.map(\.id)
            if let queryVector, let dense { similarity = dense.similarities(of: ids, to: queryVector) }
            coverage = try termCoverage(of: ids, queryTokens: queryTokens, statistics: statistics)
            let selfReference = RelevanceModel.refersToUser(query), advice = RelevanceModel.asksAdvice(query)
            // The lead is over the best *current* other candidate: a replaced note is near its replacement
            // and would otherwise take the lead away from it.
            // The two best current cosines are all it takes: the best other is the first, or the second
            // for the first itself.
            let top = similarity.filter { replaced[$0.key] != true }.sorted { $0.value > $1.value }.prefix(2)
            for r in ranked {
                guard let c = similarity[r.id] else { continue }
                let best = top.first { $0.key != r.id }?.value ?? 0
                lead[r.id] = Double(c) - Double(best)
            }
            ranked = ranked.compactMap { r in
                let p = relevance.probability(similarity: similarity[r.id].map(Double.init), lead: lead[r.id] ?? 0,
                                              coverage: coverage[r.id] ?? 0, selfReference: selfReference, asksAdvice: advice)
                return p >= relevance.threshold(dense: similarity[r.id] != nil) ? (r.id, r.score, p) : nil
            }
            ranked.sort { $0.relevance! > $1.relevance! || ($0.relevance! == $1.relevance! && $0.id < $1.id) }
        } else {
            ranked.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        }
        ranked = Array(ranked.prefix(limit))
        guard !ranked.isEmpty else { return [] }
        let topList = ranked.map { String($0.id) }.joined(separator: ",")
        let rows = try read { db in try Row.fetchAll(db, sql: "SELECT * FROM item WHERE id IN (\(topList))") }
        var items: [Int64: MemoryItem] = [:]
        for row in rows {
            let item = try decode(row)
            items[item.id] = item
        }
        let hits = ranked.compactMap { r in
            items[r.id].map {
                SearchHit(item: $0, score: r.score, bm25: bm25[r.id] ?? 0, similarity: similarity[r.id].map(Double.init),
                          lead: lead[r.id], coverage: coverage[r.id], relevance: r.relevance)
            }
        }
        if rehearse { try self.rehearse(hits.map(\.item.id)) }
        return hits
    }

    /// Counts a use of each item (MaLP's rehearsal): access count and time updated.
    public func rehearse(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        let t = clock().timeIntervalSince1970
        try write { db in
            for id in ids {
                try db.execute(sql: "UPDATE item SET accessCount = accessCount + 1, lastAccess = ? WHERE id = ?", arguments: [t, id])
            }
        }
    }

    /// Rows in the store and the document frequency of each known token (unknown tokens absent).
    struct TermStatistics {
        var total: Int
        var frequencies: [String: Int]
    }

    private func termStatistics(_ tokens: [String]) throws -> TermStatistics {
        var total = 0
        var frequencies: [String: Int] = [:]
        guard !tokens.isEmpty else { return TermStatistics(total: 0, frequencies: [:]) }
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
        return TermStatistics(total: total, frequencies: frequencies)
    }

    /// The share of the query's term weight (BM25's IDF; a term no item has weighs the most) that
    /// each item holds: 1 when it has every query term, 0 when none.
    private func termCoverage(of ids: [Int64], queryTokens: [String], statistics: TermStatistics) throws -> [Int64: Double] {
        guard !queryTokens.isEmpty, !ids.isEmpty else { return [:] }
        let n = Double(statistics.total)
        func idf(_ t: String) -> Double {
            let df = Double(statistics.frequencies[t] ?? 0)
            return log(1 + (n - df + 0.5) / (df + 0.5))
        }
        let weights = Dictionary(uniqueKeysWithValues: queryTokens.map { ($0, idf($0)) })
        let total = weights.values.reduce(0, +)
        guard total > 0 else { return [:] }
        let list = ids.map(String.init).joined(separator: ",")
        let rows = try read { db in try Row.fetchAll(db, sql: "SELECT rowid, tokens FROM item_fts WHERE rowid IN (\(list))") }
        var out: [Int64: Double] = [:]
        for row in rows {
            let present = Set((row["tokens"] as String? ?? "").split(separator: " ").map(String.init))
            out[row["rowid"]] = weights.reduce(0) { $0 + (present.contains($1.key) ? $1.value : 0) } / total
        }
        return out
    }

    /// Drops query tokens found in more than `commonTermFraction` of the items, and in more than 500
    /// (they barely move BM25, whose IDF for them is near zero, and cost the most: their posting
    /// lists are the longest), keeping at least the rarest one. Unknown tokens are dropped: they match nothing.
    private func selective(_ tokens: [String], _ statistics: TermStatistics) -> [String] {
        let frequencies = statistics.frequencies
        let known = tokens.filter { frequencies[$0] != nil }
            .sorted { frequencies[$0]! < frequencies[$1]! || (frequencies[$0]! == frequencies[$1]! && $0 < $1) }
        guard let rarest = known.first else { return [] }
        guard known.count > 1 else { return known }
        // Small stores keep every term: only long posting lists are worth dropping.
        let limit = max(500, Int(Double(statistics.total) * schedule.commonTermFraction))
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
        let tokens = Array(Set(StopWords.filter(BlindIndex.terms(in: query)).map(index.token(for:))))
        return selective(tokens, try termStatistics(tokens))
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
