import Foundation
import Testing

/// The real model for the integration tests: `$PCLIENT_MODEL`, else the cache scripts/setup fills.
/// Tests on it are skipped when it is absent, unless PCLIENT_REQUIRE_MODEL=1 (as scripts/test sets),
/// in which case they run and fail.
enum RealModel {
    static var path: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PCLIENT_MODEL"], !p.isEmpty { return p }
        let cache = env["PCLIENT_CACHE"] ?? ((env["XDG_CACHE_HOME"].map { $0 + "/pclient" }) ?? (NSHomeDirectory() + "/.cache/pclient"))
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }
    static var available: Bool {
        FileManager.default.fileExists(atPath: path) || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"
    }
}

/// Reference values from independent implementations (Tests/Vectors/smollm2.json, a copy of the
/// project's shared vectors).
struct ReferenceVectors: Decodable {
    struct Greedy: Decodable {
        let ids: [Int]
        let text: String
        let top5_per_step: [[[Double]]]
    }
    struct Prompt: Decodable { let text: String; let ids: [Int] }
    let chat_prompt: Prompt
    let greedy_float32: Greedy
    struct LlamaCppGreedy: Decodable { let ids: [Int]; let text: String; let top5_last_prompt_position: [[Double]] }
    let greedy_llamacpp_q8_activations: LlamaCppGreedy

    static func load() throws -> ReferenceVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Vectors/smollm2.json")
        return try JSONDecoder().decode(ReferenceVectors.self, from: Data(contentsOf: url))
    }
}
