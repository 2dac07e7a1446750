// Byte-pair merging of one pre-tokenized word. Symbols start as the single-byte tokens; at each step
// the adjacent pair with the lowest merge rank is merged, the leftmost one on ties (llama.cpp's
// llm_tokenizer_bpe_session and HF tokenizers agree on this order). A min-heap of candidate pairs
// makes a word of n bytes cost O(n log n); stale candidates are dropped when popped.
struct MergeTable: Sendable {
    /// (left id << 32 | right id) -> (rank << 32 | merged id)
    private var pairs: [UInt64: UInt64] = [:]

    var count: Int { pairs.count }

    init() {}

    /// Keeps the first (best-ranked) entry when a pair is listed twice.
    mutating func add(left: Int, right: Int, merged: Int, rank: Int) {
        let key = UInt64(left) << 32 | UInt64(right)
        if pairs[key] == nil {
            pairs[key] = UInt64(rank) << 32 | UInt64(merged)
        }
    }

    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: UInt32, merged: Int32)? {
        guard let value = pairs[UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))] else {
            return nil
        }
        return (UInt32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value & 0xFFFF_FFFF))
    }
}

/// Scratch buffers reused across the words of one `encode` call.
struct BPEMerger {
    private struct Candidate {
        var key: UInt64  // rank << 32 | left position: the heap order
        var right: Int32
        var leftID: Int32
        var rightID: Int32
    }

    private var ids: [Int32] = []
    private var previous: [Int32] = []
    private var next: [Int32] = []
    private var heap: [Candidate] = []

    /// Merges `symbols` (token ids of single bytes; negative = no token) and appends the result.
    mutating func merge(_ symbols: some Collection<Int32>, table: MergeTable, into output: inout [Int32]) {
        let count = symbols.count
        ids.removeAll(keepingCapacity: true)
        ids.append(contentsOf: symbols)
        if count < 2 {
            output.append(contentsOf: ids)
            return
        }
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for i in 0..<count {
            previous.append(Int32(i - 1))
            next.append(Int32(i + 1))
        }
        for i in 0..<(count - 1) { consider(Int32(i), Int32(i + 1), table) }

        while let candidate = popMin() {
            let left = Int(candidate.key & 0xFFFF_FFFF)
            let right = Int(candidate.right)
            guard ids[left] == candidate.leftID, ids[right] == candidate.rightID, next[left] == candidate.right,
                  let (_, merged) = table.lookup(candidate.leftID, candidate.rightID)
            else { continue }
            ids[left] = merged
            ids[right] = -1
            let after = next[right]
            next[left] = after
            if Int(after) < count { previous[Int(after)] = Int32(left) }
            if previous[left] >= 0 { consider(previous[left], Int32(left), table) }
            if Int(after) < count { consider(Int32(left), after, table) }
        }

        var position = 0
        while position < count {
            output.append(ids[position])
            position = Int(next[position])
        }
    }

    private mutating func consider(_ left: Int32, _ right: Int32, _ table: MergeTable) {
        let leftID = ids[Int(left)], rightID = ids[Int(right)]
        guard leftID >= 0, rightID >= 0, let (rank, _) = table.lookup(leftID, rightID) else { return }
        push(Candidate(key: UInt64(rank) << 32 | UInt64(left), right: right, leftID: leftID, rightID: rightID))
    }

    private mutating func push(_ candidate: Candidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if heap[parent].key <= heap[child].key { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func popMin() -> Candidate? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var smallest = left
            if left + 1 < count && heap[left + 1].key < heap[left].key { smallest = left + 1 }
            if heap[parent].key <= heap[smallest].key { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
