import CoordinatorCore
import Federation
import Foundation
import Seal

/// A fresh temporary directory, removed by the caller (`defer { cleanup(dir) }`).
func temporaryDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "pcoord-test-\(label)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func cleanup(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// A GGUF v3 file with only metadata, written byte by byte from the format (independently of the
/// GGUF module, which the coordinator uses to read it back).
func writeTinyGGUF(to path: String, blocks: UInt32 = 2, embedding: UInt32 = 8, heads: UInt32 = 2, kvHeads: UInt32 = 1, ffn: UInt32 = 16) throws {
    var b = [UInt8]()
    func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
    func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
    let ints: [(String, UInt32)] = [("llama.block_count", blocks), ("llama.embedding_length", embedding),
                                    ("llama.attention.head_count", heads), ("llama.attention.head_count_kv", kvHeads),
                                    ("llama.feed_forward_length", ffn)]
    b += Array("GGUF".utf8)
    u32(3)
    u64(0)                          // tensors
    u64(UInt64(ints.count + 1))     // metadata entries
    str("general.architecture"); u32(8); str("llama")
    for (k, v) in ints { str(k); u32(4); u32(v) }
    while b.count % 32 != 0 { b.append(0) }
    try Data(b).write(to: URL(fileURLWithPath: path))
}

func testSettings(clients: Int = 4, minimum: Int = 3, timeout: Double = 60, strategy: String = "fedavg",
                  budget: Double = 1000, noise: Double = 0.5, neighbours: Int? = nil) throws -> CoordinatorSettings {
    let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q", "v"], seed: 7)
    let round = RoundConfig(clientsPerRound: clients, minimumClients: minimum, stageTimeout: timeout, localSteps: 1, learningRate: 1e-3,
                            maxSequence: 64, dp: try DistributedGaussian(clipNorm: 1, noiseMultiplier: noise, minimumClients: minimum),
                            codec: try FixedPointCodec(range: 16, scaleBits: 16, maxSummands: 100), strategy: strategy, serverLearningRate: 1,
                            neighbours: neighbours)
    return try CoordinatorSettings(sharedAdapter: spec, round: round, epsilonBudget: budget, delta: 1e-5,
                                   availabilityWindow: 120, sampleWait: 10, skewWindow: 300)
}

let t0 = Date(timeIntervalSince1970: 1_800_000_000)
func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

/// An initialised coordinator directory with a tiny base published (adapter of 48 floats).
func makeCoordinatorDirectory(_ label: String, settings: CoordinatorSettings) async throws -> String {
    let dir = temporaryDirectory(label)
    try Coordinator.initialise(directory: dir, settings: settings)
    try writeTinyGGUF(to: dir + "/tiny.gguf")
    let c = try Coordinator(directory: dir)
    _ = try await c.publishBase(file: dir + "/tiny.gguf", now: at(0))
    return dir
}

/// One simulated pclient: a real identity and a real SecAggClient, its update fixed by a seed.
struct SimClient {
    let identity: Identity
    var client: EnrolledClient!
    var secagg: SecAggClient?
    var rng: ChaChaRandom
    let update: [Float]
    var words: [UInt32] = []
    var participant: ParticipantID?

    init(index: Int, length: Int) {
        identity = Identity.generate()
        rng = ChaChaRandom(seed: Blake2b.hash(Array("coord-test-\(index)".utf8), outputByteCount: 32))
        var r = ChaChaRandom(seed: Blake2b.hash(Array("coord-update-\(index)".utf8), outputByteCount: 32))
        update = (0..<length).map { _ in Float(r.unitInterval() * 0.2 - 0.1) }
    }
}

/// Drives whole rounds through a `Coordinator` with real SecAgg clients. `reopen` makes a new
/// coordinator object from the directory (a restart) whenever the test asks for one.
final class RoundDriver {
    let dir: String
    var coordinator: Coordinator
    var clients: [SimClient]
    var now: Double = 1
    let codec: FixedPointCodec

    init(dir: String, clients count: Int) async throws {
        self.dir = dir
        coordinator = try Coordinator(directory: dir)
        codec = coordinator.settings.round.codec
        let length = await coordinator.currentVector?.count ?? 0
        clients = (0..<count).map { SimClient(index: $0, length: length) }
        for i in clients.indices {
            let token = try await coordinator.createEnrollmentToken(name: "c\(i)", validFor: 3600, now: at(now))
            let response = try await coordinator.enroll(EnrollRequest(token: token, identity: clients[i].identity, name: "c\(i)"), now: at(now))
            clients[i].client = try coordinator.store.client(id: response.clientID)
        }
    }

    func reopen() throws { coordinator = try Coordinator(directory: dir) }

    func advance(_ s: Double) { now += s }

    /// Every client in `who` polls; returns the statuses.
    @discardableResult
    func poll(_ who: [Int]? = nil) async throws -> [Int: RoundStatus] {
        var out: [Int: RoundStatus] = [:]
        for i in who ?? Array(clients.indices) { out[i] = try await coordinator.roundStatus(for: clients[i].client, now: at(now)) }
        return out
    }

    /// Polls until a round opens and sets up each sampled client's SecAggClient.
    func open() async throws -> UInt64 {
        try await poll()
        let statuses = try await poll()
        guard let (_, s) = statuses.first(where: { $0.value.participant != nil }), let round = s.round, let parameters = s.parameters,
              let entries = s.participants else { throw TestFailure("no round opened") }
        let identities = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0.identity) })
        for (i, st) in statuses {
            guard let p = st.participant else { clients[i].secagg = nil; clients[i].participant = nil; continue }
            clients[i].participant = p
            clients[i].secagg = try SecAggClient(parameters: parameters, id: p, identity: clients[i].identity, identities: identities)
            var r = clients[i].rng
            clients[i].words = try codec.encode(clients[i].update, using: &r)
        }
        return round
    }

    var sampled: [Int] { clients.indices.filter { clients[$0].secagg != nil } }

    func advertise(_ round: UInt64, except: Set<Int> = []) async throws {
        for i in sampled where !except.contains(i) {
            var c = clients[i]
            let m = try c.secagg!.advertiseKeys(using: &c.rng)
            clients[i] = c
            try await coordinator.submit(.advertiseKeys(m), from: clients[i].client, now: at(now))
        }
    }

    func shareKeys(_ round: UInt64, except: Set<Int> = []) async throws {
        for i in sampled where !except.contains(i) {
            let roster = try await coordinator.roster(round: round, for: clients[i].client)
            var c = clients[i]
            let m = try c.secagg!.shareKeys(roster: roster, using: &c.rng)
            clients[i] = c
            try await coordinator.submit(.shareKeys(m), from: clients[i].client, now: at(now))
        }
    }

    func maskedInput(_ round: UInt64, except: Set<Int> = []) async throws {
        for i in sampled where !except.contains(i) {
            let shares = try await coordinator.shares(round: round, for: clients[i].client)
            let m = try clients[i].secagg!.maskedInput(shares: shares, input: clients[i].words)
            try await coordinator.submit(.maskedInput(m), from: clients[i].client, now: at(now))
        }
    }

    func consistency(_ round: UInt64, except: Set<Int> = []) async throws {
        for i in sampled where !except.contains(i) {
            let list = try await coordinator.survivors(round: round, for: clients[i].client)
            let m = try clients[i].secagg!.consistencyCheck(list)
            try await coordinator.submit(.consistency(m), from: clients[i].client, now: at(now))
        }
    }

    func unmask(_ round: UInt64, except: Set<Int> = []) async throws {
        for i in sampled where !except.contains(i) {
            let request = try await coordinator.unmaskRequest(round: round, for: clients[i].client)
            let m = try clients[i].secagg!.unmask(request)
            try await coordinator.submit(.unmask(m), from: clients[i].client, now: at(now))
        }
    }

    /// old + mean of the decoded inputs of `included`, computed here independently.
    func expected(old: [Float], included: [Int]) -> [Float] {
        var sum = [Double](repeating: 0, count: old.count)
        for i in included { for (k, w) in clients[i].words.enumerated() { sum[k] += Double(Int32(bitPattern: w)) / 65536 } }
        return old.enumerated().map { $0.element + Float(sum[$0.offset] / Double(included.count)) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
}
