internal import Foundation
import Diagnostics
public import Seal

/// One client's side of a SecAgg round (Bonawitz et al. 2017, the actively secure variant with
/// signatures), as a value: each method takes the server's last message and returns the client's
/// next one, or throws and the client leaves the round. It never reads the clock or the network.
///
/// `identities` holds the enrolled Ed25519 identities of the round's sampled participants, as the
/// coordinator's signed round announcement lists them; signatures are checked against it.
public struct SecAggClient: Sendable {
    public enum Stage: Sendable, Equatable {
        case created, advertised, sharedKeys, sentMaskedInput, signedSurvivors, finished
    }

    public let parameters: SecAggParameters
    public let id: ParticipantID
    public private(set) var stage: Stage = .created
    /// Threads that expand the masks of the masked input (the result does not depend on it).
    public var maskingWorkers = 1
    /// The fewest participants (|U1|) this client shares its secrets among: its own policy, on top
    /// of the round's threshold. The coordinator cannot lower it.
    public var minimumCohort = 2

    private let identity: Identity
    private let identities: [ParticipantID: IdentityPublicKeys]

    private var encryptionSecret: SecretBytes?
    private var maskingSecret: SecretBytes?
    private var selfMaskSeed: SecretBytes?
    private var advertised: [ParticipantID: AdvertiseKeys] = [:]   // U1
    private var neighbourIDs: [ParticipantID] = []                 // neighbours in U1
    private var ownShares: (key: ShamirShare, selfMask: ShamirShare)?
    private var received: [ParticipantID: (key: [UInt8], selfMask: [UInt8])] = [:]  // from U2 neighbours
    private var survivors: [ParticipantID] = []                    // U3 as signed
    private var rosterHash: [UInt8] = []                           // H(U1) as this client saw it
    private var response: UnmaskResponse?

    public init(parameters: SecAggParameters, id: ParticipantID, identity: Identity,
                identities: [ParticipantID: IdentityPublicKeys]) throws {
        try parameters.validate()
        guard id != 0, identities[id] == identity.publicKeys else {
            throw FederationError(.invalidArgument, "Participant \(id) is not listed with this identity in the round's roster.")
        }
        self.parameters = parameters
        self.id = id
        self.identity = identity
        self.identities = identities
    }

    private var round: UInt64 { parameters.round }

    private func expect(_ expected: Stage, _ what: String) throws {
        guard stage == expected else {
            throw FederationError(.wrongStage, "\(what) arrived while the client is in stage \(stage).")
        }
    }

    private func checkRound(_ r: UInt64) throws {
        guard r == round else { throw FederationError(.protocolViolation, "A message for round \(r) arrived in round \(round).") }
    }

    // MARK: 0. AdvertiseKeys

    /// Draws c then s (32 bytes each, `bytes(count:)`) and signs both public keys.
    public mutating func advertiseKeys(using rng: inout some RandomNumberGenerator) throws -> AdvertiseKeys {
        try expect(.created, "A request to advertise keys")
        let c = X25519.keyPair(using: &rng)
        let s = X25519.keyPair(using: &rng)
        encryptionSecret = c.secret
        maskingSecret = s.secret
        let signed = AdvertiseKeys.signedBytes(round: round, sender: id, encryptionKey: Data(c.publicKey), maskingKey: Data(s.publicKey))
        stage = .advertised
        return AdvertiseKeys(round: round, sender: id, encryptionKey: Data(c.publicKey), maskingKey: Data(s.publicKey),
                             signature: Data(identity.sign(signed)))
    }

    // MARK: 1. ShareKeys

    /// Checks the roster (signatures, own keys unchanged, no key reused by two participants), then
    /// draws b (32 bytes), the t−1 coefficients for s_sk, the t−1 for b, and one 24-byte nonce per
    /// neighbour in ascending id order, and seals each neighbour its two shares.
    public mutating func shareKeys(roster: KeyRoster, using rng: inout some RandomNumberGenerator) throws -> ShareKeys {
        try expect(.advertised, "The key roster")
        try checkRound(roster.round)
        var seen: [ParticipantID: AdvertiseKeys] = [:]
        var keys = Set<Data>()
        for ad in roster.advertisements {
            try checkRound(ad.round)
            guard seen[ad.sender] == nil, let publicKeys = identities[ad.sender] else {
                throw FederationError(.protocolViolation, "The roster lists participant \(ad.sender) twice or is not in the round's roster.")
            }
            guard ad.encryptionKey.count == 32, ad.maskingKey.count == 32,
                  keys.insert(ad.encryptionKey).inserted, keys.insert(ad.maskingKey).inserted else {
                throw FederationError(.protocolViolation, "Participant \(ad.sender) advertised malformed or reused keys.")
            }
            let signed = AdvertiseKeys.signedBytes(round: round, sender: ad.sender, encryptionKey: ad.encryptionKey, maskingKey: ad.maskingKey)
            guard publicKeys.verify(signature: ad.signature, for: signed) else {
                throw FederationError(.badSignature, "The advertisement of participant \(ad.sender) is not signed by its identity.")
            }
            seen[ad.sender] = ad
        }
        guard let own = seen[id], own.encryptionKey == Data(X25519.publicKey(secret: encryptionSecret!)),
              own.maskingKey == Data(X25519.publicKey(secret: maskingSecret!)) else {
            throw FederationError(.protocolViolation, "The roster does not carry this client's own keys unchanged.")
        }
        let everyone = seen.keys.sorted()
        guard everyone.count >= parameters.threshold else {
            throw FederationError(.tooFewParticipants, "Only \(everyone.count) participants advertised keys; the threshold is \(parameters.threshold).")
        }
        guard everyone.count >= minimumCohort else {
            throw FederationError(.unsafeParameters, "Only \(everyone.count) participants advertised keys; this client's policy needs at least \(minimumCohort).")
        }
        let neighbours = parameters.neighbours(of: id, among: everyone)
        try parameters.checkMajority(cohort: everyone.count, holders: neighbours.count + 1)
        guard neighbours.count + 1 >= parameters.shareThreshold else {
            throw FederationError(.tooFewParticipants, "Only \(neighbours.count) neighbours advertised keys; the share threshold is \(parameters.shareThreshold).")
        }
        advertised = seen
        neighbourIDs = neighbours
        rosterHash = KeyRoster.hash(seen)

        var b = rng.bytes(count: 32)
        defer { for i in b.indices { b[i] = 0 } }
        let seed = SecretBytes(copying: b)
        selfMaskSeed = seed
        let xs = (neighbourIDs + [id]).sorted()
        let t = parameters.shareThreshold
        let keyShares = try maskingSecret!.withUnsafeBytes { sk in
            try Shamir.split(secret: Array(sk), threshold: t, xs: xs, using: &rng)
        }
        let maskShares = try Shamir.split(secret: b, threshold: t, xs: xs, using: &rng)
        var out: [EncryptedShare] = []
        for (i, v) in xs.enumerated() {
            if v == id {
                ownShares = (keyShares[i], maskShares[i])
                continue
            }
            let nonce = rng.bytes(count: ShareBox.nonceBytes)
            let key = try shareKey(with: v)
            let sealed = ShareBox.seal(keyShares[i].y + maskShares[i].y,
                                       ad: ShareBox.associatedData(round: round, sender: id, recipient: v), key: key, nonce: nonce)
            out.append(EncryptedShare(sender: id, recipient: v, ciphertext: Data(sealed)))
        }
        stage = .sharedKeys
        return ShareKeys(round: round, sender: id, shares: out)
    }

    private func shareKey(with v: ParticipantID) throws -> SecretBytes {
        try X25519.derivedKey(label: Label.pairShareKey, secret: encryptionSecret!, ownID: id,
                              ownPublic: [UInt8](advertised[id]!.encryptionKey),
                              peerID: v, peerPublic: [UInt8](advertised[v]!.encryptionKey), round: round)
    }

    // MARK: 2. MaskedInput

    /// Opens the shares addressed to this client (U2 = their senders and itself), then masks
    /// `input`: y = x + PRG(b) + Σ_{v ∈ U2 neighbours} (v > u ? + : −) PRG(s_uv).
    public mutating func maskedInput(shares: SharesForYou, input: [UInt32]) throws -> MaskedInput {
        try expect(.sharedKeys, "The forwarded shares")
        try checkRound(shares.round)
        guard shares.recipient == id else {
            throw FederationError(.protocolViolation, "Shares addressed to participant \(shares.recipient) were delivered to \(id).")
        }
        guard input.count == parameters.vectorLength else {
            throw FederationError(.lengthMismatch, "The input has \(input.count) words; the round expects \(parameters.vectorLength).")
        }
        var opened: [ParticipantID: (key: [UInt8], selfMask: [UInt8])] = [:]
        for share in shares.shares {
            guard share.recipient == id, neighbourIDs.contains(share.sender), opened[share.sender] == nil else {
                throw FederationError(.protocolViolation, "A forwarded share from \(share.sender) is misaddressed, duplicated or not from a neighbour.")
            }
            let key = try shareKey(with: share.sender)
            guard let plain = ShareBox.open([UInt8](share.ciphertext),
                                            ad: ShareBox.associatedData(round: round, sender: share.sender, recipient: id), key: key),
                  plain.count == 64 else {
                throw FederationError(.decryptionFailed, "The share from participant \(share.sender) did not open; the server or the sender altered it.")
            }
            opened[share.sender] = (Array(plain[0..<32]), Array(plain[32..<64]))
        }
        guard opened.count + 1 >= parameters.shareThreshold else {
            throw FederationError(.tooFewParticipants, "Only \(opened.count) neighbours shared keys; the share threshold is \(parameters.shareThreshold).")
        }
        received = opened

        var masks: [(seed: SecretBytes, sign: MaskExpansion.Sign)] = [(selfMaskSeed!, .add)]
        for v in opened.keys.sorted() {
            masks.append((try pairSeed(with: v), id < v ? .add : .subtract))
        }
        var y = input
        MaskExpansion.apply(masks, round: round, to: &y, workers: maskingWorkers)
        stage = .sentMaskedInput
        return MaskedInput(round: round, sender: id, vector: y)
    }

    private func pairSeed(with v: ParticipantID) throws -> SecretBytes {
        try X25519.derivedKey(label: Label.pairMaskSeed, secret: maskingSecret!, ownID: id,
                              ownPublic: [UInt8](advertised[id]!.maskingKey),
                              peerID: v, peerPublic: [UInt8](advertised[v]!.maskingKey), round: round)
    }

    // MARK: 3. ConsistencyCheck

    public mutating func consistencyCheck(_ list: SurvivorList) throws -> ConsistencySignature {
        try expect(.sentMaskedInput, "The survivor list")
        try checkRound(list.round)
        let u3 = list.survivors
        guard u3 == u3.sorted(), Set(u3).count == u3.count, u3.contains(id),
              u3.allSatisfy({ $0 == id || received[$0] != nil || advertised[$0] != nil }) else {
            throw FederationError(.protocolViolation, "The survivor list is unsorted, repeats a participant, omits this client or names an unknown one.")
        }
        // Survivors among this client's neighbours must have shared keys with it (they are in U2).
        guard u3.allSatisfy({ $0 == id || !neighbourIDs.contains($0) || received[$0] != nil }) else {
            throw FederationError(.protocolViolation, "The survivor list names a neighbour that never shared keys.")
        }
        guard u3.count >= parameters.threshold else {
            throw FederationError(.tooFewParticipants, "Only \(u3.count) participants survived; the threshold is \(parameters.threshold).")
        }
        survivors = u3
        stage = .signedSurvivors
        return ConsistencySignature(round: round, sender: id,
                                    signature: Data(identity.sign(SurvivorList.signedBytes(parameters: parameters, rosterHash: rosterHash, survivors: u3))))
    }

    // MARK: 4. Unmasking

    /// Checks that at least t survivors signed the very list this client signed, then reveals,
    /// for itself and each neighbour in U2, the self-mask share if it survived and the key share
    /// if it dropped. Asked again, it repeats the same answer for the same list and refuses any
    /// other list (which could reveal both shares of someone).
    public mutating func unmask(_ request: UnmaskRequest) throws -> UnmaskResponse {
        if stage == .finished, let response {
            guard request.round == round, request.survivors == survivors else {
                throw FederationError(.wouldRevealBoth, "A second unmasking request names a different survivor list; answering could reveal both masks of a participant.")
            }
            return response
        }
        try expect(.signedSurvivors, "The unmasking request")
        try checkRound(request.round)
        guard request.survivors == survivors else {
            throw FederationError(.wouldRevealBoth, "The unmasking request names a survivor list other than the one this client signed.")
        }
        let signed = SurvivorList.signedBytes(parameters: parameters, rosterHash: rosterHash, survivors: survivors)
        var signers = Set<ParticipantID>()
        for s in request.signatures {
            guard s.round == round, survivors.contains(s.sender), let keys = identities[s.sender],
                  signers.insert(s.sender).inserted else {
                throw FederationError(.protocolViolation, "A consistency signature comes from \(s.sender), who is not a survivor, or is repeated.")
            }
            guard keys.verify(signature: s.signature, for: signed) else {
                throw FederationError(.badSignature, "Participant \(s.sender) did not sign this survivor list with these parameters and this key roster: the server showed different views.")
            }
        }
        guard signers.contains(id), signers.count >= parameters.threshold else {
            throw FederationError(.tooFewParticipants, "Only \(signers.count) survivors confirmed the list; the threshold is \(parameters.threshold).")
        }
        let alive = Set(survivors)
        var selfMask: [RevealedShare] = []
        var keys: [RevealedShare] = []
        if let own = ownShares { selfMask.append(RevealedShare(owner: id, share: Data(own.selfMask.y))) }
        for v in received.keys.sorted() {
            let pair = received[v]!
            if alive.contains(v) {
                selfMask.append(RevealedShare(owner: v, share: Data(pair.selfMask)))
            } else {
                keys.append(RevealedShare(owner: v, share: Data(pair.key)))
            }
        }
        precondition(Set(selfMask.map(\.owner)).isDisjoint(with: keys.map(\.owner)))
        let answer = UnmaskResponse(round: round, sender: id, selfMaskShares: selfMask.sorted { $0.owner < $1.owner }, keyShares: keys)
        response = answer
        stage = .finished
        // The round's secrets are no longer needed.
        received = [:]
        ownShares = nil
        return answer
    }
}
