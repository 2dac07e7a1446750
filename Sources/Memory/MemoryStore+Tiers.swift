import Foundation
import GRDB

// MaLP tiers: working memory → short-term → long-term, on the schedule in `MemorySchedule`.

extension MemoryStore {
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
                SELECT id FROM item WHERE tier = 'short' AND kind != 'reply' AND (accessCount >= ? OR importance >= ?) ORDER BY id
                """, arguments: [schedule.rehearsalThreshold, schedule.importanceThreshold])
            guard !promoted.isEmpty else { return [] }
            var longTerms = try Row.fetchAll(db, sql: """
                SELECT item.id, item.kind, item_fts.tokens FROM item JOIN item_fts ON item_fts.rowid = item.id
                WHERE item.tier = 'long' AND item.replacedBy IS NULL
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
