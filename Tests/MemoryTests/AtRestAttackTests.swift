import Diagnostics
import Foundation
import GRDB
@testable import Memory
import Seal
import Testing

/// What a thief of the disk (or someone who can write it) could do with the memory file, played
/// out (issue 16, items 9 and 10).
@Suite struct AtRestAttackTests {
    /// The stored tokens of one item, as the file holds them.
    func storedTokens(_ f: StoreFixture, _ id: Int64) throws -> [String] {
        let db = try DatabaseQueue(path: f.path)
        let tokens = try db.read { try String.fetchOne($0, sql: "SELECT tokens FROM item_fts WHERE rowid = ?", arguments: [id]) }
        return (tokens ?? "").split(separator: " ").map(String.init)
    }

    /// Item 9: the index kept every token in text order, repeats and stop words included — a
    /// word-level substitution cipher: someone holding the file could match token sequences and
    /// frequencies against a language's n-grams. Now it holds each distinct token once, sorted (by
    /// keyed hash: no meaning), stop words out.
    @Test func theIndexHoldsNoWordOrderRepeatsOrStopWords() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        let text = "The dog chased the cat and the dog barked at the cat in the garden"
        let id = try store.add(note(text))
        let stored = try storedTokens(f, id)
        #expect(stored == stored.sorted())
        #expect(Set(stored).count == stored.count)
        let expected = Set(["dog", "chased", "cat", "barked", "garden"].map(store.index.token(for:)))
        #expect(Set(stored) == expected)
        for stop in ["the", "and", "at", "in"] { #expect(!stored.contains(store.index.token(for: stop))) }
        // What the old index gave away: "the dog" as two tokens in a row, anywhere in the file.
        let pair = store.index.token(for: "the") + " " + store.index.token(for: "dog")
        let ordered = ["dog", "chased"].map(store.index.token(for:)).joined(separator: " ")
        try store.compact()
        for (name, bytes) in try f.allBytes() {
            #expect(bytes.range(of: Data(pair.utf8)) == nil, "\(name) holds a stop word's token")
            if expected.sorted().joined(separator: " ").contains(ordered) { continue }   // sorted order happens to agree
            #expect(bytes.range(of: Data(ordered.utf8)) == nil, "\(name) holds tokens in text order")
        }
        // Search still works on the distinct tokens.
        #expect(try store.search("cat garden").first?.item.id == id)
    }

    /// A store written by an earlier version (ordered tokens with repeats and stop words) is rewritten
    /// on open, and the old token sequences are gone from every file.
    @Test func anOldIndexIsRewrittenWithoutItsOrder() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let text = "my sister lives in Lyon and my brother lives in Porto"
        var ordered = ""
        var id: Int64 = 0
        do {
            let store = try f.open()
            id = try store.add(note(text))
            ordered = BlindIndex.terms(in: text).map(store.index.token(for:)).joined(separator: " ")
            try store.write { db in
                try db.execute(sql: "UPDATE item_fts SET tokens = ? WHERE rowid = ?", arguments: [ordered, id])
                try store.setCounter(db, "content-version", 1)
            }
            try store.compact()
        }
        #expect(try f.allBytes().contains { $0.1.range(of: Data(ordered.utf8)) != nil })
        let store = try f.open()
        let stored = try storedTokens(f, id)
        #expect(stored == stored.sorted() && Set(stored).count == stored.count)
        #expect(Set(stored) == Set(["sister", "lives", "lyon", "brother", "porto"].map(store.index.token(for:))))
        for (name, bytes) in try f.allBytes() {
            #expect(bytes.range(of: Data(ordered.utf8)) == nil, "\(name) still holds the old token order")
        }
        #expect(try store.search("where does my brother live").first?.item.id == id)
    }

    /// Item 10: ids were MAX(id) + 1, so after the newest item was forgotten the next one took its id
    /// (and version 1), and the forgotten item's old ciphertext, copied before, authenticated again in
    /// the new item's row. Ids are never reused now, so the copy fails authentication.
    @Test func aForgottenItemsCiphertextCannotBePutBackIntoANewItem() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        _ = try store.add(note("the first note"))
        let secret = try store.add(note("the locker code is 4512"))
        let db = try DatabaseQueue(path: f.path)
        let copied = try db.read { try Data.fetchOne($0, sql: "SELECT content FROM item WHERE id = ?", arguments: [secret]) }
        try store.forget([secret])
        let newer = try store.add(note("the gym moved to Elm Street"))
        #expect(newer > secret)
        // A reopened store keeps counting past the forgotten id.
        let reopened = try f.open()
        let newest = try reopened.add(note("another note entirely"))
        #expect(newest > newer)
        try db.write { try $0.execute(sql: "UPDATE item SET content = ? WHERE id = ?", arguments: [copied, newer]) }
        do {
            _ = try reopened.item(newer)
            Issue.record("an old ciphertext must not open in another item's row")
        } catch let e as MemoryError {
            #expect(e.code == .corrupt)
        }
    }

    /// A store from before the id counter (the found case: an older home, its newest note forgotten
    /// with the new build, then a new note) continues past the forgotten id too.
    @Test func aStoreFromBeforeTheCounterDoesNotReuseItsNewestId() throws {
        let f = try StoreFixture(); defer { f.remove() }
        var newest: Int64 = 0
        do {
            let store = try f.open()
            _ = try store.add(note("my sister lives in Lisbon"))
            newest = try store.add(note("the locker code at the gym is 4512"))
            try store.write { db in
                try db.execute(sql: "DELETE FROM meta WHERE key = 'last-item-id'")
                try store.setCounter(db, "content-version", 1)
            }
        }
        let store = try f.open()
        try store.forget([newest])
        #expect(try store.add(note("the bike lock code is 1234")) > newest)
    }
}
