import CKernels
import Foundation

/// Turns text into unit-length vectors (the client supplies the MiniLM sentence encoder). Memory
/// depends only on this protocol, not on any model code.
public protocol TextEmbedder: Sendable {
    var dimension: Int { get }
    func embed(_ texts: [String]) throws -> [[Float]]
}

/// The decrypted embeddings of the store, held in memory only (never written in the clear): one
/// row per item, searched by inner product (= cosine, the vectors being unit length).
///
/// Each row is kept twice: exactly (f32) and as 8-bit codes with a per-row scale (a quarter of the
/// bytes). A search scans the codes (integer dot products, AVX-512 VNNI or AVX2 chosen at run time),
/// keeps the `rerankCandidates(k)` best rows by that approximate score, and ranks those by their
/// exact f32 inner product. The result is the exact top k unless a row of the exact top k scores
/// below that many others after quantisation (errors are ~1e-3 of a cosine, margins far larger;
/// `DenseIndexTests` compares both on a sample). Stores of up to that many rows are ranked exactly.
final class DenseIndex: @unchecked Sendable {
    let dimension: Int
    private let lock = NSLock()
    private var ids: [Int64] = []
    private var rowOf: [Int64: Int] = [:]
    private var matrix: [Float] = []
    /// Row r: bytes X + 128 where x ≈ scales[r] · X, X ∈ [-127, 127].
    private var codes: [UInt8] = []
    private var scales: [Float] = []
    private(set) var isLoaded = false

    init(dimension: Int) { self.dimension = dimension }

    var count: Int { lock.withLock { ids.count } }

    /// Rows re-ranked exactly for a search of the top `k`.
    static func rerankCandidates(_ k: Int) -> Int { max(8 * k, 256) }

    func load(_ rows: [(Int64, [Float])]) {
        lock.withLock {
            ids = []; rowOf = [:]; matrix = []; codes = []; scales = []
            matrix.reserveCapacity(rows.count * dimension)
            codes.reserveCapacity(rows.count * dimension)
            scales.reserveCapacity(rows.count)
            for (id, v) in rows where v.count == dimension { appendLocked(id, v) }
            isLoaded = true
        }
    }

    /// Forgets every row; the next search loads them again.
    func unload() {
        lock.withLock {
            ids = []; rowOf = [:]; matrix = []; codes = []; scales = []
            isLoaded = false
        }
    }

    func add(_ id: Int64, _ v: [Float]) {
        lock.withLock { if isLoaded && v.count == dimension && rowOf[id] == nil { appendLocked(id, v) } }
    }

    private func appendLocked(_ id: Int64, _ v: [Float]) {
        rowOf[id] = ids.count
        ids.append(id)
        matrix += v
        let (scale, bytes) = Self.quantize(v)
        scales.append(scale)
        codes += bytes
    }

    /// x ≈ scale · X with X = round(x / scale) ∈ [-127, 127], scale = max|x| / 127; stored as X + 128.
    static func quantize(_ v: [Float]) -> (scale: Float, bytes: [UInt8]) {
        let m = v.reduce(Float(0)) { max($0, abs($1)) }
        guard m > 0, m.isFinite else { return (0, [UInt8](repeating: 128, count: v.count)) }
        let scale = m / 127
        let inv = 1 / scale
        return (scale, v.map { UInt8(Int(max(-127, min(127, ($0 * inv).rounded()))) + 128) })
    }

    /// Removes rows (swap with the last row: O(1) each).
    func remove(_ removed: [Int64]) {
        lock.withLock {
            let d = dimension
            for id in removed {
                guard let r = rowOf.removeValue(forKey: id) else { continue }
                let last = ids.count - 1
                if r != last {
                    let movedID = ids[last]
                    ids[r] = movedID
                    rowOf[movedID] = r
                    for c in 0..<d {
                        matrix[r * d + c] = matrix[last * d + c]
                        codes[r * d + c] = codes[last * d + c]
                    }
                    scales[r] = scales[last]
                }
                ids.removeLast()
                matrix.removeLast(d)
                codes.removeLast(d)
                scales.removeLast()
            }
        }
    }

    /// The exact cosine of each of `wanted` that has a row (the others are absent from the result).
    func similarities(of wanted: [Int64], to query: [Float]) -> [Int64: Float] {
        lock.withLock {
            guard query.count == dimension else { return [:] }
            var out: [Int64: Float] = [:]
            matrix.withUnsafeBufferPointer { m in
                query.withUnsafeBufferPointer { q in
                    for id in wanted {
                        if let row = rowOf[id] { out[id] = Self.dot(m.baseAddress! + row * dimension, q.baseAddress!, dimension) }
                    }
                }
            }
            return out
        }
    }

    /// The ids of the `k` rows most similar to `query`, best first (ties: the earlier row first).
    func nearest(_ query: [Float], k: Int) -> [(id: Int64, similarity: Float)] {
        lock.withLock {
            let n = ids.count, d = dimension
            guard n > 0, query.count == d, k > 0 else { return [] }
            let r = Self.rerankCandidates(k)
            let candidates: [Int]
            if n <= r {
                candidates = Array(0..<n)
            } else {
                // Approximate scores of every row from the 8-bit codes, the best r kept.
                let (qscale, qbytes) = Self.quantize(query)
                let q = qbytes.map { Int8(Int($0) - 128) }
                var approx = [Float](repeating: 0, count: n)
                codes.withUnsafeBufferPointer { u in
                    scales.withUnsafeBufferPointer { s in
                        q.withUnsafeBufferPointer { qp in
                            approx.withUnsafeMutableBufferPointer { out in
                                pk_u8i8_scores(u.baseAddress!, s.baseAddress!, Int64(n), Int64(d), qp.baseAddress!, qscale, out.baseAddress!)
                            }
                        }
                    }
                }
                candidates = Self.topIndices(approx, r)
            }
            // Exact f32 inner products of the candidates.
            var exact: [(row: Int, similarity: Float)] = matrix.withUnsafeBufferPointer { m in
                query.withUnsafeBufferPointer { q in
                    candidates.map { row in (row, Self.dot(m.baseAddress! + row * d, q.baseAddress!, d)) }
                }
            }
            exact.sort { $0.similarity > $1.similarity || ($0.similarity == $1.similarity && $0.row < $1.row) }
            return exact.prefix(k).map { (ids[$0.row], $0.similarity) }
        }
    }

    /// Indices of the `k` largest values (any order), by a bounded min-heap.
    static func topIndices(_ values: [Float], _ k: Int) -> [Int] {
        guard values.count > k else { return Array(values.indices) }
        // heap[0] is the smallest kept value (ties: the later index is the smaller, so it goes first).
        var heap: [(value: Float, index: Int)] = []
        heap.reserveCapacity(k)
        func less(_ a: (value: Float, index: Int), _ b: (value: Float, index: Int)) -> Bool {
            a.value < b.value || (a.value == b.value && a.index > b.index)
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, less(heap[l], heap[m]) { m = l }
                if r < heap.count, less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for i in 0..<k {
            heap.append((values[i], i))
            var c = i
            while c > 0 {
                let p = (c - 1) / 2
                if !less(heap[c], heap[p]) { break }
                heap.swapAt(c, p)
                c = p
            }
        }
        values.withUnsafeBufferPointer { v in
            for i in k..<v.count where v[i] > heap[0].value {
                heap[0] = (v[i], i)
                siftDown(0)
            }
        }
        return heap.map(\.index)
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }
}

extension Array where Element == Float {
    /// Little-endian f32 bytes, the sealed embedding's plaintext.
    var littleEndianBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count * 4)
        for v in self {
            let bits = v.bitPattern
            out += [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                    UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)]
        }
        return out
    }

    init?(littleEndianBytes bytes: [UInt8]) {
        guard bytes.count % 4 == 0 else { return nil }
        self = stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
    }
}
