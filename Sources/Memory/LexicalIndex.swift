import Diagnostics
import Foundation

/// A blind token (32 lower-case hex characters, see `BlindIndex`) as its 16 bytes.
struct BlindTerm: Hashable {
    var hi: UInt64
    var lo: UInt64

    /// nil unless `hex` is exactly 32 hex digits.
    init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == 32 else { return nil }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<32 {
            let c = hex[i]
            let v: UInt64
            switch c {
            case 48...57: v = UInt64(c - 48)
            case 97...102: v = UInt64(c - 87)
            case 65...70: v = UInt64(c - 55)
            default: return nil
            }
            if i < 16 { hi = hi << 4 | v } else { lo = lo << 4 | v }
        }
        self.hi = hi
        self.lo = lo
    }

    init?(_ hex: String) {
        var s = hex
        guard let t = s.withUTF8({ BlindTerm(hex: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = t
    }
}

/// The FTS5 index's contents held in memory (blind tokens only: keyed hashes, never words), for
/// BM25 over OR queries without FTS5's per-row cost. FTS5 scores every row that matches any query
/// term through its `bm25()` auxiliary function (~5 µs a row; 25 ms for the ~5,000 rows a query
/// of frequent words matches in 100k items); here a query walks the terms' posting lists and adds
/// the same per-term contributions into an array.
///
/// Scores are FTS5's `bm25()` exactly (k1 = 1.2, b = 0.75, IDF = ln((N − n + 0.5) / (n + 0.5)) with
/// 1e-6 for IDF ≤ 0, terms added in query order, in Double), returned as FTS5's `rank` (the negated
/// score: lower is better). Ties are broken by item id (FTS5 leaves their order unspecified).
final class LexicalIndex: @unchecked Sendable {
    struct Posting {
        var slot: UInt32
        var count: UInt32
    }

    private let lock = NSLock()
    private(set) var isLoaded = false
    private var termOf: [BlindTerm: Int32] = [:]
    private var postings: [[Posting]] = []
    /// Live rows holding each term.
    private var documentFrequency: [Int32] = []
    private var slotID: [Int64] = []
    /// Tokens in each row; -1 once the row is removed (its postings stay until the next load).
    private var slotLength: [Int32] = []
    /// The distinct terms of each row: slotTerms[slotTermStart[s] ..< slotTermStart[s + 1]].
    private var slotTermStart: [Int] = [0]
    private var slotTerms: [Int32] = []
    private var slotOf: [Int64: Int32] = [:]
    private var liveRows = 0
    private var totalTokens = 0
    private var removedRows = 0
    /// Per-slot scratch for a query, all zero between queries.
    private var scratch: [Double] = []
    /// Scratch for the terms of the row being added.
    private var rowTerms: [Int32] = []

    static let k1 = 1.2
    static let b = 0.75

    /// Replaces the contents with `rows` (id, the space-separated tokens as stored in FTS5).
    /// Throws `MemoryError(.corrupt)` if a token is not a blind token.
    func load(_ fill: (_ add: (Int64, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try lock.withLock {
            clearLocked()
            do {
                try fill { id, bytes in try addLocked(id, bytes) }
            } catch {
                clearLocked()
                throw error
            }
            isLoaded = true
        }
    }

    func unload() {
        lock.withLock { clearLocked() }
    }

    private func clearLocked() {
        termOf = [:]; postings = []; documentFrequency = []
        slotID = []; slotLength = []; slotTermStart = [0]; slotTerms = []; slotOf = [:]
        liveRows = 0; totalTokens = 0; removedRows = 0; scratch = []
        isLoaded = false
    }

    /// Adds a row just written to FTS5 (ignored when the index is not loaded: the next load reads it).
    func add(_ id: Int64, tokens: String) throws {
        try lock.withLock {
            guard isLoaded else { return }
            var s = tokens
            try s.withUTF8 { try addLocked(id, UnsafeRawBufferPointer($0)) }
        }
    }

    private func addLocked(_ id: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        guard slotOf[id] == nil else { return }
        let slot = UInt32(slotID.count)
        // The row's term ids (tokens are separated by spaces), then each distinct one counted.
        rowTerms.removeAll(keepingCapacity: true)
        var start = 0
        let n = bytes.count
        while start < n {
            var end = start
            while end < n && bytes[end] != 32 { end += 1 }
            if end > start {
                guard let term = BlindTerm(hex: UnsafeRawBufferPointer(rebasing: bytes[start..<end])) else {
                    throw MemoryError(.corrupt, "the search index of memory item \(id) holds something other than blind tokens")
                }
                let t: Int32
                if let known = termOf[term] {
                    t = known
                } else {
                    t = Int32(postings.count)
                    termOf[term] = t
                    postings.append([])
                    documentFrequency.append(0)
                }
                rowTerms.append(t)
            }
            start = end + 1
        }
        let length = Int32(rowTerms.count)
        rowTerms.sort()
        var i = 0
        while i < rowTerms.count {
            let t = rowTerms[i]
            var j = i + 1
            while j < rowTerms.count && rowTerms[j] == t { j += 1 }
            postings[Int(t)].append(Posting(slot: slot, count: UInt32(j - i)))
            documentFrequency[Int(t)] += 1
            slotTerms.append(t)
            i = j
        }
        slotTermStart.append(slotTerms.count)
        slotID.append(id)
        slotLength.append(length)
        slotOf[id] = Int32(slot)
        scratch.append(0)
        liveRows += 1
        totalTokens += Int(length)
    }

    /// Removes rows. When removed rows outnumber a quarter of the live ones, the index unloads
    /// itself and the next search reloads it from FTS5 (dropping the dead postings).
    func remove(_ ids: [Int64]) {
        lock.withLock {
            guard isLoaded else { return }
            for id in ids {
                guard let slot = slotOf.removeValue(forKey: id) else { continue }
                let s = Int(slot)
                for i in slotTermStart[s]..<slotTermStart[s + 1] { documentFrequency[Int(slotTerms[i])] -= 1 }
                totalTokens -= Int(slotLength[s])
                slotLength[s] = -1
                liveRows -= 1
                removedRows += 1
            }
            if removedRows > 1024 && removedRows > liveRows / 4 { clearLocked() }
        }
    }

    /// Rows holding `token` (nil if the token is not in the index, or not a blind token).
    func documentFrequency(of token: String) -> Int? {
        guard let term = BlindTerm(token) else { return nil }
        return lock.withLock {
            guard let t = termOf[term] else { return nil }
            let n = Int(documentFrequency[Int(t)])
            return n > 0 ? n : nil
        }
    }

    var rowCount: Int { lock.withLock { liveRows } }

    /// The `limit` best rows for `tokens` OR-ed, best first, with their FTS5 rank (−bm25).
    func search(_ tokens: [String], limit: Int) -> [(id: Int64, rank: Double)] {
        let terms = tokens.compactMap(BlindTerm.init)
        return lock.withLock {
            guard limit > 0, liveRows > 0 else { return [] }
            let nRow = liveRows
            let avgdl = Double(totalTokens) / Double(nRow)
            let k1 = Self.k1, b = Self.b
            var touched: [UInt32] = []
            scratch.withUnsafeMutableBufferPointer { score in
                for term in terms {
                    guard let t = termOf[term] else { continue }
                    let nHit = Int(documentFrequency[Int(t)])
                    guard nHit > 0 else { continue }
                    var idf = log((Double(nRow - nHit) + 0.5) / (Double(nHit) + 0.5))
                    if idf <= 0 { idf = 1e-6 }
                    postings[Int(t)].withUnsafeBufferPointer { list in
                        slotLength.withUnsafeBufferPointer { lengths in
                            for p in list {
                                let d = lengths[Int(p.slot)]
                                if d < 0 { continue }
                                let f = Double(p.count)
                                if score[Int(p.slot)] == 0 { touched.append(p.slot) }
                                score[Int(p.slot)] += idf * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * Double(d) / avgdl)))
                            }
                        }
                    }
                }
            }
            var hits = touched.map { (id: slotID[Int($0)], rank: -1.0 * scratch[Int($0)]) }
            for s in touched { scratch[Int(s)] = 0 }
            if hits.count > limit {
                // Partial selection, then a sort of the kept part.
                let kth = Self.kthSmallest(hits.map(\.rank), limit)
                var kept = hits.filter { $0.rank < kth }
                kept += hits.filter { $0.rank == kth }
                hits = kept
            }
            hits.sort { $0.rank < $1.rank || ($0.rank == $1.rank && $0.id < $1.id) }
            return Array(hits.prefix(limit))
        }
    }

    /// The k-th smallest value (1-based) of `values` (k ≤ count), by quickselect.
    static func kthSmallest(_ values: [Double], _ k: Int) -> Double {
        var a = values
        var lo = 0, hi = a.count - 1
        let target = k - 1
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}
