import CoordinatorCore
import Federation
import Foundation
import Seal
import Transport
#if canImport(Glibc)
import Glibc
#endif

struct IntegrationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A fresh temporary directory, removed by the caller.
func scratchDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "pllm-int-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A built product (pcoord, pclient) next to the test bundle, or at $PLLM_BIN_DIR.
func builtProduct(_ name: String) throws -> String {
    var candidates: [String] = []
    if let dir = ProcessInfo.processInfo.environment["PLLM_BIN_DIR"] { candidates.append(dir + "/" + name) }
    var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(url.appendingPathComponent(name).path)
        url = url.deletingLastPathComponent()
    }
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name).path)
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
    throw IntegrationFailure("The `\(name)` binary was not found (looked in \(candidates.joined(separator: ", "))). Build it first (`swift build --scratch-path …`) or set PLLM_BIN_DIR to its folder.")
}

func freeLoopbackPort() throws -> Int { try Loopback.freePort() }

/// A coordinator initialised in `dir`/coord with `settings`, a metadata-only base published, and
/// one enrollment token per client (valid 10 minutes).
func prepareCoordinator(in dir: String, settings: CoordinatorSettings, clients: Int) async throws -> (directory: String, tokens: [String]) {
    let coordDir = dir + "/coord"
    try Coordinator.initialise(directory: coordDir, settings: settings)
    let c = try Coordinator(directory: coordDir)
    try writeMetadataGGUF(to: dir + "/base.gguf")
    _ = try await c.publishBase(file: dir + "/base.gguf", now: Date())
    var tokens: [String] = []
    for i in 0..<clients { tokens.append(try await c.createEnrollmentToken(name: "c\(i)", validFor: 600, now: Date())) }
    return (coordDir, tokens)
}

/// A metadata-only GGUF (the coordinator reads dimensions only), written byte by byte.
func writeMetadataGGUF(to path: String, blocks: UInt32 = 2, embedding: UInt32 = 8, heads: UInt32 = 2, kvHeads: UInt32 = 1, ffn: UInt32 = 16) throws {
    var b = [UInt8]()
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
    let ints: [(String, UInt32)] = [("llama.block_count", blocks), ("llama.embedding_length", embedding),
                                    ("llama.attention.head_count", heads), ("llama.attention.head_count_kv", kvHeads),
                                    ("llama.feed_forward_length", ffn)]
    b += Array("GGUF".utf8)
    u32(3); u64(0); u64(UInt64(ints.count + 1))
    str("general.architecture"); u32(8); str("llama")
    for (k, v) in ints { str(k); u32(4); u32(v) }
    while b.count % 32 != 0 { b.append(0) }
    try Data(b).write(to: URL(fileURLWithPath: path))
}

/// Round settings for the process tests: short stage timeouts, and a noise multiplier so small
/// (z = 1e-6, below the fixed-point step) that the published mean is checkable against the plain
/// mean of the clipped updates. The ε this spends is meaningless; the budget is set to allow it.
func integrationSettings(clients: Int, minimum: Int, stageTimeout: Double) throws -> CoordinatorSettings {
    let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q", "v"], seed: 11)
    let round = RoundConfig(clientsPerRound: clients, minimumClients: minimum, stageTimeout: stageTimeout, localSteps: 1, learningRate: 1e-3,
                            maxSequence: 64, dp: try DistributedGaussian(clipNorm: 1, noiseMultiplier: 1e-6, minimumClients: minimum),
                            codec: try FixedPointCodec(range: 16, scaleBits: 16, maxSummands: 100), strategy: "fedavg", serverLearningRate: 1)
    return try CoordinatorSettings(sharedAdapter: spec, round: round, epsilonBudget: 1e300, delta: 1e-5,
                                   availabilityWindow: 120, sampleWait: 2, skewWindow: 300)
}

/// A client policy that accepts `integrationSettings` (z = 1e-6, cohorts of 2): far below the defaults.
let integrationPolicy = try! ClientPrivacyPolicy(minimumNoiseMultiplier: 1e-6, maximumRoundEpsilon: 1e300, maximumEpsilon: 1e300, minimumCohort: 2)

/// A `pcoord serve` child process on 127.0.0.1:port. `kill9()` ends it as a crash would.
final class CoordinatorProcess {
    let directory: String
    let port: Int
    let binary: String
    private(set) var process: Process?
    let logPath: String

    /// More `pcoord serve` arguments (--tls-certificate …).
    let extraArguments: [String]

    init(directory: String, port: Int, extraArguments: [String] = []) throws {
        self.directory = directory
        self.port = port
        self.binary = try builtProduct("pcoord")
        self.logPath = directory + "/serve.log"
        self.extraArguments = extraArguments
    }

    var url: String { (extraArguments.contains("--tls-certificate") ? "https" : "http") + "://127.0.0.1:\(port)" }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--log-level", "warning"] + extraArguments
        // Appended across restarts, so a crash's output stays readable.
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        // Wait for it to accept connections.
        let limit = Date().addingTimeInterval(20)
        while Date() < limit {
            if !p.isRunning { throw IntegrationFailure("pcoord serve exited with \(p.terminationStatus): \(serveLog())") }
            if Loopback.accepts(port: port) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw IntegrationFailure("pcoord serve did not listen on \(port) within 20 s: \(serveLog())")
    }

    func serveLog() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func stop() {
        guard let p = process else { return }
        guard p.isRunning else {
            print("pcoord serve had exited with status \(p.terminationStatus) (\(p.terminationReason == .uncaughtSignal ? "signal" : "exit")):\n\(serveLog().suffix(4000))")
            process = nil
            return
        }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }
}
