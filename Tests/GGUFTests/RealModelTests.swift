import Foundation
import Testing
import GGUF
import QuantFormat

/// The SmolLM2 file when it is on this machine: `PCLIENT_MODEL`, else the default cache path.
/// With `PCLIENT_REQUIRE_MODEL=1` a missing file fails instead of skipping.
private enum RealModel {
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["PCLIENT_MODEL"], !path.isEmpty { return path }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/pclient/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    static var required: Bool { ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1" }
    static var present: Bool { FileManager.default.fileExists(atPath: path) }
    static var shouldRun: Bool { present || required }
}

@Suite(.enabled(if: RealModel.shouldRun, "SmolLM2 GGUF not found; set PCLIENT_MODEL"))
struct RealModelTests {
    @Test func smolLM2LayoutAndMetadata() throws {
        try #require(RealModel.present, "model file missing at \(RealModel.path) and PCLIENT_REQUIRE_MODEL=1")
        let clock = ContinuousClock()
        let start = clock.now
        let file = try GGUFFile(path: RealModel.path)
        let openTime = clock.now - start
        #expect(openTime < .seconds(1), "opening took \(openTime)")

        #expect(file.version == 3)
        #expect(file.tensors.count == 272)  // 30 blocks × 9 + token_embd + output_norm
        #expect(try file.string("general.architecture") == "llama")
        #expect(try file.int("llama.block_count") == 30)
        #expect(try file.int("llama.embedding_length") == 576)
        #expect(try file.int("llama.feed_forward_length") == 1536)
        #expect(try file.int("llama.attention.head_count") == 9)
        #expect(try file.int("llama.attention.head_count_kv") == 3)
        #expect(try file.float("llama.rope.freq_base") == 100000)
        #expect(try file.strings("tokenizer.ggml.tokens").count == 49152)
        #expect(try file.strings("tokenizer.ggml.merges").count == 48900)

        let embd = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embd.type == .q8_0 && embd.dimensions == [576, 49152])
        #expect(file.tensor(named: "blk.0.attn_q.weight")?.type == .q4_1)
        #expect(file.tensor(named: "blk.0.attn_q.weight")?.dimensions == [576, 576])
        #expect(file.tensor(named: "blk.29.ffn_down.weight")?.dimensions == [1536, 576])
        for t in file.tensors where t.name.hasSuffix("norm.weight") {
            #expect(t.type == .f32 && t.dimensions.count == 1, "\(t.name)")
        }
        #expect(file.tensors.allSatisfy { $0.type.canDequantize })

        let norm = try file.floats(for: file.tensor(named: "output_norm.weight")!)
        #expect(norm.count == 576 && norm.allSatisfy { $0.isFinite && $0 != 0 })
        let q = try file.floats(for: file.tensor(named: "blk.0.attn_q.weight")!)
        #expect(q.allSatisfy { $0.isFinite })
        let rms = (q.reduce(0) { $0 + $1 * $1 } / Float(q.count)).squareRoot()
        #expect(rms > 1e-3 && rms < 10, "rms \(rms)")
    }

    /// Dequantizes every tensor; reports the time (release builds should take well under a second).
    @Test func dequantizeWholeFile() throws {
        try #require(RealModel.present, "model file missing at \(RealModel.path) and PCLIENT_REQUIRE_MODEL=1")
        let clock = ContinuousClock()
        let start = clock.now
        let file = try GGUFFile(path: RealModel.path)
        let opened = clock.now
        var elements = 0
        let largest = file.tensors.map(\.elementCount).max() ?? 0
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        defer { buffer.deallocate() }
        for t in file.tensors {
            try Dequantize.run(t.type, src: file.data(for: t).baseAddress!, count: t.elementCount, into: buffer)
            #expect(buffer[t.elementCount - 1].isFinite, "\(t.name)")
            elements += t.elementCount
        }
        let done = clock.now
        print("SmolLM2: open \(opened - start), dequantize \(elements) weights \(done - opened)")
        #expect(elements > 100_000_000)
    }
}
