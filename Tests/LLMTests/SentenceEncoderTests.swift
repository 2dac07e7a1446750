import Diagnostics
import Foundation
import LLM
import Testing
import Tokenizer

/// The real sentence encoder for the integration tests: `$PCLIENT_ENCODER`, else the cache that
/// scripts/setup fills. Tests on it are skipped when it is absent, unless PCLIENT_REQUIRE_MODEL=1,
/// in which case they run and fail (the `RealModel` convention).
enum RealEncoder {
    static var directory: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_ENCODER"], !p.isEmpty { return p }
        return ModelLocation.cacheDirectory(environment: env) + "/models/all-MiniLM-L6-v2"
    }
    static var available: Bool {
        FileManager.default.fileExists(atPath: directory + "/model.safetensors")
            || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"
    }
    /// Loaded once for all tests (about 90 MB of weights).
    nonisolated(unsafe) private static var cached: SentenceEncoder?
    private static let lock = NSLock()
    static func encoder() throws -> SentenceEncoder {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let e = try SentenceEncoder(directory: directory)
        cached = e
        return e
    }
}

/// Tests/LLMTests/Vectors/minilm.json, written by minilm.py beside it from sentence-transformers.
struct MiniLMVectors: Decodable {
    struct Case: Decodable { let text: String; let ids: [Int]; let embedding: [Float] }
    let max_seq_length: Int
    let cases: [Case]
    let benchmark_sentences: [String]

    static func load() throws -> MiniLMVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Vectors/minilm.json")
        return try JSONDecoder().decode(MiniLMVectors.self, from: Data(contentsOf: url))
    }
}

#if DEBUG
let optimizedBuild = false
#else
let optimizedBuild = true
#endif

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

@Suite struct SentenceEncoderLocationTests {
    func makeEncoderDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("encoder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "vocab.txt", "model.safetensors"] {
            FileManager.default.createFile(atPath: dir + "/" + f, contents: Data())
        }
        return dir
    }

    @Test func explicitThenEnvironmentThenCache() throws {
        let a = try makeEncoderDirectory(), b = try makeEncoderDirectory()
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: cache + "/models", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: try makeEncoderDirectory(), toPath: cache + "/models/all-MiniLM-L6-v2")
        defer { for d in [a, b, cache] { try? FileManager.default.removeItem(atPath: d) } }

        let env = ["PCLIENT_ENCODER": b, "PCLIENT_CACHE": cache, "HOME": "/nonexistent"]
        #expect(try SentenceEncoder.locate(explicit: a, environment: env) == a)
        #expect(try SentenceEncoder.locate(explicit: nil, environment: env) == b)
        #expect(try SentenceEncoder.locate(explicit: "", environment: ["PCLIENT_CACHE": cache])
            == cache + "/models/all-MiniLM-L6-v2")
        let xdg = ["XDG_CACHE_HOME": "/nonexistent-xdg", "HOME": "/nonexistent"]
        #expect {
            try SentenceEncoder.locate(explicit: nil, environment: xdg)
        } throws: { error in
            guard let error = error as? LLMError else { return false }
            return error.code == .modelNotFound && error.message.contains("scripts/setup")
                && error.message.contains("/nonexistent-xdg/pclient/models/all-MiniLM-L6-v2")
        }
    }

    @Test func aFolderWithoutWeightsIsNotAnEncoder() throws {
        let dir = try makeEncoderDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        #expect(throws: LLMError.self) { try SentenceEncoder.locate(explicit: dir, environment: [:]) }
    }
}

@Suite(.enabled(if: RealEncoder.available, "all-MiniLM-L6-v2 not installed: run scripts/setup"))
struct SentenceEncoderTests {
    @Test func wordPieceIDsMatchSentenceTransformers() throws {
        let vectors = try MiniLMVectors.load()
        let encoder = try RealEncoder.encoder()
        #expect(encoder.maxSequenceLength == vectors.max_seq_length)
        for c in vectors.cases {
            #expect(encoder.tokenizer.encode(c.text, maxLength: encoder.maxSequenceLength) == c.ids, "\(c.text.debugDescription)")
        }
    }

    @Test func embeddingsMatchSentenceTransformers() throws {
        let vectors = try MiniLMVectors.load()
        let encoder = try RealEncoder.encoder()
        #expect(encoder.dimension == 384)
        // All at once (one packed batch) and one at a time must both match.
        let batched = try encoder.embed(vectors.cases.map(\.text))
        var worst = 1.0
        for (i, c) in vectors.cases.enumerated() {
            let single = try encoder.embed(c.text)
            let cb = cosine(batched[i], c.embedding), cs = cosine(single, c.embedding)
            worst = min(worst, cb, cs)
            #expect(cb > 0.999, "batched \(c.text.debugDescription): cosine \(cb)")
            #expect(cs > 0.999, "single \(c.text.debugDescription): cosine \(cs)")
            let norm = single.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
            let maxDiff = zip(single, batched[i]).map { abs($0 - $1) }.max() ?? 0
            #expect(maxDiff < 1e-5, "batch and single differ by \(maxDiff)")
        }
        print("SentenceEncoder: worst cosine against sentence-transformers over \(vectors.cases.count) texts: \(worst)")
    }

    @Test func emptyInputGivesNoEmbeddings() throws {
        #expect(try RealEncoder.encoder().embed([String]()).isEmpty)
    }

    @Test func relatedSentencesAreCloser() throws {
        let e = try RealEncoder.encoder()
        let v = try e.embed(["I booked a table at an Italian restaurant.", "Dinner reservation at the pizzeria.", "The dishwasher is broken."])
        #expect(cosine(v[0], v[1]) > cosine(v[0], v[2]) + 0.2)
    }

    /// Sentences/s one text per call (128 calls) and in calls of 32 texts (256 texts), best of 3
    /// runs each (the machine is shared), OpenBLAS on its default threads. Prints only; the same
    /// measurement for sentence-transformers is `minilm.py MODEL_DIR --bench` beside the vectors.
    @Test(.enabled(if: optimizedBuild, "timing needs an optimized build: swift test -c release -Xswiftc -enable-testing"))
    func throughput() throws {
        let e = try RealEncoder.encoder()
        let sentences = try MiniLMVectors.load().benchmark_sentences
        _ = try e.embed(Array(sentences.prefix(32)))  // warm-up
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        var single = 0.0, batched = 0.0
        for _ in 0..<3 {
            let t1 = clock.measure { for s in sentences.prefix(128) { _ = try? e.embed([s]) } }
            single = max(single, 128 / seconds(t1))
            let t2 = clock.measure {
                for i in stride(from: 0, to: sentences.count, by: 32) {
                    _ = try? e.embed(Array(sentences[i..<min(i + 32, sentences.count)]))
                }
            }
            batched = max(batched, Double(sentences.count) / seconds(t2))
        }
        print(String(format: "SentenceEncoder throughput (best of 3, %d threads): %.1f sentences/s one at a time, %.1f sentences/s in batches of 32", e.threads, single, batched))
    }
}
