import ArgumentParser
import Foundation
import Memory
import Seal

struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Sealed insert rate and search latency of the private memory store.")

    @Option(help: "Store sizes to measure, comma-separated.")
    var items: String = "10000,100000"
    @Option(help: "Searches per size (p50/p99 over them).")
    var queries: Int = 200
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Row: Codable {
        var items: Int
        var insertsPerSecond: Double
        var searchP50Milliseconds: Double
        var searchP99Milliseconds: Double
        var fileMegabytes: Double
    }

    func validate() throws {
        guard items.split(separator: ",").allSatisfy({ Int($0).map { $0 > 0 } ?? false }) else {
            throw ValidationError("Please give --items as positive numbers separated by commas.")
        }
        guard queries > 0 else { throw ValidationError("Please give --queries above 0.") }
    }

    func run() throws {
        var rows: [Row] = []
        for n in items.split(separator: ",").compactMap({ Int($0) }) {
            rows.append(try measure(n))
            let r = rows.last!
            if !json {
                print(String(format: "%7d items: %8.0f sealed inserts/s   search p50 %6.2f ms  p99 %6.2f ms   file %.1f MB",
                             r.items, r.insertsPerSecond, r.searchP50Milliseconds, r.searchP99Milliseconds, r.fileMegabytes))
            }
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(["memory": rows]), as: UTF8.self))
        }
    }

    /// Synthetic English-like items from a fixed vocabulary with a Zipf-like word distribution,
    /// so common words are common (as in real notes) and searches hit realistic posting lists.
    func measure(_ n: Int) throws -> Row {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pbench-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try MemoryStore(path: dir.appendingPathComponent("memory.sqlite").path, key: DataKey.generate())
        var rng = SplitMix(seed: 7)
        let words = Self.vocabulary
        func sentence(_ length: Int) -> String {
            (0..<length).map { _ in
                // Zipf-ish: squaring a uniform favours low indices (common words).
                let u = rng.unit()
                return words[min(words.count - 1, Int(u * u * Double(words.count)))]
            }.joined(separator: " ")
        }
        let batch = 1000
        var inserted = 0
        let t0 = Date()
        while inserted < n {
            let k = min(batch, n - inserted)
            try store.add((0..<k).map { i in
                NewItem(kind: .behaviour, content: ItemContent(text: sentence(18) + " #\(inserted + i)", output: sentence(2)))
            })
            inserted += k
        }
        let insertSeconds = Date().timeIntervalSince(t0)
        var latencies: [Double] = []
        for _ in 0..<queries {
            let q = "what did I say about " + sentence(4)
            let s = Date()
            _ = try store.search(q, limit: 10, rehearse: false)
            latencies.append(Date().timeIntervalSince(s) * 1000)
        }
        latencies.sort()
        let stats = try store.stats()
        return Row(items: n, insertsPerSecond: Double(n) / insertSeconds,
                   searchP50Milliseconds: latencies[latencies.count / 2],
                   searchP99Milliseconds: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
                   fileMegabytes: Double(stats.fileBytes) / 1e6)
    }

    static let vocabulary: [String] = {
        let base = """
            the a to and of in I is that it for you was with on my have be at not this but had are we they
            so me what all there just can like do about if one from he out up when an or your more time she
            would get will been people how know their did them which think go good day then now were see
            film movie story love family friend house work city music book food travel night world life
            school coffee garden rain winter summer dog cat car train plan meeting doctor birthday sister
            brother mother father weekend project report email phone dinner lunch market river mountain
            beach island museum painting concert recipe bread cheese wine tea chocolate bicycle football
            tennis chess guitar piano camera letter holiday hospital airport station bridge forest desert
            """.split(whereSeparator: \.isWhitespace).map(String.init)
        // Rarer words after the common ones.
        let rare = (0..<3000).map { "term\($0)" }
        return base + rare
    }()
}

/// A small seeded generator for benchmark data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
