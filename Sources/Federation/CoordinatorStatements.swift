import Diagnostics
public import Foundation
public import Seal

// What the coordinator says about a round — the round status (parameters, participant roster), the
// key roster, the survivor list and the unmask request — carries its Ed25519 signature under the key
// the client pinned at enrollment, over a transcript of every field (PROTOCOL.md §2.4, "Signed
// round statements"). The client refuses an unsigned or wrongly signed statement. Against the
// coordinator itself this does not prevent lying (it can sign two views); it makes every view it
// showed attributable, and it keeps a network attacker on plain HTTP from altering any of them.

enum StatementLabel {
    static let status = "pllm.round.v1.status"
    static let roster = "pllm.round.v1.roster"
    static let survivors = "pllm.round.v1.survivors"
    static let unmask = "pllm.round.v1.unmask-request"
}

private func verifyStatement(_ signature: Data?, _ bytes: [UInt8], coordinatorKey: Data, what: String) throws {
    guard let signature else {
        throw FederationError(.badSignature, "The coordinator's \(what) is not signed; this client accepts only statements signed by the pinned key.")
    }
    let keys = try IdentityPublicKeys(signing: coordinatorKey, agreement: Data(repeating: 9, count: 32))
    guard keys.verify(signature: signature, for: bytes) else {
        throw FederationError(.badSignature, "The coordinator's \(what) does not verify under the pinned key: it was altered on the way or signed by another key.")
    }
}

extension Transcript {
    mutating func append(_ p: SecAggParameters) {
        append(p.round)
        append(UInt32(p.threshold))
        append(UInt32(p.vectorLength))
        append(UInt32(p.graph?.degree ?? 0))
        appendBytes(p.graph?.seed ?? [])
        append(UInt32(p.graph?.threshold ?? 0))
    }
}

extension RoundStatus {
    /// T("pllm.round.v1.status") ‖ T(client's signing key) ‖ BE64(round or 0) ‖ T(stage or "") ‖
    /// BE64(deadline, Unix s, or 0) ‖ BE16(participant or 0) ‖ BE8(parameters present) ‖ parameters
    /// (BE64 round ‖ BE32 t ‖ BE32 n ‖ BE32 k ‖ T(seed) ‖ BE32 t_k) ‖ BE64(adapter version + 1, or 0) ‖
    /// BE8(submitted) ‖ BE32(|participants|) ‖ (BE16 id ‖ T(signing) ‖ T(agreement))… ‖ BE64(manifest sequence).
    public func signedBytes(client: Data) -> [UInt8] {
        var t = Transcript(label: StatementLabel.status)
        t.appendBytes(client)
        t.append(round ?? 0)
        t.appendBytes(Array((stage?.rawValue ?? "").utf8))
        t.append(UInt64(max(0, deadline?.timeIntervalSince1970.rounded(.down) ?? 0)))
        t.append(participant ?? 0)
        t.appendBytes(parameters == nil ? [] : [1])
        if let parameters { t.append(parameters) }
        t.append(adapterVersion.map { UInt64($0) + 1 } ?? 0)
        t.appendBytes(submitted ? [1] : [])
        t.append(UInt32(participants?.count ?? 0))
        for e in participants ?? [] {
            t.append(e.id)
            t.appendBytes(e.identity.signing)
            t.appendBytes(e.identity.agreement)
        }
        t.append(UInt64(bitPattern: manifestSequence))
        return t.bytes
    }

    public func signed(by coordinator: Identity, client: Data) -> RoundStatus {
        var s = self
        s.coordinatorSignature = Data(coordinator.sign(signedBytes(client: client)))
        return s
    }

    public func verify(coordinatorKey: Data, client: Data) throws {
        try verifyStatement(coordinatorSignature, signedBytes(client: client), coordinatorKey: coordinatorKey, what: "round status")
    }
}

extension KeyRoster {
    /// T("pllm.round.v1.roster") ‖ BE64(round) ‖ BE32(count) ‖ (BE16 sender ‖ T(c_pk) ‖ T(s_pk) ‖ T(signature))…
    public var signedBytes: [UInt8] {
        var t = Transcript(label: StatementLabel.roster)
        t.append(round)
        t.append(UInt32(advertisements.count))
        for a in advertisements {
            t.append(a.sender)
            t.appendBytes(a.encryptionKey)
            t.appendBytes(a.maskingKey)
            t.appendBytes(a.signature)
        }
        return t.bytes
    }

    public func signed(by coordinator: Identity) -> KeyRoster {
        var r = self
        r.coordinatorSignature = Data(coordinator.sign(signedBytes))
        return r
    }

    public func verify(coordinatorKey: Data) throws {
        try verifyStatement(coordinatorSignature, signedBytes, coordinatorKey: coordinatorKey, what: "key roster")
    }
}

extension SurvivorList {
    /// T("pllm.round.v1.survivors") ‖ BE64(round) ‖ BE32(count) ‖ BE16(id)…
    public var coordinatorSignedBytes: [UInt8] {
        var t = Transcript(label: StatementLabel.survivors)
        t.append(round)
        t.append(UInt32(survivors.count))
        for id in survivors { t.append(id) }
        return t.bytes
    }

    public func signed(by coordinator: Identity) -> SurvivorList {
        var l = self
        l.coordinatorSignature = Data(coordinator.sign(coordinatorSignedBytes))
        return l
    }

    public func verify(coordinatorKey: Data) throws {
        try verifyStatement(coordinatorSignature, coordinatorSignedBytes, coordinatorKey: coordinatorKey, what: "survivor list")
    }
}

extension UnmaskRequest {
    /// T("pllm.round.v1.unmask-request") ‖ BE64(round) ‖ BE32(count) ‖ BE16(id)… ‖ BE32(signatures) ‖ (BE16 sender ‖ T(signature))…
    public var signedBytes: [UInt8] {
        var t = Transcript(label: StatementLabel.unmask)
        t.append(round)
        t.append(UInt32(survivors.count))
        for id in survivors { t.append(id) }
        t.append(UInt32(signatures.count))
        for s in signatures {
            t.append(s.sender)
            t.appendBytes(s.signature)
        }
        return t.bytes
    }

    public func signed(by coordinator: Identity) -> UnmaskRequest {
        var r = self
        r.coordinatorSignature = Data(coordinator.sign(signedBytes))
        return r
    }

    public func verify(coordinatorKey: Data) throws {
        try verifyStatement(coordinatorSignature, signedBytes, coordinatorKey: coordinatorKey, what: "unmask request")
    }
}
