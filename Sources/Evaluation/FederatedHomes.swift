import Diagnostics
public import Foundation
import Memory
import Seal
import Transport
import Vault
#if canImport(Glibc)
import Glibc
#endif

/// The settings of the coordinator that `peval run --method fed` starts for fresh homes.
public struct FederatedRunOptions: Sendable {
    /// Federated rounds of the shared adapter before personal training.
    public var rounds = 2
    /// Local steps each client trains the shared adapter's B per round.
    public var localSteps = 8
    /// Noise multiplier z of the distributed Gaussian noise (σ = z·C on the sum). Small populations
    /// cannot have both a useful shared adapter and a small ε: pcoord reports the ε it spends.
    public var noise = 0.02
    /// Seconds a stage may take before the coordinator moves on without the late clients.
    public var stageTimeout = 600
    /// The folder holding the `pcoord` and `pclient` executables (default: the running program's).
    public var executables: String?

    public init() {}
}

/// Fresh client homes for every user of a run that took part in real federated rounds: a `pcoord`
/// process on 127.0.0.1 (its own folder, the run's model as the base), one home per user holding
/// only that user's profile in long-term memory, and one `pclient` process per user that joins with
/// a one-time token and runs `sync`. Each client trains the shared adapter on its own memory; the
/// coordinator sees only the securely aggregated sum. The homes stay for the answers and are
/// deleted with the folder.
///
/// Every home is sealed under its own random passphrase (the cheapest Argon2 limits: these homes
/// live minutes), handed to the client processes in their environment only.
public struct FederatedHomes: Sendable {
    /// The folder of the coordinator, the homes (`clients/<user>`) and the processes' logs.
    public let directory: String
    /// Each user's home folder and passphrase.
    let homes: [String: (path: String, passphrase: String)]

    /// The home of `user` (nil if the user was not in the run).
    public func home(of user: String) -> (path: String, passphrase: String)? { homes[user] }

    /// Creates the homes, starts `pcoord`, enrolls and joins every client, runs `options.rounds`
    /// rounds with all clients at once and stops the coordinator. Throws with the failing process's
    /// last lines of output when any step fails.
    public static func prepare(users: [UserQuestions], task: LaMPTask, modelPath: String, scratch: String,
                               options: FederatedRunOptions, log: @Sendable (String) -> Void) throws -> FederatedHomes {
        guard users.count >= 2 else {
            throw EvaluationError(.badArgument, "method fed needs at least 2 users (secure aggregation sums several clients); this run has \(users.count)")
        }
        let bin = options.executables ?? Self.ownFolder()
        for tool in ["pcoord", "pclient"] where !FileManager.default.isExecutableFile(atPath: bin + "/" + tool) {
            throw EvaluationError(.engine, "method fed runs \(tool) as a process, but \(bin)/\(tool) is not there: build it (swift build --product \(tool)) next to peval")
        }
        let dir = scratch + "/peval-fed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/clients", withIntermediateDirectories: true)
        // A failed run leaves nothing behind (its error carries the failing process's output).
        var prepared = false
        defer { if !prepared { try? FileManager.default.removeItem(atPath: dir) } }

        // 1. The homes: each user's profile as long-term behaviour items, nothing else.
        var homes: [String: (path: String, passphrase: String)] = [:]
        for (i, user) in users.enumerated() {
            let path = dir + "/clients/" + String(format: "c%03d", i)
            let passphrase = SecretBytes(randomCount: 24).withUnsafeBytes { Data($0).base64EncodedString() }
            let home = try ClientHome(path: path).initialize(passphrase: SecretBytes(utf8: passphrase), limits: .minimum)
            _ = try home.memory.add(ModelAnswerEngine.memoryItems(user.profile, task: task, tier: .long))
            homes[user.user] = (path, passphrase)
        }

        // 2. The coordinator.
        let coordinator = dir + "/coordinator"
        let coordinatorEnvironment = ["PCOORD_DIR": coordinator]
        let clients = users.count
        try run(bin + "/pcoord", ["init", "--clients-per-round", "\(clients)", "--min-clients", "\(max(2, clients - 1))",
                                  "--local-steps", "\(options.localSteps)", "--stage-timeout", "\(options.stageTimeout)",
                                  "--sample-wait", "30", "--noise", "\(options.noise)", "--epsilon-budget", "1000000"],
                environment: coordinatorEnvironment, log: dir + "/pcoord-init.log")
        try run(bin + "/pcoord", ["publish-base", modelPath], environment: coordinatorEnvironment, log: dir + "/pcoord-publish.log")
        let port = try Loopback.freePort()
        let url = "http://127.0.0.1:\(port)"
        let server = try start(bin + "/pcoord", ["serve", "--listen", "127.0.0.1:\(port)", "--rounds", "\(options.rounds)"],
                               environment: coordinatorEnvironment, log: dir + "/pcoord.log")
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        try waitForHealth(url, server: server, log: dir + "/pcoord.log")
        log("fed: pcoord on \(url), \(clients) clients, \(options.rounds) round(s) of \(options.localSteps) local steps, noise z=\(options.noise)")

        // 3. Enrollment: a one-time token per client, `pclient join`.
        for (i, user) in users.enumerated() {
            guard let home = homes[user.user] else { continue }
            let name = String(format: "c%03d", i)
            let token = try run(bin + "/pcoord", ["enroll", "--name", name, "--expires", "1h"],
                                environment: coordinatorEnvironment, log: dir + "/pcoord-enroll.log")
                .split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
            // An evaluation of a few synthetic users: the clients' privacy policy is lowered to
            // accept this coordinator (its small cohort, its z, its ε), as the demo does; the
            // defaults would refuse every round.
            try run(bin + "/pclient", ["join", url, "--token", token, "--name", name,
                                       "--min-cohort", "2", "--min-noise", "\(options.noise)",
                                       "--max-round-epsilon", "1e300", "--max-epsilon", "1e300"],
                    environment: clientEnvironment(home), log: dir + "/\(name)-join.log")
        }

        // 4. The rounds: every client at once, one training thread each.
        let started = Date()
        let syncs = try users.enumerated().map { i, user -> (String, Process, String) in
            let name = String(format: "c%03d", i)
            let logPath = dir + "/\(name)-sync.log"
            let home = homes[user.user]!
            let p = try start(bin + "/pclient", ["sync", "--rounds", "\(options.rounds)", "--threads", "1", "--model", modelPath],
                              environment: clientEnvironment(home), log: logPath)
            return (user.user, p, logPath)
        }
        var failures: [String] = []
        for (user, p, logPath) in syncs {
            p.waitUntilExit()
            if p.terminationStatus != 0 {
                failures.append("user \(user)'s pclient sync exited with \(p.terminationStatus): \(tail(logPath))")
            }
        }
        guard failures.isEmpty else { throw EvaluationError(.engine, "federated rounds failed: " + failures.joined(separator: "; ")) }
        log(String(format: "fed: %d round(s) done in %.0f s", options.rounds, Date().timeIntervalSince(started)))
        prepared = true
        return FederatedHomes(directory: dir, homes: homes)
    }

    /// Deletes the coordinator, the homes and the logs.
    public func remove() { try? FileManager.default.removeItem(atPath: directory) }

    // MARK: Processes

    private static func clientEnvironment(_ home: (path: String, passphrase: String)) -> [String: String] {
        ["PCLIENT_HOME": home.path, "PCLIENT_PASSPHRASE": home.passphrase]
    }

    /// The folder of the running executable.
    static func ownFolder() -> String {
        if let url = Bundle.main.executableURL { return url.resolvingSymlinksInPath().deletingLastPathComponent().path }
        return URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    private static func start(_ tool: String, _ arguments: [String], environment: [String: String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        guard let out = FileHandle(forWritingAtPath: log) else {
            throw EvaluationError(.engine, "cannot write the log \(log)")
        }
        out.seekToEndOfFile()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs a process to its end; returns its output, throws with the output's tail when it fails.
    @discardableResult
    private static func run(_ tool: String, _ arguments: [String], environment: [String: String], log: String) throws -> String {
        let before = (try? Data(contentsOf: URL(fileURLWithPath: log)).count) ?? 0
        let p = try start(tool, arguments, environment: environment, log: log)
        p.waitUntilExit()
        let all = (try? Data(contentsOf: URL(fileURLWithPath: log))) ?? Data()
        let output = String(decoding: all.dropFirst(before), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            let name = URL(fileURLWithPath: tool).lastPathComponent
            throw EvaluationError(.engine, "\(name) \(arguments.first ?? "") exited with \(p.terminationStatus): \(output.suffix(600))")
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func tail(_ log: String) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return String(text.suffix(600))
    }

    private static func waitForHealth(_ url: String, server: Process, log: String) throws {
        var configuration = HTTPConfiguration()
        configuration.retry = HTTPRetryPolicy(maxAttempts: 1)
        configuration.connectTimeout = 2
        configuration.totalTimeout = 5
        let transport = try HTTPTransport(baseURL: url, identity: nil, configuration: configuration)
        for _ in 0..<150 {
            guard server.isRunning else {
                throw EvaluationError(.engine, "pcoord serve exited with \(server.terminationStatus): \(tail(log))")
            }
            if (try? transport.send("GET", "/v1/health", signed: false)) != nil { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw EvaluationError(.engine, "pcoord did not answer on \(url) within 30 s: \(tail(log))")
    }
}
