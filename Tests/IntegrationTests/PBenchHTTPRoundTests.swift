import Foundation
import Testing

/// `pbench aggregate --http` as a process: it starts its own `pcoord serve` child on 127.0.0.1,
/// enrolls 5 libcurl clients over HTTP, drops one before its masked input and must finish the
/// round with the other 4 included. Needs pbench and pcoord built next to the test bundle (or
/// PLLM_BIN_DIR).
@Suite struct PBenchHTTPRoundTests {
    struct Output: Decodable {
        struct HTTP: Decodable {
            struct Stage: Decodable { let stage: String; let accepted: Int; let toLastAccepted: Double; let toClosed: Double }
            let threads: Int
            let stages: [Stage]
            let sampled: Int
            let dropped: Int
            let expectedIncluded: Int
            let included: Int?
            let completed: Bool
            let serverCPUSeconds: Double
            let serverUnmaskSeconds: Double
            let uploadBytesPerParameter: Double
        }
        let parameters: Int
        let roundIncluded: Int?
        let roundCompleted: Bool?
        let http: HTTP?
    }

    @Test func aggregateOverHTTPCompletesWithTheSurvivors() throws {
        let pbench = try builtProduct("pbench")
        let pcoord = try builtProduct("pcoord")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: pbench)
        p.arguments = ["aggregate", "--http", "--clients", "5", "--params", "256", "--dropout", "0.2", "--runs", "1",
                       "--threads", "3", "--stage-timeout", "3", "--json"]
        var env = ProcessInfo.processInfo.environment
        env["PLLM_BIN_DIR"] = URL(fileURLWithPath: pcoord).deletingLastPathComponent().path
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "pbench aggregate --http failed: \(errors)")
        let o = try JSONDecoder().decode(Output.self, from: data)
        let h = try #require(o.http)
        #expect(o.parameters == 256)
        #expect(h.sampled == 5 && h.dropped == 1 && h.expectedIncluded == 4)
        #expect(h.completed && o.roundCompleted == true)
        #expect(h.included == 4 && o.roundIncluded == 4)
        #expect(h.stages.map(\.stage) == ["advertise-keys", "share-keys", "masked-input", "consistency-check", "unmasking"])
        #expect(h.stages.map(\.accepted) == [5, 5, 4, 4, 4])
        // The dropped client's stage closed at its deadline, not before.
        let masked = h.stages[2]
        #expect(masked.toClosed >= 2.5, "masked-input closed after \(masked.toClosed) s with a 3 s deadline")
        #expect(masked.toClosed >= masked.toLastAccepted)
        #expect(h.uploadBytesPerParameter > 4, "a masked input alone is 4 bytes per parameter")
        #expect(h.serverCPUSeconds > 0 && h.serverUnmaskSeconds > 0)
        #expect(h.threads == 3)
    }
}
