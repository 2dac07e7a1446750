import ArgumentParser
import CoordinatorCore
import Federation
import Foundation
import GGUF
import Logging
import Seal

/// `pbench aggregate`: what secure aggregation costs, at the coordinator and at each client.
/// By default everything is in-process (no HTTP): the figures are the arithmetic and the round
/// machine. `--http` runs the round against a real `pcoord serve` on 127.0.0.1 instead.
struct AggregateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Aggregation throughput, each client's SecAgg cost, and one round through the Coordinator API timed per stage.")

    @Option(help: "Clients in the round.")
    var clients: Int = 100
    @Option(help: "Parameters of the shared update (the adapter is sized to the nearest multiple it can take).")
    var params: Int = 2_000_000
    @Option(help: "Fraction of clients that drop out before sending their masked input.")
    var dropout: Double = 0.1
    @Option(help: "SecAgg+ neighbours k per client (even; 0 = the complete graph).")
    var neighbours: Int = 0
    @Option(help: "Timed repetitions of the throughput figures (the median is reported).")
    var runs: Int = 3
    @Option(help: "Full rounds through the Coordinator API, each with a fresh coordinator (the median of each round figure is reported).")
    var rounds: Int = 3
    @Flag(name: .customLong("skip-round"), help: "Measure the throughput figures only, not the full round.")
    var skipRound = false
    @Flag(help: "Run the round over real HTTP: a `pcoord serve` child on 127.0.0.1 (found next to pbench or in $PLLM_BIN_DIR) and N libcurl clients.")
    var http = false
    @Option(help: "With --http: client threads working at once.")
    var threads: Int = 8
    @Option(name: .customLong("stage-timeout"), help: "With --http: seconds each stage stays open at most (the dropped clients' stage closes then; it must exceed the masked-input work).")
    var stageTimeout: Double = 20
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if http {
            guard clients <= 200 else { throw ValidationError("Please give --clients of at most 200 with --http.") }
            guard threads >= 1, threads <= 64 else { throw ValidationError("Please give --threads between 1 and 64.") }
            guard stageTimeout >= 1, stageTimeout <= 120 else { throw ValidationError("Please give --stage-timeout between 1 and 120 seconds.") }
        }
        guard clients >= 3, clients <= 1000 else { throw ValidationError("Please give --clients between 3 and 1000.") }
        guard params >= 64 else { throw ValidationError("Please give --params of 64 or more.") }
        guard dropout >= 0, dropout < 0.5 else { throw ValidationError("Please give --dropout in [0, 0.5).") }
        guard neighbours == 0 || (neighbours >= 2 && neighbours % 2 == 0) else { throw ValidationError("Please give --neighbours 0 or an even number of at least 2.") }
        guard runs >= 1 else { throw ValidationError("Please give --runs of 1 or more.") }
        guard rounds >= 1, rounds <= 20 else { throw ValidationError("Please give --rounds between 1 and 20.") }
    }

    struct Figures: Codable {
        var clients: Int
        var parameters: Int
        var dropout: Double
        /// SecAgg+ degree k (0: complete graph) and the neighbourhood threshold the round used.
        var neighbours: Int
        var shareThreshold: Int?
        /// The coordinator's unmasking (share reconstruction and mask removal) alone, seconds: the
        /// median over the in-process rounds, and every round's figure.
        var unmaskSeconds: Double?
        var unmaskSecondsPerRound: [Double]?
        /// CPU time (all threads) of the same: on a shared machine, CPU / cores bounds the unloaded wall time.
        var unmaskCPUSeconds: Double?
        /// Masked vectors summed mod 2^32 by the coordinator, MB of input per second.
        var maskedSumMegabytesPerSecond: Double
        /// Plain Float32 FedAvg sum, GB of input per second.
        var plainSumGigabytesPerSecond: Double
        /// Mask removal alone (`MaskExpansion.apply`, every core): GB of ChaCha20 keystream folded
        /// into the sum per second, and the kernel that did it.
        var maskGigabytesPerSecond: Double = 0
        var maskKernel: String = ""
        /// One client's SecAgg work for this update size (keys, shares, mask generation), seconds.
        var clientSecAggSeconds: Double?
        var clientMaskingSeconds: Double?
        /// Bytes a client uploads per parameter (masked input plus its share of the key messages).
        var uploadBytesPerParameter: Double?
        /// Coordinator time per stage of the full round (sum of its handling of every message), seconds.
        var stageSeconds: [String: Double]?
        var roundSampled: Int?
        var roundDropped: Int?
        var roundIncluded: Int?
        var roundCompleted: Bool?
        /// With --http: the round over loopback HTTP, as the clients and /proc saw it.
        var http: HTTPFigures?
    }

    func run() throws {
        // pbench's root command is synchronous; the Coordinator is an actor, so wait for it here.
        let result = Box<Result<Void, any Error>>(.success(()))
        let done = DispatchSemaphore(value: 0)
        let command = self
        Task {
            do { try await command.measure() } catch { result.value = .failure(error) }
            done.signal()
        }
        done.wait()
        try result.value.get()
    }

    func measure() async throws {
        // Fail before the throughput figures when the server binary is missing.
        if http && !skipRound { _ = try Self.pcoordBinary() }
        let layout = Self.layout(params: params)
        let p = layout.length
        var f = Figures(clients: clients, parameters: p, dropout: dropout, neighbours: neighbours, maskedSumMegabytesPerSecond: 0, plainSumGigabytesPerSecond: 0)
        f.maskedSumMegabytesPerSecond = maskedSum(p)
        f.plainSumGigabytesPerSecond = plainSum(p)
        f.maskGigabytesPerSecond = maskRemoval(p)
        f.maskKernel = MaskExpansion.kernelName
        if !json {
            print(String(format: "masked sum (mod 2^32): %d × %d words  %8.0f MB/s", clients, p, f.maskedSumMegabytesPerSecond))
            print(String(format: "plain FedAvg sum (f32): %d × %d floats %8.2f GB/s", clients, p, f.plainSumGigabytesPerSecond))
            print(String(format: "mask removal (ChaCha20 into the sum, %d threads, %@): %.2f GB/s of keystream",
                         ProcessInfo.processInfo.activeProcessorCount, f.maskKernel, f.maskGigabytesPerSecond))
        }
        if !skipRound {
            if http {
                try await httpRound(layout, into: &f)
            } else {
                var samples: [Figures] = []
                for _ in 0..<rounds {
                    var g = f
                    try await round(layout, into: &g)
                    samples.append(g)
                }
                f = Self.medianRound(samples)
                if !json { printRound(f, length: layout.length) }
            }
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(f), as: UTF8.self))
        }
    }

    // MARK: Throughput

    func maskedSum(_ p: Int) -> Double {
        var r = ChaChaRandom(seed: Array(repeating: 1, count: 32))
        let inputs = (0..<min(clients, 8)).map { _ in (0..<p).map { _ in UInt32(truncatingIfNeeded: r.next()) } }
        var times: [Double] = []
        for _ in 0..<runs {
            var acc = [UInt32](repeating: 0, count: p)
            let t = DispatchTime.now().uptimeNanoseconds
            for i in 0..<clients { try? RingVector.add(inputs[i % inputs.count], into: &acc) }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            blackHole(acc[p / 2])
        }
        return Double(clients * p * 4) / median(times) / 1e6
    }

    func plainSum(_ p: Int) -> Double {
        var r = ChaChaRandom(seed: Array(repeating: 2, count: 32))
        let inputs = (0..<min(clients, 8)).map { _ in (0..<p).map { _ in Float(r.unitInterval()) } }
        var times: [Double] = []
        for _ in 0..<runs {
            var acc = [Float](repeating: 0, count: p)
            let t = DispatchTime.now().uptimeNanoseconds
            for i in 0..<clients {
                inputs[i % inputs.count].withUnsafeBufferPointer { src in
                    acc.withUnsafeMutableBufferPointer { dst in for k in 0..<p { dst[k] += src[k] } }
                }
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            blackHole(acc[p / 2])
        }
        return Double(clients * p * 4) / median(times) / 1e9
    }

    /// 16 masks over a vector of p words, as the server removes them (`finish`).
    func maskRemoval(_ p: Int) -> Double {
        var r = ChaChaRandom(seed: Array(repeating: 3, count: 32))
        let masks = (0..<16).map { i in (seed: SecretBytes(copying: r.bytes(count: 32)), sign: i % 2 == 0 ? MaskExpansion.Sign.add : .subtract) }
        var acc = [UInt32](repeating: 0, count: p)
        var times: [Double] = []
        for _ in 0..<runs {
            let t = DispatchTime.now().uptimeNanoseconds
            MaskExpansion.apply(masks, round: 1, to: &acc, workers: ProcessInfo.processInfo.activeProcessorCount)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        blackHole(acc[p / 2])
        return Double(masks.count * p * 4) / median(times) / 1e9
    }

    // MARK: One round through the Coordinator API

    /// Base dimensions whose q,v adapter (rank 16, one head) has about `params` values.
    static func layout(params: Int) -> (dimensions: (blocks: UInt32, embedding: UInt32), rank: Int, length: Int) {
        let rank = 16
        let embedding = params >= 2 * 1024 * rank ? 1024 : max(1, params / (2 * rank))
        let blocks = max(1, params / (2 * embedding * rank))
        return ((UInt32(blocks), UInt32(embedding)), rank, blocks * 2 * embedding * rank)
    }

    /// A coordinator directory for the benchmark round (in process or over HTTP): a q,v adapter of
    /// `layout`, every enrolled client sampled, half of them the minimum, noise z = 1, and a
    /// metadata-only base GGUF at `dir`/base.gguf (not yet published). Returns the round's config.
    func initialiseCoordinator(at dir: String, layout: (dimensions: (blocks: UInt32, embedding: UInt32), rank: Int, length: Int),
                               stageTimeout: Double) throws -> RoundConfig {
        let minimum = max(2, clients / 2 + 1)
        let spec = try SharedAdapterSpec(rank: layout.rank, alpha: Double(2 * layout.rank), targets: ["q", "v"], seed: 3)
        let config = RoundConfig(clientsPerRound: clients, minimumClients: minimum, stageTimeout: stageTimeout, localSteps: 1, learningRate: 1e-3,
                                 maxSequence: 64, dp: try DistributedGaussian(clipNorm: 1, noiseMultiplier: 1, minimumClients: minimum),
                                 codec: try FixedPointCodec(range: 16, scaleBits: 16, maxSummands: max(100, clients)), strategy: "fedavg",
                                 serverLearningRate: 1, neighbours: neighbours == 0 ? nil : neighbours)
        let settings = try CoordinatorSettings(sharedAdapter: spec, round: config, epsilonBudget: 1e9, delta: 1e-5,
                                               availabilityWindow: 1e6, sampleWait: 1e6, skewWindow: 300)
        try Coordinator.initialise(directory: dir, settings: settings)
        try writeMetadataGGUF(to: dir + "/base.gguf", blocks: layout.dimensions.blocks, embedding: layout.dimensions.embedding)
        return config
    }

    func round(_ layout: (dimensions: (blocks: UInt32, embedding: UInt32), rank: Int, length: Int), into f: inout Figures) async throws {
        let dir = NSTemporaryDirectory() + "pbench-aggregate-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = try initialiseCoordinator(at: dir, layout: layout, stageTimeout: 3600)
        var quiet = Logger(label: "pbench")
        quiet.logLevel = .warning
        let c = try Coordinator(directory: dir, logger: quiet)
        let now = Date()
        _ = try await c.publishBase(file: dir + "/base.gguf", now: now)
        guard await c.currentVector?.count == layout.length else { throw ValidationError("The adapter layout does not have \(layout.length) values.") }
        var identities: [Identity] = []
        var enrolled: [EnrolledClient] = []
        for i in 0..<clients {
            let id = Identity.generate()
            let token = try await c.createEnrollmentToken(name: "b\(i)", validFor: 3600, now: now)
            let r = try await c.enroll(EnrollRequest(token: token, identity: id, name: nil), now: now)
            guard let e = try c.store.client(id: r.clientID) else { throw ValidationError("Enrollment of client \(i) was not stored.") }
            identities.append(id)
            enrolled.append(e)
        }
        var stage: [String: Double] = [:]
        func timed<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
            let t = DispatchTime.now().uptimeNanoseconds
            let v = try await body()
            stage[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            return v
        }
        var statuses: [RoundStatus] = []
        for e in enrolled { statuses.append(try await timed("open") { try await c.roundStatus(for: e, now: now) }) }
        statuses = []
        for e in enrolled { statuses.append(try await c.roundStatus(for: e, now: now)) }
        guard let s0 = statuses.first(where: { $0.participant != nil }), let round = s0.round, let parameters = s0.parameters,
              let entries = s0.participants else { throw ValidationError("No round opened with \(clients) clients available.") }
        let keys = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.identity) })
        var secagg: [SecAggClient?] = []
        for (i, s) in statuses.enumerated() {
            secagg.append(try s.participant.map { try SecAggClient(parameters: parameters, id: $0, identity: identities[i], identities: keys) })
        }
        var rng = SodiumRandom()
        var clientSeconds = [Double](repeating: 0, count: clients)
        var maskSeconds = [Double](repeating: 0, count: clients)
        var uploadBytes = [Int](repeating: 0, count: clients)
        func clientTimed<T>(_ i: Int, _ body: () throws -> T) rethrows -> T {
            let t = DispatchTime.now().uptimeNanoseconds
            let v = try body()
            clientSeconds[i] += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            return v
        }
        let active = secagg.indices.filter { secagg[$0] != nil }
        let dropped = Set(active.prefix(Int((Double(active.count) * dropout).rounded())))
        let encoder = WireCoding.encoder()
        for i in active {
            let m = try clientTimed(i) { try secagg[i]!.advertiseKeys(using: &rng) }
            uploadBytes[i] += try encoder.encode(m).count
            try await timed("advertise-keys") { try await c.submit(.advertiseKeys(m), from: enrolled[i], now: now) }
        }
        for i in active {
            let roster = try await c.roster(round: round, for: enrolled[i])
            let m = try clientTimed(i) { try secagg[i]!.shareKeys(roster: roster, using: &rng) }
            uploadBytes[i] += try encoder.encode(m).count
            try await timed("share-keys") { try await c.submit(.shareKeys(m), from: enrolled[i], now: now) }
        }
        var dummy = ChaChaRandom(seed: Array(repeating: 9, count: 32))
        for i in active where !dropped.contains(i) {
            let shares = try await c.shares(round: round, for: enrolled[i])
            let update = (0..<layout.length).map { _ in Float(dummy.unitInterval() * 2e-3 - 1e-3) }
            // Fixed-point encoding (stochastic rounding) counts as the client's SecAgg cost.
            var bulk = ChaChaRandom.keyedFromSystem()
            let words = try clientTimed(i) { try config.codec.encode(update, using: &bulk) }
            let t = DispatchTime.now().uptimeNanoseconds
            let m = try clientTimed(i) { try secagg[i]!.maskedInput(shares: shares, input: words) }
            maskSeconds[i] = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            uploadBytes[i] += m.words.count
            try await timed("masked-input") { try await c.submit(.maskedInput(m), from: enrolled[i], now: now) }
        }
        // The dropped clients never send: the stage closes at its deadline.
        let late = now.addingTimeInterval(3601)
        try await timed("masked-input") { try await c.tick(now: late) }
        let survivors = active.filter { !dropped.contains($0) }
        for i in survivors {
            let list = try await c.survivors(round: round, for: enrolled[i])
            let m = try clientTimed(i) { try secagg[i]!.consistencyCheck(list) }
            uploadBytes[i] += try encoder.encode(m).count
            try await timed("consistency-check") { try await c.submit(.consistency(m), from: enrolled[i], now: late) }
        }
        for i in survivors {
            let request = try await c.unmaskRequest(round: round, for: enrolled[i])
            let m = try clientTimed(i) { try secagg[i]!.unmask(request) }
            uploadBytes[i] += try encoder.encode(m).count
            // The last response closes the stage: its time is the server's reconstruction and unmasking.
            let t = DispatchTime.now().uptimeNanoseconds
            let cpu = processCPUSeconds()
            try await timed("unmasking") { try await c.submit(.unmask(m), from: enrolled[i], now: late) }
            if i == survivors.last {
                f.unmaskSeconds = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
                f.unmaskCPUSeconds = processCPUSeconds() - cpu
            }
        }
        let record = await c.lastRound
        f.shareThreshold = record?.parameters.shareThreshold
        let perClient = survivors.map { clientSeconds[$0] }
        f.clientSecAggSeconds = median(perClient)
        f.clientMaskingSeconds = median(survivors.map { maskSeconds[$0] })
        f.uploadBytesPerParameter = median(survivors.map { Double(uploadBytes[$0]) }) / Double(layout.length)
        f.stageSeconds = stage
        f.roundSampled = active.count
        f.roundDropped = dropped.count
        f.roundIncluded = record?.included
        f.roundCompleted = record?.stage == .completed
    }

    /// The per-round figures of several rounds as one: the median of each, every round's unmask time.
    static func medianRound(_ samples: [Figures]) -> Figures {
        var f = samples[0]
        func med(_ key: KeyPath<Figures, Double?>) -> Double? {
            let values = samples.compactMap { $0[keyPath: key] }
            return values.isEmpty ? nil : median(values)
        }
        f.unmaskSeconds = med(\.unmaskSeconds)
        f.unmaskCPUSeconds = med(\.unmaskCPUSeconds)
        f.unmaskSecondsPerRound = samples.compactMap(\.unmaskSeconds)
        f.clientSecAggSeconds = med(\.clientSecAggSeconds)
        f.clientMaskingSeconds = med(\.clientMaskingSeconds)
        f.uploadBytesPerParameter = med(\.uploadBytesPerParameter)
        let names = Set(samples.flatMap { ($0.stageSeconds ?? [:]).keys })
        f.stageSeconds = Dictionary(uniqueKeysWithValues: names.map { name in (name, median(samples.map { $0.stageSeconds?[name] ?? 0 })) })
        f.roundCompleted = samples.allSatisfy { $0.roundCompleted == true }
        return f
    }

    func printRound(_ f: Figures, length: Int) {
        print("\(rounds) round(s) through the Coordinator API (medians): \(f.roundSampled ?? 0) sampled, \(f.roundDropped ?? 0) dropped before masked input, "
              + "\(f.roundCompleted == true ? "completed" : "NOT completed") with \(f.roundIncluded ?? 0) included")
        for name in ["open", "advertise-keys", "share-keys", "masked-input", "consistency-check", "unmasking"] {
            print("  coordinator " + name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: " %8.3f s", f.stageSeconds?[name] ?? 0))
        }
        let graph = neighbours == 0 ? "complete graph" : "SecAgg+ k=\(neighbours)"
        let each = (f.unmaskSecondsPerRound ?? []).map { String(format: "%.3f", $0) }.joined(separator: ", ")
        print(String(format: "  server unmask (last response: Shamir + mask removal) %.3f s wall, %.3f s CPU; ", f.unmaskSeconds ?? 0, f.unmaskCPUSeconds ?? 0)
              + "\(graph), share threshold \(f.shareThreshold ?? 0); each round: \(each) s")
        print(String(format: "  per client: SecAgg %.3f s (masking %.3f s) for %d parameters; upload %.3f bytes/parameter",
                     f.clientSecAggSeconds ?? 0, f.clientMaskingSeconds ?? 0, length, f.uploadBytesPerParameter ?? 0))
    }
}

final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// CPU seconds this process used so far, all threads (CLOCK_PROCESS_CPUTIME_ID).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

@inline(never) func blackHole<T>(_ x: T) { _ = x }

/// A GGUF v3 file with only the llama metadata the coordinator reads (one head, so k/v width = embedding).
func writeMetadataGGUF(to path: String, blocks: UInt32, embedding: UInt32) throws {
    var writer = GGUFWriter()
    writer.set("general.architecture", "llama")
    writer.set("llama.block_count", blocks)
    writer.set("llama.embedding_length", embedding)
    writer.set("llama.attention.head_count", UInt32(1))
    writer.set("llama.attention.head_count_kv", UInt32(1))
    writer.set("llama.feed_forward_length", 4 * embedding)
    try writer.write(to: path)
}
