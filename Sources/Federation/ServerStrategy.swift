/// How the coordinator turns a round's mean client update Δ into the next shared vector: the
/// server step of adaptive federated optimization (Reddi et al. 2021), a pure function of
/// (Δ, current vector, optimizer state). As post-processing of the noised mean it costs no privacy.
///
/// Settings, the manifest and `pcoord init --strategy` spell it as a name ("fedavg", "fedadam")
/// with `serverLearningRate` beside it; `init(name:serverLearningRate:)` reads that spelling.

public import Diagnostics
public enum ServerStrategy: Sendable, Hashable {
    /// x ← x + η·Δ (η = 1: plain FedAvg). No state.
    case fedAvg(learningRate: Double)
    /// An Adam step with Δ as the pseudo-gradient (`FedAdam`); its moments are the state.
    case fedAdam(FedAdamParameters)

    /// The hyper-parameters FedAdam starts with; a persisted `FedAdam` keeps its own.
    public struct FedAdamParameters: Sendable, Hashable {
        public var learningRate: Double     // η
        public var beta1: Double            // β1, 0.9
        public var beta2: Double            // β2, 0.99
        public var tau: Double              // τ, 1e-3

        public init(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.99, tau: Double = 1e-3) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.tau = tau
        }
    }

    /// The names `init(name:serverLearningRate:)` accepts.
    public static let names = ["fedavg", "fedadam"]

    public init(name: String, serverLearningRate: Double) throws(FederationError) {
        switch name {
        case "fedavg": self = .fedAvg(learningRate: serverLearningRate)
        case "fedadam": self = .fedAdam(FedAdamParameters(learningRate: serverLearningRate))
        default:
            throw FederationError(.invalidArgument, "Unknown aggregation strategy '\(name)'; the strategies are \(Self.names.joined(separator: " and ")).")
        }
    }

    public var name: String {
        switch self {
        case .fedAvg: "fedavg"
        case .fedAdam: "fedadam"
        }
    }

    /// One server step: the next shared vector from the current one and the round's mean update,
    /// and the optimizer state to keep (FedAdam's moments, created on the first step; FedAvg
    /// passes `state` through untouched).
    public func step(shared: [Float], mean: [Float], state: FedAdam?) throws -> (shared: [Float], state: FedAdam?) {
        var next = shared
        switch self {
        case .fedAvg(let learningRate):
            guard mean.count == shared.count else {
                throw FederationError(.lengthMismatch, "The mean update has \(mean.count) values; the shared vector has \(shared.count).")
            }
            let eta = Float(learningRate)
            next.withUnsafeMutableBufferPointer { p in mean.withUnsafeBufferPointer { m in for i in 0..<p.count { p[i] += eta * m[i] } } }
            return (next, state)
        case .fedAdam(let p):
            var adam = state ?? FedAdam(parameterCount: shared.count, learningRate: p.learningRate, beta1: p.beta1, beta2: p.beta2, tau: p.tau)
            try adam.step(parameters: &next, delta: mean)
            return (next, adam)
        }
    }
}

extension RoundConfig {
    /// `strategy` and `serverLearningRate` as one value; throws for an unknown name.
    public var serverStrategy: ServerStrategy {
        get throws(FederationError) { try ServerStrategy(name: strategy, serverLearningRate: serverLearningRate) }
    }
}
