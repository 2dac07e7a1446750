import Diagnostics
import Federation
public import Foundation
import Seal

/// What `pcoord status` prints. The text form shows client-chosen names escaped
/// (`TerminalText`): a name is the one thing in it that a client, not the operator, chose.
public struct StatusReport: Codable, Sendable {
    public struct Client: Codable, Sendable {
        public let id: String; public let name: String?; public let enrolledAt: Date; public let lastSeen: Date?
        /// Rounds it was excluded from for a message SecAgg refused; `suspended` at the coordinator's K.
        public let exclusions: Int; public let suspended: Bool
    }
    public struct Round: Codable, Sendable {
        public let round: UInt64; public let stage: String; public let sampled: Int; public let included: Int?; public let resultVersion: Int?
        public let abortReason: String?
    }

    /// The coordinator's Ed25519 key: base64, hex (what `pclient join --expect-key` takes) and its fingerprint.
    public let coordinatorKey: String
    public let coordinatorKeyHex: String
    public let coordinatorKeyFingerprint: String
    public let manifestSequence: Int64
    public let baseSHA256: String?
    public let adapterVersion: Int?
    public let epsilonSpent: Double
    public let epsilonBudget: Double
    public let delta: Double
    public let clients: [Client]
    public let rounds: [Round]

    public static func make(_ c: Coordinator) async throws -> StatusReport {
        let state = try c.store.loadState()
        let exclusions = await c.exclusions
        var suspended = Set<String>()
        for id in exclusions.keys where await c.isSuspended(id) { suspended.insert(id) }
        return StatusReport(
            coordinatorKey: c.publicKey.base64EncodedString(), coordinatorKeyHex: Hex.encode(c.publicKey),
            coordinatorKeyFingerprint: KeyFingerprint.of(c.publicKey), manifestSequence: state.manifestSequence, baseSHA256: state.base?.sha256,
            adapterVersion: await c.currentAdapter?.version, epsilonSpent: await c.epsilonSpent,
            epsilonBudget: c.settings.epsilonBudget, delta: c.settings.delta,
            clients: try c.store.clients().map { Client(id: $0.id, name: $0.name, enrolledAt: $0.enrolledAt, lastSeen: $0.lastSeen,
                                                        exclusions: exclusions[$0.id] ?? 0, suspended: suspended.contains($0.id)) },
            rounds: try c.store.rounds().map { Round(round: $0.round, stage: $0.stage.rawValue, sampled: $0.participants.count, included: $0.included,
                                                     resultVersion: $0.resultVersion, abortReason: $0.abortReason) })
    }

    public var text: String {
        var lines = ["coordinator key \(coordinatorKeyHex) (fingerprint \(coordinatorKeyFingerprint))",
                     "base \(baseSHA256 ?? "not published") · shared adapter version \(adapterVersion.map(String.init) ?? "none") · manifest \(manifestSequence)",
                     String(format: "privacy: ε = %.3f of %.3f at δ = %g", epsilonSpent, epsilonBudget, delta),
                     "clients (\(clients.count)):"]
        for c in clients {
            var line = "  \(c.id.prefix(16))…  \(c.name.map { TerminalText.escaped($0) } ?? "-")  enrolled \(c.enrolledAt)  last seen \(c.lastSeen.map { "\($0)" } ?? "never")"
            if c.exclusions > 0 { line += "  excluded in \(c.exclusions) round(s)" + (c.suspended ? ": SUSPENDED from sampling" : "") }
            lines.append(line)
        }
        lines.append("rounds (\(rounds.count)):")
        for r in rounds {
            var line = "  #\(r.round) \(r.stage) sampled \(r.sampled)"
            if let i = r.included { line += " included \(i)" }
            if let v = r.resultVersion { line += " → version \(v)" }
            if let a = r.abortReason { line += " (\(TerminalText.escaped(a)))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
