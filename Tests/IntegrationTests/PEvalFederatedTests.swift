import Foundation
import TestModels
import Testing

/// `peval run --method fed` on fresh homes: peval starts a real `pcoord` and one `pclient sync`
/// process per user (tiny random model), then trains each user's personal adapter on top of the
/// shared adapter and answers. Checks the pipeline, not the answers' quality (the model is random).
@Suite(.serialized) struct PEvalFederatedTests {
    @Test func fedOnFreshHomesRunsRealRoundsAndCleansUp() throws {
        let peval = try builtProduct("peval")
        _ = try builtProduct("pcoord")
        _ = try builtProduct("pclient")
        let dir = scratchDirectory("peval-fed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/tiny.gguf"
        try TinyLlamaGGUF.chat(context: 2048).write(to: model)
        try runTool(peval, ["synth", "--task", "lamp3", "--users", "3", "--items", "6", "--questions", "1", "--seed", "5", "--out", dir + "/users"])
        let scratch = dir + "/tmp"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let run = try runTool(peval, ["run", "--questions", dir + "/users/questions.json", "--outputs", dir + "/users/outputs.json",
                                      "--method", "fed", "--rounds", "1", "--fed-local-steps", "2", "--epochs", "1", "--rank", "2",
                                      "--model", model, "--threads", "1", "--report", dir + "/report.json"],
                              env: ["TMPDIR": scratch])
        #expect(run.output.contains("fed: 1 round(s) done"), "\(run.output)")
        #expect(run.output.contains("trained on"), "\(run.output)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/report.json"))) as? [String: Any])
        #expect((report["settings"] as? [String: Any])?["method"] as? String == "fed")
        #expect(report["users"] as? Int == 3)
        #expect(report["questions"] as? Int == 3)
        // The coordinator, the homes and the logs are gone when the run ends.
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("peval-") }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func fedNeedsAtLeastTwoUsers() throws {
        let peval = try builtProduct("peval")
        let dir = scratchDirectory("peval-fed1")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/tiny.gguf"
        try TinyLlamaGGUF.chat(context: 256).write(to: model)
        try runTool(peval, ["synth", "--task", "lamp2", "--users", "1", "--items", "6", "--questions", "1", "--seed", "5", "--out", dir + "/users"])
        let run = try runTool(peval, ["run", "--questions", dir + "/users/questions.json", "--outputs", dir + "/users/outputs.json",
                                      "--method", "fed", "--model", model, "--threads", "1"], check: false)
        #expect(run.status != 0)
        #expect(run.output.contains("at least 2 users"), "\(run.output)")
    }
}
