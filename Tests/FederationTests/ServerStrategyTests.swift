import Diagnostics
import Federation
import Testing

@Suite struct ServerStrategyTests {
    @Test func namesParseAndUnknownOnesAreRefused() throws {
        #expect(try ServerStrategy(name: "fedavg", serverLearningRate: 0.5) == .fedAvg(learningRate: 0.5))
        #expect(try ServerStrategy(name: "fedadam", serverLearningRate: 0.01) == .fedAdam(.init(learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3)))
        #expect(try ServerStrategy(name: "fedadam", serverLearningRate: 1).name == "fedadam")
        let e = #expect(throws: FederationError.self) { try ServerStrategy(name: "FedAvg", serverLearningRate: 1) }
        #expect(e?.code == .invalidArgument && e?.message.contains("'FedAvg'") == true && e?.message.contains("fedadam") == true)
    }

    /// FedAvg: x + η·Δ, element for element, and any optimizer state passes through.
    @Test func fedAvgAddsTheScaledMean() throws {
        let kept = FedAdam(parameterCount: 3)
        let (next, state) = try ServerStrategy.fedAvg(learningRate: 0.5).step(shared: [1, -2, 0.25], mean: [0.5, 1, -0.5], state: kept)
        #expect(next == [1.25, -1.5, 0])
        #expect(state == kept)
        #expect(throws: FederationError.self) { try ServerStrategy.fedAvg(learningRate: 1).step(shared: [1, 2], mean: [1], state: nil) }
    }

    /// FedAdam: the first step creates the moments with the strategy's parameters; later steps
    /// continue from the state given (as after a restart), exactly as `FedAdam.step` does.
    @Test func fedAdamStepsFromTheStateItIsGiven() throws {
        let strategy = ServerStrategy.fedAdam(.init(learningRate: 0.1))
        let (x1, s1) = try strategy.step(shared: [1, -1], mean: [0.5, -0.2], state: nil)
        // m = 0.1Δ, v = 0.01Δ², step = η·0.1Δ/(0.1|Δ| + τ)
        #expect(abs(Double(x1[0]) - (1 + 0.1 * 0.05 / (0.05 + 1e-3))) < 1e-6)
        #expect(abs(Double(x1[1]) - (-1 - 0.1 * 0.02 / (0.02 + 1e-3))) < 1e-6)
        #expect(s1?.steps == 1)

        var reference = try #require(s1)
        var expected = x1
        try reference.step(parameters: &expected, delta: [0.1, 0.3])
        let (x2, s2) = try strategy.step(shared: x1, mean: [0.1, 0.3], state: s1)
        #expect(x2 == expected && s2 == reference && s2?.steps == 2)
    }
}
