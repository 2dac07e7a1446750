import Foundation
import Tensor

/// Turns text into unit-length vectors (the client supplies the MiniLM sentence encoder). Memory
/// depends only on this protocol, not on any model code.
public protocol TextEmbedder: Sendable {
    var dimension: Int { get }
    func embed(_ texts: [String]) throws -> [[Float]]
}

/// The decrypted embeddings of the store, held in memory only (never written in the clear): one
/// row per item, searched by inner product (= cosine, the vectors being unit length).
final class DenseIndex: @unchecked Sendable {
    let dimension: Int
    private let lock = NSLock()
    private var ids: [Int64] = []
    private var rowOf: [Int64: Int] = [:]
    private var matrix: [Float] = []
    private(set) var isLoaded = false

    init(dimension: Int) { self.dimension = dimension }

    func load(_ rows: [(Int64, [Float])]) {
        lock.withLock {
            ids = []; rowOf = [:]; matrix = []
            matrix.reserveCapacity(rows.count * dimension)
            for (id, v) in rows where v.count == dimension { appendLocked(id, v) }
            isLoaded = true
        }
    }

    func add(_ id: Int64, _ v: [Float]) {
        lock.withLock { if isLoaded && v.count == dimension && rowOf[id] == nil { appendLocked(id, v) } }
    }

    private func appendLocked(_ id: Int64, _ v: [Float]) {
        rowOf[id] = ids.count
        ids.append(id)
        matrix += v
    }

    /// Removes rows (swap with the last row: O(1) each).
    func remove(_ removed: [Int64]) {
        lock.withLock {
            for id in removed {
                guard let r = rowOf.removeValue(forKey: id) else { continue }
                let last = ids.count - 1
                if r != last {
                    let movedID = ids[last]
                    ids[r] = movedID
                    rowOf[movedID] = r
                    for c in 0..<dimension { matrix[r * dimension + c] = matrix[last * dimension + c] }
                }
                ids.removeLast()
                matrix.removeLast(dimension)
            }
        }
    }

    /// The ids of the `k` rows most similar to `query`, best first.
    func nearest(_ query: [Float], k: Int) -> [(id: Int64, similarity: Float)] {
        lock.withLock {
            let n = ids.count
            guard n > 0, query.count == dimension, k > 0 else { return [] }
            var scores = [Float](repeating: 0, count: n)
            // scores (n) = matrix (n, d) · query (d)
            matrix.withUnsafeBufferPointer { m in
                query.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { s in
                        BLAS.sgemv(m: n, n: dimension, a: m.baseAddress!, lda: dimension, x: q.baseAddress!, y: s.baseAddress!)
                    }
                }
            }
            // Partial selection of the top k.
            var best: [(id: Int64, similarity: Float)] = []
            best.reserveCapacity(k + 1)
            for i in 0..<n {
                let s = scores[i]
                if best.count == k, s <= best[k - 1].similarity { continue }
                var lo = 0, hi = best.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if best[mid].similarity >= s { lo = mid + 1 } else { hi = mid }
                }
                best.insert((ids[i], s), at: lo)
                if best.count > k { best.removeLast() }
            }
            return best
        }
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
