import Testing
import Foundation
import Federation
import Seal

/// Prints (does not assert) the cost of a round: `swift test -c release --filter TimingTests`
/// measures 10 clients × 1M parameters; debug builds run a small size as a smoke test.
@Suite struct TimingTests {
    #if DEBUG
    static let length = 1 << 16
    #else
    static let length = 1 << 20
    #endif

    @Test func tenClientRoundWithOneDropout() throws {
        let n = 10, length = Self.length
        let setups = (1...n).map { ClientSetup.make(id: ParticipantID($0), scenario: "timing", input: [UInt32(0)]) }
        var keys: [ParticipantID: IdentityPublicKeys] = [:]
        var identities: [ParticipantID: Identity] = [:]
        for s in setups { identities[s.id] = try s.identity(); keys[s.id] = identities[s.id]!.publicKeys }
        let p = SecAggParameters(round: 1, threshold: 6, vectorLength: length)
        var server = try SecAggServer(parameters: p, identities: keys)
        var clients: [ParticipantID: SecAggClient] = [:]
        var rngs: [ParticipantID: ChaChaRandom] = [:]
        for s in setups {
            clients[s.id] = try SecAggClient(parameters: p, id: s.id, identity: identities[s.id]!, identities: keys)
            rngs[s.id] = ChaChaRandom(seed: try Hex.decode(s.rngSeed))
        }
        var inputs: [ParticipantID: [UInt32]] = [:]
        for id in clients.keys { inputs[id] = randomWords(length, "timing.\(id)") }
        let ids = clients.keys.sorted()
        for id in ids { try server.receive(try clients[id]!.advertiseKeys(using: &rngs[id]!)) }
        let roster = try server.closeAdvertiseKeys()
        for id in ids { try server.receive(try clients[id]!.shareKeys(roster: roster, using: &rngs[id]!)) }
        let forwarded = try server.closeShareKeys()
        let clock = ContinuousClock()
        var maskTime = Duration.zero
        var masked: [MaskedInput] = []
        for m in forwarded where m.recipient != 10 {
            let start = clock.now
            masked.append(try clients[m.recipient]!.maskedInput(shares: m, input: inputs[m.recipient]!))
            maskTime += clock.now - start
        }
        let serverStart = clock.now
        for m in masked { try server.receive(m) }
        let sumTime = clock.now - serverStart
        let list = try server.closeMaskedInput()
        for id in list.survivors { try server.receive(try clients[id]!.consistencyCheck(list)) }
        let request = try server.closeConsistencyCheck()
        for id in list.survivors { try server.receive(try clients[id]!.unmask(request)) }
        let unmaskStart = clock.now
        let sum = try server.finish()
        let unmaskTime = clock.now - unmaskStart
        var expected = [UInt32](repeating: 0, count: length)
        for id in list.survivors { try RingVector.add(inputs[id]!, into: &expected) }
        #expect(sum == expected)
        print("SecAgg timing, \(n) clients × \(length) params, 1 dropout: client masking \(maskTime / (n - 1)) each, " +
              "server summing \(sumTime), server unmasking \(unmaskTime)")
    }
}
