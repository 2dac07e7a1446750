import Diagnostics
public import Federation
internal import Foundation
import Seal

/// The open (or last) round in memory: its record, the SecAgg server state and the outputs of the
/// stages closed so far. Rebuilt after a restart by replaying the stored messages (`replay`).
public struct ActiveRound: Sendable {
    public internal(set) var record: RoundRecord
    var server: SecAggServer
    var submitted: [RoundStage: Set<ParticipantID>] = [:]
    public internal(set) var roster: KeyRoster?
    var sharesFor: [ParticipantID: SharesForYou]?
    public internal(set) var survivorList: SurvivorList?
    public internal(set) var unmaskRequest: UnmaskRequest?

    init(record: RoundRecord) throws {
        self.record = record
        var identities: [ParticipantID: IdentityPublicKeys] = [:]
        for p in record.participants { identities[p.id] = p.identity }
        do {
            server = try SecAggServer(parameters: record.parameters, identities: identities)
        } catch {
            throw CoordinatorError(.configuration, "Cannot set up secure aggregation for round \(record.round): \(error).",
                                   remedy: "Check the round configuration (threshold ≥ 2, a non-empty adapter).")
        }
    }

    public var round: UInt64 { record.round }
    var threshold: Int { record.parameters.threshold }

    public func participant(clientID: String) -> RoundParticipant? {
        record.participants.first { $0.clientID == clientID }
    }

    /// Who must still send a message for `stage` for it to close early.
    func expected(_ stage: RoundStage) -> Set<ParticipantID> {
        let ids: [ParticipantID]
        switch stage {
        case .advertiseKeys: ids = record.participants.map(\.id)
        case .shareKeys: ids = roster?.advertisements.map(\.sender) ?? []
        case .maskedInput: ids = sharesFor.map { Array($0.keys) } ?? []
        case .consistencyCheck: ids = survivorList?.survivors ?? []
        case .unmasking: ids = unmaskRequest?.signatures.map(\.sender) ?? []
        case .completed, .aborted: ids = []
        }
        return Set(ids).subtracting(record.excluded)
    }

    func hasSubmitted(_ p: ParticipantID, _ stage: RoundStage) -> Bool { submitted[stage]?.contains(p) ?? false }

    var allExpectedArrived: Bool {
        let stage = record.stage
        return !record.isFinished && expected(stage).isSubset(of: submitted[stage] ?? [])
    }

    var submittedCount: Int { submitted[record.stage]?.count ?? 0 }

    /// Feeds a message to SecAgg. A `FederationError` (the message breaks the protocol) comes back
    /// as `.rejected`, and the state is unchanged.
    mutating func receive(_ message: RoundMessage) throws(FederationError) {
        try catchingAny {
            switch message {
            case .advertiseKeys(let m): try server.receive(m)
            case .shareKeys(let m): try server.receive(m)
            case .maskedInput(let m): try server.receive(m)
            case .consistency(let m): try server.receive(m)
            case .unmask(let m): try server.receive(m)
            }
        }
        submitted[message.stage, default: []].insert(message.sender)
    }

    /// Closes the current stage of SecAgg and keeps its output; for the unmasking stage returns the
    /// exact sum of the included inputs. Does not touch the record's stage (the caller does).
    mutating func closeSecAggStage() throws(FederationError) -> [UInt32]? {
        switch record.stage {
        case .advertiseKeys:
            roster = try catchingAny { try server.closeAdvertiseKeys() }
        case .shareKeys:
            let list = try catchingAny { try server.closeShareKeys() }
            sharesFor = Dictionary(uniqueKeysWithValues: list.map { ($0.recipient, $0) })
        case .maskedInput:
            survivorList = try catchingAny { try server.closeMaskedInput() }
        case .consistencyCheck:
            unmaskRequest = try catchingAny { try server.closeConsistencyCheck() }
        case .unmasking:
            return try catchingAny { try server.finish(workers: ProcessInfo.processInfo.activeProcessorCount) }
        case .completed, .aborted:
            break
        }
        return nil
    }

    public func sharesFor(_ p: ParticipantID) -> SharesForYou? { sharesFor?[p] }
    var hasForwardedShares: Bool { sharesFor != nil }

    /// The stage after `stage` in a round that goes well.
    static func next(after stage: RoundStage) -> RoundStage {
        switch stage {
        case .advertiseKeys: .shareKeys
        case .shareKeys: .maskedInput
        case .maskedInput: .consistencyCheck
        case .consistencyCheck: .unmasking
        case .unmasking, .completed: .completed
        case .aborted: .aborted
        }
    }

    static let order: [RoundStage] = [.advertiseKeys, .shareKeys, .maskedInput, .consistencyCheck, .unmasking]
}

/// SecAggServer's methods are declared `throws`; everything they throw is a `FederationError`.
private func catchingAny<T>(_ body: () throws -> T) throws(FederationError) -> T {
    do { return try body() } catch let e as FederationError { throw e } catch {
        throw FederationError(.protocolViolation, "\(error)")
    }
}
