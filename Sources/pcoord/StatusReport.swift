import CoordinatorCore
import Federation
import Foundation

/// What `pcoord status` prints.
struct StatusReport: Codable {
    struct Client: Codable {
        let id: String; let name: String?; let enrolledAt: Date; let lastSeen: Date?
        /// Rounds it was excluded from for a message SecAgg refused; `suspended` at the coordinator's K.
        let exclusions: Int; let suspended: Bool
    }
    struct Round: Codable { let round: UInt64; let stage: String; let sampled: Int; let included: Int?; let resultVersion: Int?; let abortReason: String? }

    let coordinatorKey: String
    let manifestSequence: Int64
    let baseSHA256: String?
    let adapterVersion: Int?
    let epsilonSpent: Double
    let epsilonBudget: Double
    let delta: Double
    let clients: [Client]
    let rounds: [Round]

    static func make(_ c: Coordinator) async throws -> StatusReport {
        let state = try c.store.loadState()
        let exclusions = await c.exclusions
        var suspended = Set<String>()
        for id in exclusions.keys where await c.isSuspended(id) { suspended.insert(id) }
        return StatusReport(
            coordinatorKey: c.publicKey.base64EncodedString(), manifestSequence: state.manifestSequence, baseSHA256: state.base?.sha256,
            adapterVersion: await c.currentAdapter?.version, epsilonSpent: await c.epsilonSpent,
            epsilonBudget: c.settings.epsilonBudget, delta: c.settings.delta,
            clients: try c.store.clients().map { Client(id: $0.id, name: $0.name, enrolledAt: $0.enrolledAt, lastSeen: $0.lastSeen,
                                                        exclusions: exclusions[$0.id] ?? 0, suspended: suspended.contains($0.id)) },
            rounds: try c.store.rounds().map { Round(round: $0.round, stage: $0.stage.rawValue, sampled: $0.participants.count, included: $0.included,
                                                     resultVersion: $0.resultVersion, abortReason: $0.abortReason) })
    }

    var text: String {
        var lines = ["coordinator key \(coordinatorKey)",
                     "base \(baseSHA256 ?? "not published") · shared adapter version \(adapterVersion.map(String.init) ?? "none") · manifest \(manifestSequence)",
                     String(format: "privacy: ε = %.3f of %.3f at δ = %g", epsilonSpent, epsilonBudget, delta),
                     "clients (\(clients.count)):"]
        for c in clients {
            var line = "  \(c.id.prefix(16))…  \(c.name ?? "-")  enrolled \(c.enrolledAt)  last seen \(c.lastSeen.map { "\($0)" } ?? "never")"
            if c.exclusions > 0 { line += "  excluded in \(c.exclusions) round(s)" + (c.suspended ? ": SUSPENDED from sampling" : "") }
            lines.append(line)
        }
        lines.append("rounds (\(rounds.count)):")
        for r in rounds {
            var line = "  #\(r.round) \(r.stage) sampled \(r.sampled)"
            if let i = r.included { line += " included \(i)" }
            if let v = r.resultVersion { line += " → version \(v)" }
            if let a = r.abortReason { line += " (\(a))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
