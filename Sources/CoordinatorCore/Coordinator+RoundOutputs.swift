public import Federation
import Foundation

// What a round produced, as participants fetch it (key roster, forwarded shares, survivor list,
// unmasking request) and as anyone reads it afterwards (summary).
extension Coordinator {
    /// Bytes a masked input of the open round has (for the server's body limit).
    public var maskedInputBytes: Int? { machine.openRound.map { $0.record.parameters.vectorLength * 4 } }

    /// The round `round` as seen by `client`, for the GET endpoints of stage outputs.
    func roundFor(_ round: UInt64, client: EnrolledClient) throws -> (ActiveRound, RoundParticipant) {
        guard let current = machine.current, current.round == round else {
            if round >= machine.nextRound {
                throw CoordinatorError(.roundNotFound, "Round \(round) does not exist.", remedy: "Poll GET /v1/round for the open round.")
            }
            throw CoordinatorError(.wrongRound, "Round \(round) is over.", remedy: "Poll GET /v1/round for the open round.")
        }
        guard let p = current.participant(clientID: client.id) else {
            throw CoordinatorError(.notParticipant, "This client was not sampled for round \(round).", remedy: "Keep polling GET /v1/round.")
        }
        return (current, p)
    }

    func notReady(_ what: String, _ round: UInt64) -> CoordinatorError {
        CoordinatorError(.stageNotReady, "The \(what) of round \(round) does not exist yet.", remedy: "Poll GET /v1/round until the stage that produces it has closed.")
    }

    public func roster(round: UInt64, for client: EnrolledClient) throws -> KeyRoster {
        let (r, _) = try roundFor(round, client: client)
        guard let roster = r.roster else { throw notReady("key roster", round) }
        return roster.signed(by: identity)
    }

    public func shares(round: UInt64, for client: EnrolledClient) throws -> SharesForYou {
        let (r, p) = try roundFor(round, client: client)
        guard r.hasForwardedShares else { throw notReady("forwarded shares", round) }
        guard let s = r.sharesFor(p.id) else {
            throw CoordinatorError(.notParticipant, "Participant \(p.id) did not share keys in round \(round), so nothing is forwarded to it.", remedy: "Wait for the next round.")
        }
        return s
    }

    public func survivors(round: UInt64, for client: EnrolledClient) throws -> SurvivorList {
        let (r, _) = try roundFor(round, client: client)
        guard let list = r.survivorList else { throw notReady("survivor list", round) }
        return list.signed(by: identity)
    }

    public func unmaskRequest(round: UInt64, for client: EnrolledClient) throws -> UnmaskRequest {
        let (r, _) = try roundFor(round, client: client)
        guard let request = r.unmaskRequest else { throw notReady("unmasking request", round) }
        return request.signed(by: identity)
    }

    public func summary(round: UInt64) throws -> RoundSummary {
        guard let r = try store.round(round) else {
            throw CoordinatorError(.roundNotFound, "Round \(round) does not exist.", remedy: "Take round numbers from GET /v1/round.")
        }
        return RoundSummary(round: r.round, stage: r.stage, sampled: r.participants.count, included: r.included, resultVersion: r.resultVersion,
                            abortReason: r.abortReason,
                            privacy: r.epsilonAfter.map { PrivacyReport(epsilonSpent: $0, delta: settings.delta, epsilonBudget: settings.epsilonBudget,
                                                                       roundsAccounted: r.roundsAccounted ?? 0) })
    }
}
