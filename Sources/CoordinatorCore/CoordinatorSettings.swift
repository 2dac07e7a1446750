public import Federation
internal import Foundation

/// The operator's configuration, fixed by `pcoord init` and stored with the coordinator's state.
public struct CoordinatorSettings: Codable, Sendable, Hashable {
    public var sharedAdapter: SharedAdapterSpec
    public var round: RoundConfig
    /// ε the accountant may spend in total; no round opens that would exceed it.
    public var epsilonBudget: Double
    /// δ at which ε is reported and the budget is checked.
    public var delta: Double
    /// Seconds a poll of GET /v1/round keeps a client in the pool a round samples from.
    public var availabilityWindow: Double
    /// Seconds to wait for `clientsPerRound` available clients once `minimumClients` are; after
    /// that a round opens with those available.
    public var sampleWait: Double
    /// Accepted |client clock − server clock| of signed requests, in seconds.
    public var skewWindow: Double
    /// K: a client excluded for a provably bad message (one SecAgg refuses: a bad signature, a
    /// low-order key, shares it does not hold) in K rounds is no longer sampled. nil = the default
    /// (3); 0 = never suspend. Optional so settings stored before it existed still load.
    public var suspendAfterExclusions: Int?

    public static let defaultSuspendAfterExclusions = 3

    /// K in effect (0: never).
    public var suspensionThreshold: Int { suspendAfterExclusions ?? Self.defaultSuspendAfterExclusions }

    public init(sharedAdapter: SharedAdapterSpec, round: RoundConfig, epsilonBudget: Double, delta: Double,
                availabilityWindow: Double = 120, sampleWait: Double = 30, skewWindow: Double = 300,
                suspendAfterExclusions: Int? = nil) throws {
        self.suspendAfterExclusions = suspendAfterExclusions
        self.sharedAdapter = sharedAdapter
        self.round = round
        self.epsilonBudget = epsilonBudget
        self.delta = delta
        self.availabilityWindow = availabilityWindow
        self.sampleWait = sampleWait
        self.skewWindow = skewWindow
        try validate()
    }

    /// Checks what the round logic relies on; the message names the flag to change.
    public func validate() throws {
        func fail(_ message: String, _ remedy: String) -> CoordinatorError {
            CoordinatorError(.configuration, message, remedy: remedy)
        }
        let r = round
        guard r.minimumClients >= 2, r.clientsPerRound >= r.minimumClients, r.clientsPerRound <= 65_535 else {
            throw fail("Rounds need 2 ≤ minimum clients ≤ clients per round ≤ 65535 (got \(r.minimumClients) and \(r.clientsPerRound)).",
                       "Pass --min-clients of at least 2 and --clients-per-round at least as large.")
        }
        guard r.codec.maxSummands >= r.clientsPerRound else {
            throw fail("The fixed-point codec sums at most \(r.codec.maxSummands) inputs but rounds sample \(r.clientsPerRound).",
                       "Lower --clients-per-round or raise the codec's summand limit.")
        }
        guard r.stageTimeout > 0, r.stageTimeout.isFinite, r.serverLearningRate > 0, r.serverLearningRate.isFinite else {
            throw fail("The stage timeout and the server learning rate must be positive.", "Pass --stage-timeout and --server-lr > 0.")
        }
        guard (try? r.serverStrategy) != nil else {
            throw fail("Unknown aggregation strategy '\(r.strategy)'.", "Pass --strategy fedavg or --strategy fedadam.")
        }
        if let k = r.neighbours, k != 0 {
            guard k >= 2, k % 2 == 0, k <= 65_534 else {
                throw fail("The SecAgg+ neighbour degree must be 0 (complete graph) or an even number of at least 2, got \(k).",
                           "Pass --neighbours 0 or an even K such as 10.")
            }
            let t = r.neighbourThreshold ?? NeighbourGraph.defaultThreshold(degree: k)
            guard t >= 2, t <= k + 1, 2 * t > k + 1 else {
                throw fail("The neighbourhood threshold must be a majority of the k + 1 holders, \(k / 2 + 1)…\(k + 1) for \(k) neighbours, got \(t) (clients refuse a smaller one: two halves could each reveal one kind of share).",
                           "Pass --neighbour-threshold in that range or leave it out (⌊k/2⌋ + 1).")
            }
        } else if r.neighbourThreshold != nil {
            throw fail("A neighbourhood threshold needs a neighbour graph.", "Pass --neighbours K as well, or leave out --neighbour-threshold.")
        }
        guard r.dp.clipNorm < r.codec.range else {
            throw fail("The clip norm \(r.dp.clipNorm) must stay below the fixed-point range \(r.codec.range).", "Lower --clip or widen the range.")
        }
        guard r.dp.noiseMultiplier > 0 else {
            throw fail("The noise multiplier must be positive: without noise the accountant's ε is infinite.", "Pass --noise > 0 (1.0 is a common start).")
        }
        guard epsilonBudget > 0, epsilonBudget.isFinite, delta > 0, delta < 1 else {
            throw fail("The privacy budget needs ε > 0 (finite) and 0 < δ < 1.", "Pass --epsilon-budget and --delta.")
        }
        guard suspensionThreshold >= 0 else {
            throw fail("The number of exclusions before a client is suspended must be 0 (never) or more, got \(suspensionThreshold).", "Pass --suspend-after 0 or a positive K.")
        }
        guard availabilityWindow > 0, sampleWait >= 0, skewWindow > 0 else {
            throw fail("The availability window and the skew window must be positive and the sample wait not negative.", "Fix the values given to pcoord init.")
        }
    }

    public var budget: PrivacyBudget {
        get throws { try PrivacyBudget(epsilon: epsilonBudget, delta: delta) }
    }
}
