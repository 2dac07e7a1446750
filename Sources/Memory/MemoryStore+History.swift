import Diagnostics
public import Foundation
import GRDB

// History: notes replaced by newer ones (superseded) or corrected (edited) stay in the store, linked
// to what replaced them; retrieval for questions about now uses current items only.

extension MemoryStore {
    /// Corrects item `id`'s text: a new item (same kind, tier and importance; the same `validFrom`)
    /// replaces it, the old one kept in the history as `edited`. A corrected note also supersedes
    /// other current notes on its subject, as a new note would. Returns what was stored.
    @discardableResult
    public func edit(_ id: Int64, text: String) throws -> Remembered {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw MemoryError(.badInput, "the new text is empty: `pclient memory forget \(id)` deletes an item") }
        let old = try item(id)
        guard old.isCurrent else {
            throw MemoryError(.badInput, "memory item \(id) was already replaced by item \(old.replacedBy!): edit that one",
                              remedy: "`pclient memory history \(id)` shows the chain")
        }
        guard old.kind == .note || old.kind == .behaviour else {
            throw MemoryError(.badInput, "memory item \(id) is a \(old.kind.rawValue == "chat" ? "conversation turn" : "reply"): only notes and behaviour items can be edited")
        }
        var content = old.content
        content.text = trimmed
        let new = NewItem(kind: old.kind, content: content, tier: old.tier, importance: old.importance, validFrom: old.validFrom)
        let now = clock().timeIntervalSince1970
        let (tokens, fp) = blind(new.kind, new.content)
        let frames = new.kind == .note ? NoteFrame.frames(in: trimmed) : []
        let prepared = Prepared(tokens: tokens, fingerprint: fp,
                                json: try JSONEncoder().encode(new.content), frames: frames, frameKeys: frames.map(frameKey))
        let vector = try embedder?.embed([new.content.searchableText]).first
        let result: Remembered = try write { db in
            var ids = try ItemIDs(db, self)
            let r = try insert(db, new, prepared, vector: vector, now: now, ids: &ids, excluding: [id])
            try ids.record(db, self)
            guard r.id != id else { return r }
            try db.execute(sql: "UPDATE item SET replacedBy = ?, replacedHow = ?, validTo = NULL WHERE id = ?",
                           arguments: [r.id, Replacement.edited.rawValue, id])
            return r
        }
        if result.stored {
            if let vector { dense?.add(result.id, vector) }
            try lexical.add(result.id, tokens: prepared.tokens)
        }
        return result
    }

    /// Item `id` and every item linked to it by replacements (what it replaced and what replaced it),
    /// oldest first by `validFrom`, then by recording time.
    public func history(_ id: Int64) throws -> [MemoryItem] {
        _ = try item(id)
        let rows: [Row] = try read { db in
            var seen: Set<Int64> = []
            var queue: [Int64] = [id]
            var rows: [Row] = []
            while let next = queue.popLast() {
                guard seen.insert(next).inserted,
                      let row = try Row.fetchOne(db, sql: "SELECT * FROM item WHERE id = ?", arguments: [next]) else { continue }
                rows.append(row)
                if let forward: Int64 = row["replacedBy"] { queue.append(forward) }
                queue += try Int64.fetchAll(db, sql: "SELECT id FROM item WHERE replacedBy = ?", arguments: [next])
            }
            return rows
        }
        return try rows.map(decode).sorted {
            ($0.validFrom, $0.created, $0.id) < ($1.validFrom, $1.created, $1.id)
        }
    }

    /// Records that `older` was replaced by `newer` (bundle import restores history with it).
    public func link(_ older: Int64, replacedBy newer: Int64, how: Replacement, validTo: Date?) throws {
        try write { db in
            for id in [older, newer] where try Int64.fetchOne(db, sql: "SELECT id FROM item WHERE id = ?", arguments: [id]) == nil {
                throw MemoryError(.notFound, "there is no memory item \(id)")
            }
            try db.execute(sql: "UPDATE item SET replacedBy = ?, replacedHow = ?, validTo = ? WHERE id = ?",
                           arguments: [newer, how.rawValue, validTo?.timeIntervalSince1970, older])
        }
    }
}
