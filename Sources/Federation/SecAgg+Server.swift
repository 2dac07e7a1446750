import Diagnostics
public import Seal
internal import Foundation

/// The server's side of a SecAgg round as a value: `receive` each client message (in any order
/// within a stage), `close…` a stage when the coordinator decides (enough messages or the stage's
/// deadline), and `finish` with the exact sum of the survivors' inputs. Messages that break the
/// protocol throw and change nothing; the coordinator excludes their senders.
public struct SecAggServer: Sendable {
    public enum Stage: Sendable, Equatable {
        case advertiseKeys, shareKeys, maskedInput, consistencyCheck, unmasking, finished
    }

    public let parameters: SecAggParameters
    public private(set) var stage: Stage = .advertiseKeys
    private let identities: [ParticipantID: IdentityPublicKeys]

    private var advertised: [ParticipantID: AdvertiseKeys] = [:]   // U1
    private var everyone: [ParticipantID] = []                     // U1, ascending
    private var rosterHash: [UInt8] = []                           // H(U1), bound by the survivor signatures
    private var adjacency: [ParticipantID: [ParticipantID]] = [:]  // neighbours in U1, ascending
    private var shareMessages: [ParticipantID: ShareKeys] = [:]    // U2
    private var sum: [UInt32]                                      // Σ y over U3
    private var maskedSenders = Set<ParticipantID>()               // U3
    private var survivors: [ParticipantID] = []                    // U3, ascending, as sent
    private var signatures: [ParticipantID: ConsistencySignature] = [:]  // U4
    private var responses: [ParticipantID: UnmaskResponse] = [:]   // U5

    public init(parameters: SecAggParameters, identities: [ParticipantID: IdentityPublicKeys]) throws {
        try parameters.validate()
        guard !identities.keys.contains(0) else { throw FederationError(.invalidArgument, "Participant id 0 is reserved.") }
        self.parameters = parameters
        self.identities = identities
        self.sum = [UInt32](repeating: 0, count: parameters.vectorLength)
    }

    private var round: UInt64 { parameters.round }
    private var threshold: Int { parameters.threshold }

    private func expect(_ expected: Stage, _ what: String) throws {
        guard stage == expected else { throw FederationError(.wrongStage, "\(what) arrived while the round is in stage \(stage).") }
    }

    private func checkRound(_ r: UInt64) throws {
        guard r == round else { throw FederationError(.protocolViolation, "A message for round \(r) arrived in round \(round).") }
    }

    private func atLeastThreshold(_ n: Int, _ stageName: String) throws {
        guard n >= threshold else {
            throw FederationError(.tooFewParticipants, "Only \(n) participants completed \(stageName); the threshold is \(threshold). Abort the round.")
        }
    }

    // MARK: 0. AdvertiseKeys

    public mutating func receive(_ m: AdvertiseKeys) throws {
        try expect(.advertiseKeys, "An advertisement")
        try checkRound(m.round)
        guard let keys = identities[m.sender], advertised[m.sender] == nil else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) is not in this round or already advertised keys.")
        }
        guard m.encryptionKey.count == 32, m.maskingKey.count == 32, m.encryptionKey != m.maskingKey else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) advertised malformed keys.")
        }
        guard X25519.isAcceptablePublicKey(m.encryptionKey), X25519.isAcceptablePublicKey(m.maskingKey) else {
            throw FederationError(.invalidKey, "Participant \(m.sender) advertised a low-order X25519 key, which would make every agreement with it fail; it is excluded.")
        }
        guard keys.verify(signature: m.signature, for: AdvertiseKeys.signedBytes(round: round, sender: m.sender,
                                                                             encryptionKey: m.encryptionKey, maskingKey: m.maskingKey)) else {
            throw FederationError(.badSignature, "The advertisement of participant \(m.sender) is not signed by its identity.")
        }
        advertised[m.sender] = m
    }

    public mutating func closeAdvertiseKeys() throws -> KeyRoster {
        try expect(.advertiseKeys, "Closing AdvertiseKeys")
        try atLeastThreshold(advertised.count, "AdvertiseKeys")
        everyone = advertised.keys.sorted()
        rosterHash = KeyRoster.hash(advertised)
        if let graph = parameters.graph {
            adjacency = graph.adjacency(among: everyone)
        } else {
            for u in everyone { adjacency[u] = everyone.filter { $0 != u } }
        }
        stage = .shareKeys
        return KeyRoster(round: round, advertisements: everyone.map { advertised[$0]! })
    }

    // MARK: 1. ShareKeys

    public mutating func receive(_ m: ShareKeys) throws {
        try expect(.shareKeys, "Encrypted shares")
        try checkRound(m.round)
        guard advertised[m.sender] != nil, shareMessages[m.sender] == nil else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) did not advertise keys or already sent shares.")
        }
        let expected = adjacency[m.sender] ?? []
        guard m.shares.map(\.recipient) == expected,
              m.shares.allSatisfy({ $0.sender == m.sender && $0.ciphertext.count == ShareBox.nonceBytes + 64 + ShareBox.tagBytes }) else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) must send exactly one well-formed share to each neighbour, in ascending order.")
        }
        shareMessages[m.sender] = m
    }

    /// One message per participant in U2, each carrying the shares addressed to it.
    public mutating func closeShareKeys() throws -> [SharesForYou] {
        try expect(.shareKeys, "Closing ShareKeys")
        try atLeastThreshold(shareMessages.count, "ShareKeys")
        let u2 = shareMessages.keys.sorted()
        var inbox: [ParticipantID: [EncryptedShare]] = [:]
        for u in u2 {
            for share in shareMessages[u]!.shares where shareMessages[share.recipient] != nil {
                inbox[share.recipient, default: []].append(share)
            }
        }
        stage = .maskedInput
        return u2.map { SharesForYou(round: round, recipient: $0, shares: inbox[$0] ?? []) }
    }

    // MARK: 2. MaskedInput

    /// Adds y into the running sum at once, so the server holds one vector, not one per client.
    public mutating func receive(_ m: MaskedInput) throws {
        try expect(.maskedInput, "A masked input")
        try checkRound(m.round)
        guard shareMessages[m.sender] != nil, !maskedSenders.contains(m.sender) else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) did not share keys or already sent its masked input.")
        }
        guard m.words.count == parameters.vectorLength * 4 else {
            throw FederationError(.lengthMismatch, "The masked input of participant \(m.sender) has \(m.words.count) bytes; the round expects \(parameters.vectorLength * 4).")
        }
        sum.withUnsafeMutableBufferPointer { acc in
            m.words.withUnsafeBytes { raw in
                #if _endian(little)
                if Int(bitPattern: raw.baseAddress) % MemoryLayout<UInt32>.alignment == 0 {
                    RingVector.addWords(raw.assumingMemoryBound(to: UInt32.self), into: acc)
                    return
                }
                #endif
                for i in 0..<acc.count { acc[i] &+= UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            }
        }
        maskedSenders.insert(m.sender)
    }

    public mutating func closeMaskedInput() throws -> SurvivorList {
        try expect(.maskedInput, "Closing MaskedInput")
        try atLeastThreshold(maskedSenders.count, "MaskedInput")
        survivors = maskedSenders.sorted()
        stage = .consistencyCheck
        return SurvivorList(round: round, survivors: survivors)
    }

    // MARK: 3. ConsistencyCheck

    public mutating func receive(_ m: ConsistencySignature) throws {
        try expect(.consistencyCheck, "A consistency signature")
        try checkRound(m.round)
        guard maskedSenders.contains(m.sender), signatures[m.sender] == nil, let keys = identities[m.sender] else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) is not a survivor or already signed.")
        }
        guard keys.verify(signature: m.signature, for: SurvivorList.signedBytes(parameters: parameters, rosterHash: rosterHash, survivors: survivors)) else {
            throw FederationError(.badSignature, "Participant \(m.sender) did not sign the survivor list this server sent.")
        }
        signatures[m.sender] = m
    }

    public mutating func closeConsistencyCheck() throws -> UnmaskRequest {
        try expect(.consistencyCheck, "Closing ConsistencyCheck")
        try atLeastThreshold(signatures.count, "ConsistencyCheck")
        stage = .unmasking
        return UnmaskRequest(round: round, survivors: survivors, signatures: signatures.keys.sorted().map { signatures[$0]! })
    }

    // MARK: 4. Unmasking

    public mutating func receive(_ m: UnmaskResponse) throws {
        try expect(.unmasking, "An unmasking response")
        try checkRound(m.round)
        guard signatures[m.sender] != nil, responses[m.sender] == nil else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) did not confirm the survivor list or already answered.")
        }
        let holders = Set((adjacency[m.sender] ?? []) + [m.sender])
        let alive = maskedSenders
        let selfOwners = m.selfMaskShares.map(\.owner)
        let keyOwners = m.keyShares.map(\.owner)
        guard Set(selfOwners).count == selfOwners.count, Set(keyOwners).count == keyOwners.count,
              Set(selfOwners).isDisjoint(with: keyOwners),
              selfOwners.allSatisfy({ alive.contains($0) && holders.contains($0) }),
              keyOwners.allSatisfy({ !alive.contains($0) && shareMessages[$0] != nil && holders.contains($0) }),
              (m.selfMaskShares + m.keyShares).allSatisfy({ $0.share.count == 32 }) else {
            throw FederationError(.protocolViolation, "Participant \(m.sender) revealed shares it does not hold, of the wrong kind, or both kinds for one participant.")
        }
        responses[m.sender] = m
    }

    /// Reconstructs each survivor's self-mask seed and each dropout's masking key from the
    /// revealed shares, removes the masks and returns Σ_{u ∈ U3} x_u mod 2^32.
    /// `workers`: threads for removing the masks (the result does not depend on it). The masks
    /// are removed from the running sum in place, chunk by chunk (`MaskExpansion.apply`).
    public mutating func finish(workers: Int = 1) throws -> [UInt32] {
        try expect(.unmasking, "Finishing")
        try atLeastThreshold(responses.count, "Unmasking")
        var selfShares: [ParticipantID: [ShamirShare]] = [:]
        var keyShares: [ParticipantID: [ShamirShare]] = [:]
        for (holder, r) in responses.sorted(by: { $0.key < $1.key }) {
            for s in r.selfMaskShares { selfShares[s.owner, default: []].append(ShamirShare(x: holder, y: [UInt8](s.share))) }
            for s in r.keyShares { keyShares[s.owner, default: []].append(ShamirShare(x: holder, y: [UInt8](s.share))) }
        }
        var masks: [(seed: SecretBytes, sign: MaskExpansion.Sign)] = []
        for u in survivors {
            var seed = try Shamir.combine(selfShares[u] ?? [], threshold: parameters.shareThreshold)
            masks.append((SecretBytes(copying: seed), .subtract))
            for i in seed.indices { seed[i] = 0 }
        }
        let dropped = shareMessages.keys.filter { !maskedSenders.contains($0) }.sorted()
        for u in dropped {
            let neighboursAlive = (adjacency[u] ?? []).filter { maskedSenders.contains($0) }
            if neighboursAlive.isEmpty { continue }
            var raw = try Shamir.combine(keyShares[u] ?? [], threshold: parameters.shareThreshold)
            let secret = SecretBytes(copying: raw)
            for i in raw.indices { raw[i] = 0 }
            let ownPublic = [UInt8](advertised[u]!.maskingKey)
            guard X25519.publicKey(secret: secret) == ownPublic else {
                throw FederationError(.inconsistentShares, "The masking key rebuilt for participant \(u) does not match its advertised key: a survivor revealed a wrong share.")
            }
            for v in neighboursAlive {
                let seed = try X25519.derivedKey(label: Label.pairMaskSeed, secret: secret, ownID: u, ownPublic: ownPublic,
                                                 peerID: v, peerPublic: [UInt8](advertised[v]!.maskingKey), round: round)
                // v added +PRG if v < u and −PRG if v > u; undo it.
                masks.append((seed, v < u ? .subtract : .add))
            }
        }
        MaskExpansion.apply(masks, round: round, to: &sum, workers: workers)
        stage = .finished
        let total = sum
        sum = []
        return total
    }

    /// U3: the participants whose inputs are in the sum (known after `closeMaskedInput`).
    public var includedParticipants: [ParticipantID] { survivors }
}
