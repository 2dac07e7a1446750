import ArgumentParser
import Foundation
import LLM
import Memory
import Personalization
import Randomness
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
    @Flag(name: .customLong("no-encoder"), help: "Measure BM25 only, without the sentence encoder.")
    var noEncoder = false
    @Option(help: "The sentence-encoder folder (default: $PCLIENT_ENCODER, then the cache).")
    var encoder: String?

    struct Row: Codable {
        var items: Int
        var insertsPerSecond: Double
        var searchP50Milliseconds: Double
        var searchP99Milliseconds: Double
        /// Process CPU time per search (all threads): what the search costs without other load.
        var searchCPUP50Milliseconds: Double
        var searchCPUP99Milliseconds: Double
        /// The first two searches of a fresh store object (the second loads the in-memory BM25 index).
        var lexicalIndexLoadSeconds: Double
        var hybridSearchP50Milliseconds: Double?
        var hybridSearchP99Milliseconds: Double?
        var hybridSearchCPUP50Milliseconds: Double?
        var hybridSearchCPUP99Milliseconds: Double?
        /// The first two hybrid searches: they decrypt every embedding and load the BM25 index.
        var denseIndexLoadSeconds: Double?
        var fileMegabytes: Double
    }

    struct EncoderFigures: Codable {
        var sentencesPerSecondOneAtATime: Double
        var sentencesPerSecondBatch32: Double
        var sealedInsertsPerSecondWithEmbeddings: Double
    }

    /// Stand-in stored vectors for large stores (embedding 100k real sentences would take minutes):
    /// search cost does not depend on what the stored vectors are.
    struct RandomEmbedder: TextEmbedder {
        let dimension: Int
        func embed(_ texts: [String]) throws -> [[Float]] {
            texts.map { t in
                var rng = SplitMix64(seed: UInt64(bitPattern: Int64(t.hashValue)))
                var v = (0..<dimension).map { _ in Float(rng.nextDouble() - 0.5) }
                let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for i in v.indices { v[i] /= n }
                return v
            }
        }
    }

    func validate() throws {
        guard items.split(separator: ",").allSatisfy({ Int($0).map { $0 > 0 } ?? false }) else {
            throw ValidationError("Please give --items as positive numbers separated by commas.")
        }
        guard queries > 0 else { throw ValidationError("Please give --queries above 0.") }
    }

    func run() throws {
        let sentenceEncoder: SentenceEncoder? = noEncoder ? nil
            : try SentenceEncoder(directory: SentenceEncoder.locate(explicit: encoder, environment: ProcessInfo.processInfo.environment))
        var figures: EncoderFigures?
        if let sentenceEncoder {
            figures = try measureEncoder(sentenceEncoder)
            if !json, let f = figures {
                print(String(format: "encoder: %.0f sentences/s one at a time, %.0f/s in batches of 32; sealed inserts with embeddings %.0f/s",
                             f.sentencesPerSecondOneAtATime, f.sentencesPerSecondBatch32, f.sealedInsertsPerSecondWithEmbeddings))
            }
        }
        var rows: [Row] = []
        for n in items.split(separator: ",").compactMap({ Int($0) }) {
            rows.append(try measure(n, encoder: sentenceEncoder))
            let r = rows.last!
            if !json {
                var line = String(format: "%7d items: %8.0f sealed inserts/s   BM25 search p50 %6.2f ms  p99 %6.2f ms (CPU %.2f / %.2f ms; index load %.2f s)",
                                  r.items, r.insertsPerSecond, r.searchP50Milliseconds, r.searchP99Milliseconds,
                                  r.searchCPUP50Milliseconds, r.searchCPUP99Milliseconds, r.lexicalIndexLoadSeconds)
                if let p50 = r.hybridSearchP50Milliseconds, let p99 = r.hybridSearchP99Milliseconds, let load = r.denseIndexLoadSeconds,
                   let c50 = r.hybridSearchCPUP50Milliseconds, let c99 = r.hybridSearchCPUP99Milliseconds {
                    line += String(format: "   hybrid p50 %6.2f ms  p99 %6.2f ms (CPU %.2f / %.2f ms; index load %.2f s)", p50, p99, c50, c99, load)
                }
                print(line + String(format: "   file %.1f MB", r.fileMegabytes))
            }
        }
        if json {
            struct Output: Codable { var memory: [Row]; var encoder: EncoderFigures? }
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(Output(memory: rows, encoder: figures)), as: UTF8.self))
        }
    }

    func measureEncoder(_ encoder: SentenceEncoder) throws -> EncoderFigures {
        var rng = SplitMix64(seed: 3)
        let words = Self.vocabulary
        let sentences = (0..<256).map { _ in (0..<14).map { _ in words[Int(rng.nextDouble() * 120)] }.joined(separator: " ") }
        _ = try encoder.embed(Array(sentences.prefix(8)))
        var t = Date()
        let c0 = Self.processCPUSeconds()
        for s in sentences.prefix(128) { _ = try encoder.embed([s]) }
        let one = 128 / Date().timeIntervalSince(t)
        if !json { print(String(format: "encoder: %.2f ms CPU per sentence one at a time", (Self.processCPUSeconds() - c0) * 1000 / 128)) }
        t = Date()
        for start in stride(from: 0, to: 256, by: 32) { _ = try encoder.embed(Array(sentences[start..<start + 32])) }
        let batched = 256 / Date().timeIntervalSince(t)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pbench-enc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try MemoryStore(path: dir.appendingPathComponent("m.sqlite").path, key: DataKey.generate(), embedder: encoder)
        t = Date()
        for start in stride(from: 0, to: 256, by: 64) {
            try store.add(sentences[start..<start + 64].map { NewItem(kind: .note, content: ItemContent(text: $0)) })
        }
        return EncoderFigures(sentencesPerSecondOneAtATime: one, sentencesPerSecondBatch32: batched,
                              sealedInsertsPerSecondWithEmbeddings: 256 / Date().timeIntervalSince(t))
    }

    /// Synthetic English-like items from a fixed vocabulary with a Zipf-like word distribution,
    /// so common words are common (as in real notes) and searches hit realistic posting lists.
    func measure(_ n: Int, encoder: SentenceEncoder?) throws -> Row {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pbench-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("memory.sqlite").path
        let key = DataKey.generate()
        let store = try MemoryStore(path: path, key: key)
        var rng = SplitMix64(seed: 7)
        let words = Self.vocabulary
        func sentence(_ length: Int) -> String {
            (0..<length).map { _ in
                // Zipf-ish: squaring a uniform favours low indices (common words).
                let u = rng.nextDouble()
                return words[min(words.count - 1, Int(u * u * Double(words.count)))]
            }.joined(separator: " ")
        }
        let batch = 1000
        var inserted = 0
        var insertSeconds = 0.0
        while inserted < n {
            let k = min(batch, n - inserted)
            let items = (0..<k).map { i in
                NewItem(kind: .behaviour, content: ItemContent(text: sentence(18) + " #\(inserted + i)", output: sentence(2)))
            }
            let t0 = Date()
            try store.add(items)
            insertSeconds += Date().timeIntervalSince(t0)
            inserted += k
        }
        let loadStart = Date()
        // A store object's first search runs on FTS5; the second loads the in-memory index.
        _ = try store.search("warm up the search index", limit: 10, rehearse: false)
        _ = try store.search("warm up the search index", limit: 10, rehearse: false)
        let lexicalLoad = Date().timeIntervalSince(loadStart)
        let (wall, cpu) = try timeSearches { try store.search("what did I say about " + sentence(4), limit: 10, rehearse: false) }
        let stats = try store.stats()
        var row = Row(items: n, insertsPerSecond: Double(n) / insertSeconds,
                      searchP50Milliseconds: wall.p50, searchP99Milliseconds: wall.p99,
                      searchCPUP50Milliseconds: cpu.p50, searchCPUP99Milliseconds: cpu.p99,
                      lexicalIndexLoadSeconds: lexicalLoad,
                      fileMegabytes: Double(stats.fileBytes) / 1e6)
        if let encoder {
            // Stored vectors: stand-ins (see RandomEmbedder); the query is embedded by the real encoder.
            let filler = try MemoryStore(path: path, key: key, embedder: RandomEmbedder(dimension: encoder.dimension))
            try filler.embedMissing(batchSize: 2000)
            let hybrid = try MemoryStore(path: path, key: key, embedder: encoder)
            let loadStart = Date()
            _ = try hybrid.search("warm up the dense index", limit: 10, rehearse: false)
            _ = try hybrid.search("warm up the dense index", limit: 10, rehearse: false)
            row.denseIndexLoadSeconds = Date().timeIntervalSince(loadStart)
            let (wall, cpu) = try timeSearches { try hybrid.search("what did I say about " + sentence(4), limit: 10, rehearse: false) }
            row.hybridSearchP50Milliseconds = wall.p50
            row.hybridSearchP99Milliseconds = wall.p99
            row.hybridSearchCPUP50Milliseconds = cpu.p50
            row.hybridSearchCPUP99Milliseconds = cpu.p99
        }
        return row
    }

    /// Runs `queries` searches: p50/p99 of wall time and of process CPU time (all threads), in ms.
    func timeSearches(_ search: () throws -> [SearchHit]) throws -> (wall: (p50: Double, p99: Double), cpu: (p50: Double, p99: Double)) {
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<queries {
            let c0 = Self.processCPUSeconds()
            let t0 = Date()
            _ = try search()
            wall.append(Date().timeIntervalSince(t0) * 1000)
            cpu.append((Self.processCPUSeconds() - c0) * 1000)
        }
        func percentiles(_ v: [Double]) -> (p50: Double, p99: Double) {
            let s = v.sorted()
            return (s[s.count / 2], s[min(s.count - 1, s.count * 99 / 100)])
        }
        return (percentiles(wall), percentiles(cpu))
    }

    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
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
