import Foundation
import Memory
import Seal
import Testing

/// A toy embedder in which synonyms share a dimension: dense retrieval finds what BM25 cannot.
struct SynonymEmbedder: TextEmbedder {
    static let groups: [[String]] = [
        ["car", "automobile", "vehicle", "sedan"],
        ["dog", "puppy", "hound"],
        ["doctor", "physician", "clinic"],
        ["holiday", "vacation", "trip"],
    ]
    var dimension: Int { Self.groups.count + 1 }

    func embed(_ texts: [String]) throws -> [[Float]] {
        texts.map { text in
            var v = [Float](repeating: 0, count: dimension)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
                if let g = Self.groups.firstIndex(where: { $0.contains(String(word)) }) { v[g] += 1 }
            }
            v[dimension - 1] = 0.1   // never the zero vector
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
    }
}

struct HybridSearchTests {
    func open(_ f: StoreFixture) throws -> MemoryStore {
        let clock = f.clock
        return try MemoryStore(path: f.path, key: f.key, embedder: SynonymEmbedder(), clock: { clock.now })
    }

    @Test func denseRetrievalFindsWhatWordsMiss() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try open(f)
        let ids = try store.add([
            note("My sedan broke down on the motorway"),
            note("The puppy chewed my slippers"),
            note("Book the physician for Thursday"),
        ])
        // No word in common with the query: only the dense list can find it.
        let hits = try store.search("automobile repair", limit: 2)
        #expect(hits.first?.item.id == ids[0])
        // Lexical and dense agree: the item on both lists ranks first.
        let both = try store.search("puppy hound")
        #expect(both.first?.item.id == ids[1])
    }

    @Test func embeddingsAreSealedAndReloaded() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let id = try open(f).add(note("Planning a vacation in Crete"))
        // A new process: the dense index is rebuilt from the sealed column.
        let reopened = try open(f)
        #expect(try reopened.search("holiday", limit: 1).first?.item.id == id)
        // Items stored before an encoder existed get embeddings on request.
        let plain = try f.open()
        let old = try plain.add(note("Took the dog to the vet"))
        let withEncoder = try open(f)
        #expect(try withEncoder.search("hound", limit: 1).first?.item.id != old)
        #expect(try withEncoder.embedMissing() == 1)
        #expect(try withEncoder.search("hound", limit: 1).first?.item.id == old)
    }

    @Test func forgottenItemsLeaveTheDenseIndex() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try open(f)
        let id = try store.add(note("Renting a car in Lisbon"))
        #expect(try store.search("vehicle").map(\.item.id) == [id])
        try store.forget([id])
        #expect(try store.search("vehicle").isEmpty)
    }

    @Test func aTamperedEmbeddingIsAnError() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try open(f)
        let a = try store.add(note("physician appointment"))
        let b = try store.add(note("dog walking"))
        try SQLiteShell(path: f.path).run("UPDATE item SET embedding = (SELECT embedding FROM item WHERE id = \(b)) WHERE id = \(a)")
        #expect(throws: MemoryError.self) { try open(f).search("doctor") }
    }
}
