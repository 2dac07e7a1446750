import Diagnostics
internal import Foundation

/// What a client accepts of a round, whatever the coordinator says: the noise and the budget in the
/// manifest are the coordinator's word, so each client keeps its own floor and its own accountant.
///
/// Defaults are protective, for a client that takes part in a few dozen rounds: z ≥ 1, at most
/// ε = 5 per round and ε = 50 in total at δ = 1e-5 (charged at q = 1, see `PrivacyLedger`), and a
/// cohort of at least 5 participants. `pclient join`/`pclient federation policy` change them.
public struct ClientPrivacyPolicy: Codable, Sendable, Hashable {
    public static let defaultMinimumNoiseMultiplier = 1.0
    public static let defaultMaximumRoundEpsilon = 5.0
    public static let defaultMaximumEpsilon = 50.0
    public static let defaultMinimumCohort = 5
    public static let defaultDelta = 1e-5

    /// z the manifest must give at least.
    public var minimumNoiseMultiplier: Double
    /// ε (at `delta`) one round may cost at most.
    public var maximumRoundEpsilon: Double
    /// ε (at `delta`) all the rounds this client took part in may cost together.
    public var maximumEpsilon: Double
    /// The fewest participants (sampled, and in U1) a round may have; also bounds t from below.
    public var minimumCohort: Int
    /// δ at which this client reports and checks ε (its own, not the coordinator's).
    public var delta: Double

    public init(minimumNoiseMultiplier: Double = Self.defaultMinimumNoiseMultiplier,
                maximumRoundEpsilon: Double = Self.defaultMaximumRoundEpsilon,
                maximumEpsilon: Double = Self.defaultMaximumEpsilon,
                minimumCohort: Int = Self.defaultMinimumCohort, delta: Double = Self.defaultDelta) throws {
        guard minimumNoiseMultiplier.isFinite, minimumNoiseMultiplier > 0, maximumRoundEpsilon.isFinite, maximumRoundEpsilon > 0,
              maximumEpsilon.isFinite, maximumEpsilon > 0, minimumCohort >= 2, delta > 0, delta < 1 else {
            throw FederationError(.invalidArgument, "A privacy policy needs a positive minimum noise, positive finite ε limits, a cohort of at least 2 and 0 < δ < 1.")
        }
        self.minimumNoiseMultiplier = minimumNoiseMultiplier
        self.maximumRoundEpsilon = maximumRoundEpsilon
        self.maximumEpsilon = maximumEpsilon
        self.minimumCohort = minimumCohort
        self.delta = delta
    }

    public static var standard: ClientPrivacyPolicy { try! ClientPrivacyPolicy() }

    /// The multiplier the sum carries at the least: z·√(t/n_min), with t the survivors every stage needs.
    static func chargedMultiplier(_ config: RoundConfig, _ p: SecAggParameters) -> Double {
        config.dp.effectiveNoiseMultiplier(survivors: max(p.threshold, config.dp.minimumClients))
    }

    /// Refuses a round (before this client reveals anything) whose noise is below the floor, whose
    /// cohort is too small, or that would take this client's ε past either limit.
    public func check(_ config: RoundConfig, parameters p: SecAggParameters, sampled: Int, ledger: PrivacyLedger) throws {
        func refuse(_ what: String) -> FederationError {
            FederationError(.unsafeParameters, "This client's privacy policy refuses the round: \(what).")
        }
        guard config.dp.noiseMultiplier >= minimumNoiseMultiplier else {
            throw refuse("noise multiplier \(config.dp.noiseMultiplier) below the minimum \(minimumNoiseMultiplier) (pclient federation policy --min-noise)")
        }
        guard sampled >= minimumCohort, p.threshold >= min(minimumCohort, sampled) else {
            throw refuse("\(sampled) participants with threshold \(p.threshold); the policy needs a cohort of \(minimumCohort) (--min-cohort)")
        }
        let z = Self.chargedMultiplier(config, p)
        let one = RDPAccountant().epsilonAfterAnotherRound(samplingRate: 1, noiseMultiplier: z, delta: delta)
        guard one <= maximumRoundEpsilon else {
            throw refuse(String(format: "one round costs ε = %.3g at δ = %.0e, over the per-round maximum %.3g (--max-round-epsilon)", one, delta, maximumRoundEpsilon))
        }
        let total = ledger.accountant.epsilonAfterAnotherRound(samplingRate: 1, noiseMultiplier: z, delta: delta)
        guard total <= maximumEpsilon else {
            throw refuse(String(format: "it would bring this client's ε to %.3g at δ = %.0e, over its maximum %.3g (--max-epsilon)", total, delta, maximumEpsilon))
        }
    }
}

/// The client's own accountant: every round in which it revealed unmasking shares, charged at
/// q = 1 (it cannot verify how it was sampled) with the multiplier the sum carries at the least.
public struct PrivacyLedger: Codable, Sendable, Hashable {
    public private(set) var accountant = RDPAccountant()
    public private(set) var lastRound: UInt64?

    public init() {}

    public var roundsCharged: Int { accountant.rounds }

    /// Charges one round; called before the client reveals its shares, and saved first.
    public mutating func charge(round: UInt64, config: RoundConfig, parameters: SecAggParameters) {
        accountant.record(samplingRate: 1, noiseMultiplier: ClientPrivacyPolicy.chargedMultiplier(config, parameters))
        lastRound = round
    }

    public func epsilon(delta: Double) -> Double { accountant.rounds == 0 ? 0 : accountant.epsilon(delta: delta).epsilon }
}
