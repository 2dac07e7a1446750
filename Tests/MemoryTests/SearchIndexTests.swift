import CKernels
import Foundation
@testable import Memory
import Randomness
import Seal
import Testing

extension SplitMix64 {
    /// A word from a Zipf-like vocabulary: common words are common, as in real notes.
    mutating func word() -> String {
        let u = nextDouble()
        return "w\(Int(u * u * 600))"
    }

    mutating func unitVector(_ d: Int) -> [Float] {
        let v = (0..<d).map { _ in Float(nextDouble() - 0.5) }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return v.map { $0 / n }
    }
}

struct SearchIndexTests {
    /// The in-memory BM25 (what search uses) against FTS5's own `ORDER BY rank`, on a store with
    /// Zipf-distributed words, after some items were forgotten: same items, same scores.
    @Test func inMemoryBM25MatchesFTS5() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let store = try f.open()
        var rng = SplitMix64(seed: 11)
        var items: [NewItem] = []
        for i in 0..<1500 {
            let length = 3 + Int(rng.nextDouble() * 25)
            items.append(note((0..<length).map { _ in rng.word() }.joined(separator: " ") + " n\(i)"))
        }
        let ids = try store.add(items)
        // The in-memory index is loaded now, then follows forgets and adds.
        _ = try store.searchTokens("w1 w2")
        try store.forget(Array(ids[100..<160]))
        try store.add((0..<40).map { i in note("w3 w5 w8 w13 later item \(i) " + (0..<8).map { _ in rng.word() }.joined(separator: " ")) })
        var compared = 0
        for q in 0..<40 {
            let query = (0..<(1 + q % 6)).map { _ in rng.word() }.joined(separator: " ")
            let tokens = try store.searchTokens(query)
            let fast = try store.bm25Ranking(tokens, limit: 50, inMemory: true)
            let slow = try store.bm25Ranking(tokens, limit: 50, inMemory: false)
            #expect(fast.count == slow.count, "query \(query)")
            guard fast.count == slow.count, !fast.isEmpty else { continue }
            for (a, b) in zip(fast, slow) {
                #expect(abs(a.rank - b.rank) <= 1e-12 * abs(b.rank), "query \(query): rank \(a.rank) vs \(b.rank)")
            }
            // The same items (FTS5 orders ties arbitrarily: compare the rows that beat the last score).
            let last = slow.last!.rank
            let strictFast = Set(fast.filter { $0.rank < last - 1e-12 * abs(last) }.map(\.id))
            let strictSlow = Set(slow.filter { $0.rank < last - 1e-12 * abs(last) }.map(\.id))
            #expect(strictFast == strictSlow, "query \(query)")
            // And each reported score is that item's FTS5 score.
            let slowRank = Dictionary(uniqueKeysWithValues: slow.map { ($0.id, $0.rank) })
            for a in fast { if let r = slowRank[a.id] { #expect(abs(a.rank - r) <= 1e-12 * abs(r)) } }
            compared += 1
        }
        #expect(compared > 30)
    }

    /// Writes through another store object (another connection: another process in real use) are
    /// seen by the next search of an already loaded store.
    @Test func anotherConnectionsWritesAreSeen() throws {
        let f = try StoreFixture(); defer { f.remove() }
        let a = try f.open()
        try a.add(note("Walking the dog in the park"))
        #expect(try a.search("zebra", rehearse: false).isEmpty)
        let b = try f.open()
        let zebra = try b.add(note("A zebra crossing near the physician"))
        #expect(try a.search("zebra", rehearse: false).map(\.item.id) == [zebra])
        try b.forget([zebra])
        #expect(try a.search("zebra", rehearse: false).isEmpty)
        // Items the loaded store adds itself are searchable at once.
        let own = try a.add(note("Zebra stripes again"))
        #expect(try a.search("zebra", rehearse: false).map(\.item.id) == [own])

        // The dense index too: embeddings written by another store object are loaded.
        let clock = f.clock
        let c = try MemoryStore(path: f.path, key: f.key, embedder: SynonymEmbedder(), clock: { clock.now })
        #expect(try c.search("clinic", limit: 1, rehearse: false).first?.item.id != zebra)
        let d = try MemoryStore(path: f.path, key: f.key, embedder: SynonymEmbedder(), clock: { clock.now })
        let doctor = try d.add(note("Appointment with the physician"))
        #expect(try c.search("clinic", limit: 1, rehearse: false).first?.item.id == doctor)
    }

    /// The 8-bit scan plus exact re-ranking returns exactly what an exhaustive f32 search does.
    @Test func denseNearestMatchesExhaustiveSearch() {
        let d = 384
        var rng = SplitMix64(seed: 5)
        let index = DenseIndex(dimension: d)
        var rows: [(Int64, [Float])] = []
        for i in 0..<3000 { rows.append((Int64(i + 1), rng.unitVector(d))) }
        // Near-duplicates: the hardest case for an approximate first pass.
        for i in 0..<200 {
            let base = rows[i].1
            let noise = rng.unitVector(d)
            var v = zip(base, noise).map { $0 + 0.05 * $1 }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / n }
            rows.append((Int64(10_000 + i), v))
        }
        index.load(rows)
        for q in 0..<30 {
            var query = q % 2 == 0 ? rng.unitVector(d) : rows[q].1
            if q % 3 == 0 { query = query.map { $0 * 0.5 } }   // not unit length: still inner products
            let got = index.nearest(query, k: 50)
            let exact = rows.map { ($0.0, zip($0.1, query).reduce(Float(0)) { $0 + $1.0 * $1.1 }) }
                .sorted { $0.1 > $1.1 }.prefix(50)
            #expect(got.map(\.id) == exact.map(\.0), "query \(q)")
            for (g, e) in zip(got, exact) { #expect(abs(g.similarity - e.1) < 1e-5) }
        }
        // Removal keeps the rows and their codes together.
        index.remove(Array(rows.prefix(1000).map(\.0)))
        let query = rows[1500].1
        #expect(index.nearest(query, k: 1).first?.id == rows[1500].0)
        #expect(index.count == 2200)
    }

    /// Every kernel the CPU supports returns the scalar kernel's scores bit for bit, and those are
    /// the integer dot products scaled (extreme bytes included).
    @Test func vectorKernelsAgree() {
        defer { _ = pk_vsearch_set_isa("auto") }
        var rng = SplitMix64(seed: 9)
        for dim in [1, 31, 63, 64, 65, 100, 384, 385] {
            let rows = 37
            var u = (0..<(rows * dim)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var q = (0..<dim).map { _ in Int8(truncatingIfNeeded: rng.next()) }
            u[0] = 0; u[1 % u.count] = 255; q[0] = -128
            let scales = (0..<rows).map { _ in Float(rng.nextDouble()) }
            func run(_ isa: String) -> [Float]? {
                guard pk_vsearch_set_isa(isa) == 0 else { return nil }
                var out = [Float](repeating: .nan, count: rows)
                pk_u8i8_scores(u, scales, Int64(rows), Int64(dim), q, 0.25, &out)
                return out
            }
            let reference = run("scalar")!
            for r in 0..<rows {
                var s: Int32 = 0
                for j in 0..<dim { s += (Int32(u[r * dim + j]) - 128) * Int32(q[j]) }
                #expect(reference[r] == Float(s) * scales[r] * 0.25)
            }
            for isa in ["avx2", "avx512vnni"] {
                if let out = run(isa) { #expect(out == reference, "\(isa), dim \(dim)") }
            }
        }
    }
}
