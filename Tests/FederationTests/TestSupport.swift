import Foundation
import Federation
import Seal

/// `protocol/vectors/`, found from this file's path so tests run from any working directory.
func vectorsDirectory(filePath: String = #filePath) -> URL {
    URL(fileURLWithPath: filePath)
        .deletingLastPathComponent()   // FederationTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // package root
        .appendingPathComponent("protocol/vectors")
}

/// Set PLLM_WRITE_VECTORS=1 to rewrite the vector files from this implementation.
let writeVectors = ProcessInfo.processInfo.environment["PLLM_WRITE_VECTORS"] == "1"

func seed(_ label: String) -> [UInt8] {
    Blake2b.hash(Array("pllm.test-seed.\(label)".utf8), outputByteCount: 32)
}

func bytes(of secret: SecretBytes) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }

/// One participant of a simulated round: identity and randomness fixed by seeds.
struct ClientSetup: Codable, Equatable {
    var id: ParticipantID
    var signingSeed: String      // hex
    var agreementSecret: String  // hex
    var rngSeed: String          // hex
    var input: [UInt32]

    static func make(id: ParticipantID, scenario: String, input: [UInt32]) -> ClientSetup {
        ClientSetup(id: id, signingSeed: Hex.encode(seed("\(scenario).\(id).sign")),
                    agreementSecret: Hex.encode(seed("\(scenario).\(id).agree")),
                    rngSeed: Hex.encode(seed("\(scenario).\(id).rng")), input: input)
    }

    func identity() throws -> Identity {
        try Identity.seeded(signingSeed: Hex.decode(signingSeed), agreementSecret: Hex.decode(agreementSecret))
    }
}

struct RoundOutcome {
    var advertisements: [ParticipantID: AdvertiseKeys] = [:]
    var maskedInputs: [ParticipantID: [UInt32]] = [:]
    var included: [ParticipantID] = []
    var sum: [UInt32] = []
    var responses: [ParticipantID: UnmaskResponse] = [:]
    var signatures: [ConsistencySignature] = []
}

/// Runs a whole round in memory. A client in `dropBefore[stage]` sends nothing from that stage on
/// (stages: 1 ShareKeys, 2 MaskedInput, 3 ConsistencyCheck, 4 Unmasking).
func runRound(parameters: SecAggParameters, clients: [ClientSetup], dropBefore: [Int: Set<ParticipantID>] = [:]) throws -> RoundOutcome {
    var identities: [ParticipantID: IdentityPublicKeys] = [:]
    var states: [ParticipantID: SecAggClient] = [:]
    var rngs: [ParticipantID: ChaChaRandom] = [:]
    var inputs: [ParticipantID: [UInt32]] = [:]
    for c in clients {
        let identity = try c.identity()
        identities[c.id] = identity.publicKeys
        rngs[c.id] = ChaChaRandom(seed: try Hex.decode(c.rngSeed))
        inputs[c.id] = c.input
    }
    for c in clients {
        states[c.id] = try SecAggClient(parameters: parameters, id: c.id, identity: try c.identity(), identities: identities)
    }
    var server = try SecAggServer(parameters: parameters, identities: identities)
    var outcome = RoundOutcome()
    func active(_ stage: Int) -> [ParticipantID] {
        let gone = (1...stage).reduce(into: Set<ParticipantID>()) { $0.formUnion(dropBefore[$1] ?? []) }
        return states.keys.sorted().filter { !gone.contains($0) }
    }

    for id in states.keys.sorted() {
        let ad = try states[id]!.advertiseKeys(using: &rngs[id]!)
        outcome.advertisements[id] = ad
        try server.receive(ad)
    }
    let roster = try server.closeAdvertiseKeys()
    for id in active(1) {
        try server.receive(try states[id]!.shareKeys(roster: roster, using: &rngs[id]!))
    }
    let forwarded = try server.closeShareKeys()
    for message in forwarded where active(2).contains(message.recipient) {
        let masked = try states[message.recipient]!.maskedInput(shares: message, input: inputs[message.recipient]!)
        outcome.maskedInputs[message.recipient] = masked.vector
        try server.receive(masked)
    }
    let list = try server.closeMaskedInput()
    outcome.included = list.survivors
    for id in list.survivors where active(3).contains(id) {
        try server.receive(try states[id]!.consistencyCheck(list))
    }
    let request = try server.closeConsistencyCheck()
    outcome.signatures = request.signatures
    for s in request.signatures where active(4).contains(s.sender) {
        let response = try states[s.sender]!.unmask(request)
        outcome.responses[s.sender] = response
        try server.receive(response)
    }
    outcome.sum = try server.finish(workers: 2)
    return outcome
}

func plainSum(_ clients: [ClientSetup], of ids: [ParticipantID]) -> [UInt32] {
    var sum = [UInt32](repeating: 0, count: clients[0].input.count)
    for c in clients where ids.contains(c.id) {
        for i in sum.indices { sum[i] &+= c.input[i] }
    }
    return sum
}

func randomWords(_ count: Int, _ label: String) -> [UInt32] {
    var rng = ChaChaRandom(seed: seed(label))
    return (0..<count).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
}

let prettyEncoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return e
}()
