import Foundation
import TestModels
import Testing

/// Runs a command to completion; returns (status, stdout+stderr).
@discardableResult
func runTool(_ binary: String, _ args: [String], env: [String: String] = [:], check: Bool = true) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    if check && p.terminationStatus != 0 {
        throw IntegrationFailure("`\(URL(fileURLWithPath: binary).lastPathComponent) \(args.joined(separator: " "))` exited \(p.terminationStatus):\n\(text)")
    }
    return (p.terminationStatus, text)
}

/// The federation with real processes: `pcoord` (init, publish-base, enroll, serve) and several
/// `pclient` processes (init, memory import --tier long, join, sync --rounds 1) on a tiny random
/// GGUF. Environment (used by scripts/federation-check wire): PLLM_FEDCHECK_PORT fixes the port,
/// PLLM_FEDCHECK_CANARY is the string put in every client's memory, PLLM_FEDCHECK_KEEP keeps the
/// directory (its path is printed).
@Suite(.serialized) struct PClientProcessTests {
    @Test func pclientProcessesCompleteARoundAndStoreTheNewSharedVersion() throws {
        let env = ProcessInfo.processInfo.environment
        let pcoord = try builtProduct("pcoord")
        let pclient = try builtProduct("pclient")
        let dir = scratchDirectory("pclient")
        defer { if env["PLLM_FEDCHECK_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) } else { print("kept \(dir)") } }
        let clients = 3
        let model = dir + "/tiny.gguf"
        try TinyLlamaGGUF.chat(context: 256).write(to: model)
        let coord = dir + "/coord"
        try runTool(pcoord, ["init", "--dir", coord, "--rank", "2", "--clients-per-round", "\(clients)", "--min-clients", "\(clients)",
                             "--stage-timeout", "20", "--local-steps", "2", "--max-sequence", "64", "--sample-wait", "2"])
        try runTool(pcoord, ["publish-base", "--dir", coord, model])
        var tokens: [String] = []
        for i in 0..<clients {
            let out = try runTool(pcoord, ["enroll", "--dir", coord, "--name", "p\(i)", "--expires", "1h"]).output
            tokens.append(try #require(out.split(separator: "\n").last.map(String.init)).trimmingCharacters(in: .whitespaces))
        }
        let port = try env["PLLM_FEDCHECK_PORT"].flatMap(Int.init) ?? freeLoopbackPort()
        let server = try CoordinatorProcess(directory: coord, port: port)
        try server.start()
        defer { server.stop() }

        let canary = env["PLLM_FEDCHECK_CANARY"] ?? "canary-\(UUID().uuidString)"
        var homes: [String] = []
        for i in 0..<clients {
            let home = dir + "/home\(i)"
            homes.append(home)
            let e = ["PCLIENT_HOME": home, "PCLIENT_PASSPHRASE": "integration passphrase \(i)", "PCLIENT_KDF": "minimum", "PCLIENT_INSECURE_KDF": "1"]
            try runTool(pclient, ["init"], env: e)
            let lines = (0..<6).map { "{\"text\": \"Note \($0) of client \(i): I always write \(canary) in my letters, then sign with love.\"}" }
            try lines.joined(separator: "\n").write(toFile: dir + "/mem\(i).jsonl", atomically: true, encoding: .utf8)
            try runTool(pclient, ["memory", "import", "--tier", "long", dir + "/mem\(i).jsonl"], env: e)
            // The test coordinator's z = 1e-6 and small cohorts are far below a client's default policy.
            try runTool(pclient, ["join", server.url, "--token", tokens[i], "--name", "p\(i)", "--min-cohort", "2", "--min-noise", "1e-6",
                                  "--max-round-epsilon", "1e300", "--max-epsilon", "1e300"], env: e)
        }
        // All clients sync at once, each a process of its own.
        var procs: [(Process, Pipe)] = []
        for i in 0..<clients {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: pclient)
            p.arguments = ["sync", "--rounds", "1", "--model", model, "--timeout", "60", "--poll", "0.5", "--threads", "1"]
            p.environment = env.merging(["PCLIENT_HOME": homes[i], "PCLIENT_PASSPHRASE": "integration passphrase \(i)", "PCLIENT_KDF": "minimum", "PCLIENT_INSECURE_KDF": "1"]) { $1 }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            procs.append((p, out))
        }
        var vectors: [Data] = []
        for (i, (p, out)) in procs.enumerated() {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "pclient sync \(i) exited \(p.terminationStatus):\n\(text)\n--- pcoord:\n\(server.serveLog())")
            #expect(text.contains("included"), "client \(i) was included: \(text)")
            let v1 = homes[i] + "/shared/adapter-v1.f32"
            #expect(FileManager.default.fileExists(atPath: v1), "client \(i) stored shared version 1")
            if let d = FileManager.default.contents(atPath: v1) { vectors.append(d) }
        }
        #expect(vectors.count == clients && Set(vectors).count == 1, "every client holds the same version 1")
        #expect(vectors.first.map { $0.contains { $0 != 0 } } == true, "version 1 is not all zeros")
        let status = try runTool(pcoord, ["status", "--dir", coord, "--json"]).output
        #expect(status.contains("\"completed\"") || status.contains("completed"), "pcoord status shows the completed round: \(status)")
    }
}
