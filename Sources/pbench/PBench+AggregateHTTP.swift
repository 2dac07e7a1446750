import ArgumentParser
import CoordinatorCore
import Federation
import Foundation
import Logging
import Seal
import Transport
#if canImport(Glibc)
import Glibc
#endif

/// `pbench aggregate --http`: the same round as the in-process one, but against a real
/// `pcoord serve` child process on 127.0.0.1, every client with its own identity and libcurl
/// `CoordinatorClient`, enrolled over HTTP, its requests signed. Times are wall times as the clients
/// see them (the stage first visible in a GET /v1/round answer, the last message's answer), plus the
/// server process's CPU time from /proc.
extension AggregateBench {
    struct HTTPFigures: Codable {
        struct Stage: Codable {
            var stage: String
            /// Messages of this stage the coordinator accepted (2xx).
            var accepted: Int
            /// From the stage first visible to a client to the answer to its last accepted message, seconds.
            var toLastAccepted: Double
            /// From the stage first visible to the next stage (or the completed summary) first visible, seconds.
            var toClosed: Double
            /// toClosed − toLastAccepted: at masked-input with dropouts, the wait for the deadline.
            var waitAfterLastAccepted: Double
            /// The server process's CPU seconds from the stage first seen to the next one first seen,
            /// and to the answer to its last accepted message (the work without the wait).
            var serverCPUSeconds: Double?
            var serverCPUToLastAccepted: Double?
        }
        /// Client threads working at once (each client's requests and SecAgg work run on one of them).
        var threads: Int
        var stageTimeout: Double
        /// GET /v1/round polled every this many seconds (rotating over the clients) to see stages change.
        var pollInterval: Double
        var enrollSeconds: Double
        var stages: [Stage]
        /// The last unmask response sent (every other one already accepted) → summary `completed` visible.
        var serverUnmaskSeconds: Double
        /// The round trip of that last POST alone.
        var lastUnmaskPostSeconds: Double
        /// utime + stime of the pcoord process from the first availability poll to the completed summary.
        var serverCPUSeconds: Double
        /// Wall seconds of the same span.
        var roundSeconds: Double
        /// Request bodies a surviving client POSTs, per parameter (median over survivors; headers excluded).
        var uploadBytesPerParameter: Double
        /// Median over survivors of their SecAgg work (keys, shares, encoding, masking, signing,
        /// revealing), wall seconds (threads share the cores, so this grows with --threads) and CPU seconds.
        var clientSecAggSeconds: Double
        var clientSecAggCPUSeconds: Double
        var clientMaskingSeconds: Double
        var sampled: Int
        var dropped: Int
        var expectedIncluded: Int
        var included: Int?
        var completed: Bool
    }

    /// Seconds the whole round over HTTP (server start to summary) may take.
    static let httpTimeLimit: Double = 600
    static let httpPollInterval: Double = 0.025

    func httpRound(_ layout: (dimensions: (blocks: UInt32, embedding: UInt32), rank: Int, length: Int), into f: inout Figures) async throws {
        let binary = try Self.pcoordBinary()
        let dir = NSTemporaryDirectory() + "pbench-aggregate-http-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try initialiseCoordinator(at: dir, layout: layout, stageTimeout: stageTimeout)
        // Set up in-process, then let go of the database before the server opens it.
        let tokens = try await Self.prepare(directory: dir, clients: clients, length: layout.length)
        let server = try ServerChild(binary: binary, directory: dir)
        defer { server.stop() }
        try server.start()
        let h = try HTTPRoundDriver(bench: self, url: server.url, tokens: tokens, length: layout.length, codec: config.codec, server: server).run()
        f.http = h
        f.roundIncluded = h.included
        f.roundCompleted = h.completed
        f.clientSecAggSeconds = h.clientSecAggSeconds
        f.clientMaskingSeconds = h.clientMaskingSeconds
        f.uploadBytesPerParameter = h.uploadBytesPerParameter
        if !json { Self.printHTTP(h, length: layout.length, neighbours: neighbours) }
    }

    private static func prepare(directory dir: String, clients: Int, length: Int) async throws -> [String] {
        var quiet = Logger(label: "pbench")
        quiet.logLevel = .warning
        let c = try Coordinator(directory: dir, logger: quiet)
        _ = try await c.publishBase(file: dir + "/base.gguf", now: Date())
        guard await c.currentVector?.count == length else { throw ValidationError("The adapter layout does not have \(length) values.") }
        var tokens: [String] = []
        for i in 0..<clients { tokens.append(try await c.createEnrollmentToken(name: "b\(i)", validFor: 3600, now: Date())) }
        return tokens
    }

    static func printHTTP(_ h: HTTPFigures, length: Int, neighbours: Int) {
        let graph = neighbours == 0 ? "complete graph" : "SecAgg+ k=\(neighbours)"
        print("round over loopback HTTP (pcoord serve child, \(h.sampled) libcurl clients on \(h.threads) threads, \(graph), "
              + String(format: "stage timeout %.0f s): ", h.stageTimeout)
              + "\(h.dropped) dropped before masked input, \(h.completed ? "completed" : "not completed") with \(h.included ?? 0) of \(h.expectedIncluded) expected included")
        print(String(format: "  enrollment over HTTP %.3f s; stages seen by polling GET /v1/round every %.0f ms", h.enrollSeconds, h.pollInterval * 1000))
        print("  stage               accepted  open→last accepted  open→closed  (wait)      server CPU to last accepted / to closed")
        for s in h.stages {
            print("  " + s.stage.padding(toLength: 18, withPad: " ", startingAt: 0)
                  + String(format: " %8d  %16.3f s  %9.3f s  (%.3f s)  %8.2f s / %.2f s", s.accepted, s.toLastAccepted, s.toClosed, s.waitAfterLastAccepted,
                           s.serverCPUToLastAccepted ?? .nan, s.serverCPUSeconds ?? .nan))
        }
        print(String(format: "  server unmask (last unmask response sent → summary completed visible) %.3f s; that POST's round trip %.3f s",
                     h.serverUnmaskSeconds, h.lastUnmaskPostSeconds))
        print(String(format: "  server process CPU for the round %.2f s over %.2f s wall", h.serverCPUSeconds, h.roundSeconds))
        print(String(format: "  per client: SecAgg %.3f s CPU, %.3f s wall on a shared thread (masking %.3f s wall) for %d parameters; upload %.3f bytes/parameter (bodies)",
                     h.clientSecAggCPUSeconds, h.clientSecAggSeconds, h.clientMaskingSeconds, length, h.uploadBytesPerParameter))
    }

    /// pcoord next to this pbench, or in $PLLM_BIN_DIR.
    static func pcoordBinary() throws -> String {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["PLLM_BIN_DIR"], !dir.isEmpty { candidates.append(dir + "/pcoord") }
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(exe.deletingLastPathComponent().appendingPathComponent("pcoord").path)
        }
        let argv0 = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        candidates.append(argv0.deletingLastPathComponent().appendingPathComponent("pcoord").path)
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        var seen = Set<String>()
        candidates = candidates.filter { seen.insert($0).inserted }
        throw BenchFailure("--http needs the pcoord binary; it is not in \(candidates.joined(separator: ", ")). "
                              + "Build it (swift build --product pcoord with the same --scratch-path) or set PLLM_BIN_DIR to its folder.")
    }
}

/// CPU seconds the calling thread used so far (CLOCK_THREAD_CPUTIME_ID).
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A `pcoord serve` child on a free 127.0.0.1 port, its output in `<dir>/serve.log`.
final class ServerChild: @unchecked Sendable {
    let binary: String
    let directory: String
    private(set) var port = 0
    private var process: Process?
    var logPath: String { directory + "/serve.log" }
    var url: String { "http://127.0.0.1:\(port)" }
    var pid: Int32 { process?.processIdentifier ?? 0 }

    init(binary: String, directory: String) throws {
        self.binary = binary
        self.directory = directory
    }

    func start() throws {
        port = try Loopback.freePort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        // Every simulated client is on 127.0.0.1: the per-address limits (meant for other hosts) are lifted.
        p.arguments = ["serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--log-level", "warning",
                       "--max-connections-per-address", "4096", "--address-rate", "1000000", "--address-burst", "1000000"]
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        forwardInterrupts(to: p.processIdentifier)
        let limit = Date().addingTimeInterval(30)
        while Date() < limit {
            if !p.isRunning { throw BenchFailure("pcoord serve (\(binary)) exited with status \(p.terminationStatus): \(logTail())") }
            if Loopback.accepts(port: port) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw BenchFailure("pcoord serve did not listen on 127.0.0.1:\(port) within 30 s: \(logTail())")
    }

    private var interruptSources: [any DispatchSourceSignal] = []

    /// Ctrl-C (or a TERM) to pbench also ends the child and deletes its directory: without this the
    /// child would outlive pbench, serving a folder nobody removes.
    private func forwardInterrupts(to child: Int32) {
        let directory = self.directory
        interruptSources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                kill(child, SIGTERM)
                let limit = Date().addingTimeInterval(5)
                while kill(child, 0) == 0 && Date() < limit { usleep(50_000) }
                kill(child, SIGKILL)
                try? FileManager.default.removeItem(atPath: directory)
                FileHandle.standardError.write(Data("pbench: interrupted; stopped pcoord serve (pid \(child)) and removed \(directory)\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            return source
        }
    }

    func logTail() -> String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(2000)) }

    var isRunning: Bool { process?.isRunning ?? false }

    var exitDescription: String {
        guard let p = process, !p.isRunning else { return "is running" }
        return p.terminationReason == .uncaughtSignal ? "was killed by signal \(p.terminationStatus)" : "exited with status \(p.terminationStatus)"
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    func stop() {
        guard let p = process else { return }
        process = nil
        guard p.isRunning else { return }
        p.terminate()
        let limit = Date().addingTimeInterval(10)
        while p.isRunning && Date() < limit { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// utime + stime of the child so far (/proc/<pid>/stat, fields 14 and 15), seconds.
    func cpuSeconds() throws -> Double {
        let path = "/proc/\(pid)/stat"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")") else {
            throw BenchFailure("Cannot read \(path) (the server's CPU time): is pcoord still running? \(logTail())")
        }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchFailure("\(path) does not have the expected fields.")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Runs `body(i)` for every i in `indices` on at most `threads` threads; rethrows the first error.
func onThreads(_ threads: Int, _ indices: [Int], _ body: @escaping @Sendable (Int) throws -> Void) throws {
    final class Queue: @unchecked Sendable {
        let lock = NSLock()
        var next = 0
        var error: (any Error)?
    }
    let q = Queue()
    let group = DispatchGroup()
    for _ in 0..<max(1, min(threads, indices.count)) {
        group.enter()
        let t = Thread {
            while true {
                let k: Int? = q.lock.withLock {
                    guard q.error == nil, q.next < indices.count else { return nil }
                    q.next += 1
                    return q.next - 1
                }
                guard let k else { break }
                do { try body(indices[k]) } catch { q.lock.withLock { if q.error == nil { q.error = error } } }
            }
            group.leave()
        }
        t.stackSize = 8 << 20
        t.start()
    }
    group.wait()
    if let e = q.error { throw e }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// One bench client: its identity, its HTTP client and its SecAgg state. Only one thread touches
/// a given client at a time (the stages are run one after the other).
final class BenchClient: @unchecked Sendable {
    let index: Int
    let identity = Identity.generate()
    var api: CoordinatorClient?
    var status: RoundStatus?
    var secagg: SecAggClient?
    var secAggSeconds = 0.0
    var maskingSeconds = 0.0
    var uploadBytes = 0
    var pendingUnmask: UnmaskResponse?

    init(index: Int) { self.index = index }

    var secAggCPUSeconds = 0.0

    /// Adds the wall time and this thread's CPU time of `body` to the client's SecAgg work.
    func timed<T>(_ body: () throws -> T) rethrows -> T {
        let t = DispatchTime.now().uptimeNanoseconds
        let cpu = threadCPUSeconds()
        defer {
            secAggSeconds += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            secAggCPUSeconds += threadCPUSeconds() - cpu
        }
        return try body()
    }
}

/// What the clients have seen of the round: the first time (seconds since the driver started) any
/// GET /v1/round answer showed each stage, the last accepted message per stage, and the summary.
final class RoundView: @unchecked Sendable {
    private let lock = NSLock()
    private var firstSeen: [RoundStage: Double] = [:]
    /// The server's CPU seconds when each stage was first seen (and when the summary was).
    private var cpuAt: [RoundStage: Double] = [:]
    private var cpuAtLast: [RoundStage: Double] = [:]
    private let cpu: @Sendable () -> Double?

    init(cpu: @escaping @Sendable () -> Double?) { self.cpu = cpu }
    private var lastAccepted: [RoundStage: Double] = [:]
    private var acceptedCount: [RoundStage: Int] = [:]
    private var summaryValue: (RoundSummary, Double)?
    private var observerError: (any Error)?

    func saw(_ stage: RoundStage, at t: Double) {
        lock.withLock {
            guard firstSeen[stage] == nil else { return }
            firstSeen[stage] = t
            cpuAt[stage] = cpu()
        }
    }
    func serverCPU(_ stage: RoundStage) -> Double? { lock.withLock { cpuAt[stage] } }
    func serverCPUAtLastAccepted(_ stage: RoundStage) -> Double? { lock.withLock { cpuAtLast[stage] } }
    func seen(_ stage: RoundStage) -> Double? { lock.withLock { firstSeen[stage] } }
    func accepted(_ stage: RoundStage, at t: Double) {
        lock.withLock {
            acceptedCount[stage, default: 0] += 1
            if lastAccepted[stage].map({ t > $0 }) ?? true {
                lastAccepted[stage] = t
                cpuAtLast[stage] = cpu()
            }
        }
    }
    func last(_ stage: RoundStage) -> (count: Int, at: Double?) { lock.withLock { (acceptedCount[stage] ?? 0, lastAccepted[stage]) } }
    func finish(_ s: RoundSummary, at t: Double) {
        lock.withLock {
            guard summaryValue == nil else { return }
            summaryValue = (s, t)
            cpuAt[s.stage] = cpu()
        }
    }
    var summary: (RoundSummary, Double)? { lock.withLock { summaryValue } }
    func fail(_ e: any Error) { lock.withLock { if observerError == nil { observerError = e } } }
    var failure: (any Error)? { lock.withLock { observerError } }
}

/// Drives N clients through one round over HTTP, stage by stage.
struct HTTPRoundDriver: @unchecked Sendable {
    let bench: AggregateBench
    let url: String
    let tokens: [String]
    let length: Int
    let codec: FixedPointCodec
    let server: ServerChild
    let start = DispatchTime.now().uptimeNanoseconds
    let view: RoundView

    init(bench: AggregateBench, url: String, tokens: [String], length: Int, codec: FixedPointCodec, server: ServerChild) {
        self.bench = bench
        self.url = url
        self.tokens = tokens
        self.length = length
        self.codec = codec
        self.server = server
        view = RoundView(cpu: { try? server.cpuSeconds() })
    }

    func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    func checkTime(_ what: String) throws {
        guard clock() < AggregateBench.httpTimeLimit else {
            throw BenchFailure("The round over HTTP did not finish within \(Int(AggregateBench.httpTimeLimit)) s (stuck \(what)). Server log: \(server.logTail())")
        }
        guard server.isRunning else { throw BenchFailure("pcoord serve \(server.exitDescription) \(what). Its log: \(server.logTail())") }
    }

    /// Polls a stage output until the coordinator has it.
    func fetch<T>(_ what: String, _ body: () throws -> T?) throws -> T {
        while true {
            if let v = try body() { return v }
            try checkTime("waiting for \(what)")
            Thread.sleep(forTimeInterval: AggregateBench.httpPollInterval)
        }
    }

    /// Sends one stage message and records when it was accepted.
    func post(_ stage: RoundStage, _ c: BenchClient, _ body: () throws -> Void) throws {
        do { try body() } catch {
            throw BenchFailure("Client \(c.index)'s \(stage.rawValue) message was refused or failed: \(error)"
                               + (stage == .maskedInput || stage == .consistencyCheck ? " (is --stage-timeout \(bench.stageTimeout) s too short for this machine?)" : ""))
        }
        view.accepted(stage, at: clock())
    }

    func run() throws -> AggregateBench.HTTPFigures {
        let threads = bench.threads
        let clients = (0..<tokens.count).map { BenchClient(index: $0) }
        let all = Array(clients.indices)
        let url = self.url, tokens = self.tokens

        // Enrollment over HTTP (429s from the per-address enrollment limit are retried after Retry-After).
        let t0 = clock()
        try onThreads(threads, all) { i in
            let c = clients[i]
            _ = try CoordinatorClient.enroll(url: url, token: tokens[i], identity: c.identity, name: "b\(i)")
            c.api = try CoordinatorClient(url: url, identity: c.identity)
        }
        let enrollSeconds = clock() - t0

        // Availability: every client polls once (the last poll opens the round), then again to learn its part.
        let cpu0 = try server.cpuSeconds()
        let roundStart = clock()
        for _ in 0..<2 {
            try onThreads(threads, all) { i in
                let s = try clients[i].api!.roundStatus()
                if let stage = s.stage, s.participant != nil { view.saw(stage, at: self.clock()) }
                clients[i].status = s
            }
        }
        guard let first = clients.first?.status, let round = first.round, let entries = first.participants, first.parameters != nil,
              clients.allSatisfy({ $0.status?.round == round && $0.status?.participant != nil }) else {
            throw BenchFailure("No round opened with all \(clients.count) clients sampled after every client polled twice. Server log: \(server.logTail())")
        }
        let keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.identity) })
        let dropped = Set(all.prefix(Int((Double(all.count) * bench.dropout).rounded())))
        let survivors = all.filter { !dropped.contains($0) }

        // The observer: GET /v1/round every poll interval, rotating over the clients (each has its own
        // rate limit), until the round's summary says completed or aborted.
        let stopObserver = StopFlag()
        let observerDone = DispatchSemaphore(value: 0)
        let observer = Thread {
            var k = 0
            while !stopObserver.isSet {
                let api = clients[k % clients.count].api!
                k += 1
                do {
                    let s = try api.roundStatus()
                    if s.round == round, let stage = s.stage {
                        view.saw(stage, at: self.clock())
                    } else {
                        let summary = try api.summary(round: round)
                        if summary.stage == .completed || summary.stage == .aborted {
                            view.finish(summary, at: self.clock())
                            break
                        }
                    }
                } catch {
                    view.fail(error)
                    break
                }
                Thread.sleep(forTimeInterval: AggregateBench.httpPollInterval)
            }
            observerDone.signal()
        }
        observer.start()
        defer {
            stopObserver.set()
            observerDone.wait()
        }

        func waitSeen(_ stage: RoundStage) throws -> Double {
            while true {
                if let t = view.seen(stage) { return t }
                if let (s, _) = view.summary {
                    throw BenchFailure("Round \(round) ended (\(s.stage.rawValue)) before stage \(stage.rawValue): \(s.abortReason ?? "no reason given")")
                }
                if let e = view.failure { throw BenchFailure("Polling GET /v1/round failed: \(e)") }
                try checkTime("waiting for stage \(stage.rawValue)")
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        let stageTimeout = bench.stageTimeout

        _ = try waitSeen(.advertiseKeys)
        try onThreads(threads, all) { i in
            let c = clients[i]
            var rng = SodiumRandom()
            let m = try c.timed {
                c.secagg = try SecAggClient(parameters: c.status!.parameters!, id: c.status!.participant!, identity: c.identity, identities: keys)
                return try c.secagg!.advertiseKeys(using: &rng)
            }
            c.uploadBytes += try WireCoding.encoder().encode(m).count
            try post(.advertiseKeys, c) { try c.api!.advertiseKeys(m) }
        }

        _ = try waitSeen(.shareKeys)
        try onThreads(threads, all) { i in
            let c = clients[i]
            var rng = SodiumRandom()
            let roster = try fetch("the key roster") { try c.api!.fetchRoster(round: round) }
            let m = try c.timed { try c.secagg!.shareKeys(roster: roster, using: &rng) }
            c.uploadBytes += try WireCoding.encoder().encode(m).count
            try post(.shareKeys, c) { try c.api!.shareKeys(m) }
        }

        // The dropped clients send nothing from here on: the stage closes at its deadline. The
        // update stands for local training's result (made before, not timed): one for every client,
        // each encoded with its own stochastic rounding and masked with its own masks.
        var dummy = ChaChaRandom(seed: Array(repeating: 9, count: 32))
        let update = (0..<length).map { _ in Float(dummy.unitInterval() * 2e-3 - 1e-3) }
        _ = try waitSeen(.maskedInput)
        try onThreads(threads, survivors) { i in
            let c = clients[i]
            let shares = try fetch("the shares") { try c.api!.fetchShares(round: round) }
            var bulk = ChaChaRandom.keyedFromSystem()
            let words = try c.timed { try self.codec.encode(update, using: &bulk) }
            let t = DispatchTime.now().uptimeNanoseconds
            let m = try c.timed { try c.secagg!.maskedInput(shares: shares, input: words) }
            c.maskingSeconds = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            c.uploadBytes += m.words.count
            try post(.maskedInput, c) { _ = try c.api!.maskedInput(m) }
        }

        _ = try waitSeen(.consistencyCheck)
        try onThreads(threads, survivors) { i in
            let c = clients[i]
            let list = try fetch("the survivor list") { try c.api!.fetchSurvivors(round: round) }
            let m = try c.timed { try c.secagg!.consistencyCheck(list) }
            c.uploadBytes += try WireCoding.encoder().encode(m).count
            try post(.consistencyCheck, c) { try c.api!.consistency(m) }
        }

        // Unmasking: every survivor prepares its response; all but one are sent, then the last one
        // alone, so the time from sending it to the completed summary is the server's unmasking.
        _ = try waitSeen(.unmasking)
        try onThreads(threads, survivors) { i in
            let c = clients[i]
            let request = try fetch("the unmasking request") { try c.api!.fetchUnmaskRequest(round: round) }
            let m = try c.timed { try c.secagg!.unmask(request) }
            c.uploadBytes += try WireCoding.encoder().encode(m).count
            c.pendingUnmask = m
        }
        let lastIndex = survivors.last!
        try onThreads(threads, survivors.filter { $0 != lastIndex }) { i in
            let c = clients[i]
            try post(.unmasking, c) { try c.api!.unmask(c.pendingUnmask!) }
        }
        let last = clients[lastIndex]
        let sent = clock()
        try post(.unmasking, last) { try last.api!.unmask(last.pendingUnmask!) }
        let lastPost = clock() - sent
        var summaryFound: (RoundSummary, Double)?
        while summaryFound == nil {
            summaryFound = view.summary
            if summaryFound == nil {
                if let e = view.failure { throw BenchFailure("Polling the round failed: \(e)") }
                try checkTime("waiting for the round's summary")
                Thread.sleep(forTimeInterval: 0.002)
            }
        }
        let (summary, completedAt) = summaryFound!
        let cpu = try server.cpuSeconds() - cpu0
        let roundSeconds = completedAt - roundStart
        guard summary.stage == .completed else {
            throw BenchFailure("Round \(round) aborted: \(summary.abortReason ?? "no reason given")")
        }

        let order: [RoundStage] = [.advertiseKeys, .shareKeys, .maskedInput, .consistencyCheck, .unmasking]
        var stages: [AggregateBench.HTTPFigures.Stage] = []
        for (k, s) in order.enumerated() {
            let opened = view.seen(s) ?? 0
            let next = k + 1 < order.count ? (view.seen(order[k + 1]) ?? completedAt) : completedAt
            let (count, at) = view.last(s)
            let lastAt = at ?? opened
            // The last message closes the stage before its answer arrives: the next stage can be
            // seen first. The stage counts as closed no earlier than that answer.
            let closed = max(next, lastAt)
            let nextStage = k + 1 < order.count ? order[k + 1] : RoundStage.completed
            let cpu = view.serverCPU(nextStage).flatMap { b in view.serverCPU(s).map { b - $0 } }
            stages.append(.init(stage: s.rawValue, accepted: count, toLastAccepted: lastAt - opened, toClosed: closed - opened,
                                waitAfterLastAccepted: closed - lastAt, serverCPUSeconds: cpu,
                                serverCPUToLastAccepted: view.serverCPUAtLastAccepted(s).flatMap { b in view.serverCPU(s).map { b - $0 } }))
        }
        return AggregateBench.HTTPFigures(
            threads: threads, stageTimeout: stageTimeout, pollInterval: AggregateBench.httpPollInterval, enrollSeconds: enrollSeconds,
            stages: stages, serverUnmaskSeconds: completedAt - sent, lastUnmaskPostSeconds: lastPost, serverCPUSeconds: cpu,
            roundSeconds: roundSeconds,
            uploadBytesPerParameter: median(survivors.map { Double(clients[$0].uploadBytes) }) / Double(length),
            clientSecAggSeconds: median(survivors.map { clients[$0].secAggSeconds }),
            clientSecAggCPUSeconds: median(survivors.map { clients[$0].secAggCPUSeconds }),
            clientMaskingSeconds: median(survivors.map { clients[$0].maskingSeconds }),
            sampled: clients.count, dropped: dropped.count, expectedIncluded: survivors.count,
            included: summary.included, completed: summary.stage == .completed)
    }
}
