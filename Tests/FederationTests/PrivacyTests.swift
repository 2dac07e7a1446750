import Testing
import Federation

/// Reference values are the published test expectations of two independent accountants:
/// - TF-Privacy `tensorflow_privacy/privacy/analysis/rdp_accountant_test.py` (test_compute_rdp_scalar,
///   test_compute_rdp_sequence, test_get_privacy_spent_check_target_delta, test_check_composition);
///   its (ε, δ) conversion there is Mironov 2017's, ε = rdp + log(1/δ)/(α−1).
/// - Opacus `opacus/tests/accountants_test.py` (test_rdp_accountant), with Opacus's
///   DEFAULT_ALPHAS and its Balle et al. 2020 conversion.
@Suite struct AccountantTests {
    @Test func rdpMatchesTFPrivacy() {
        let scalar = RDPAccountant(orders: [5]).rdpOfSampledGaussian(samplingRate: 0.1, noiseMultiplier: 2, steps: 10)
        #expect(abs(scalar[0] - 0.07737) < 1e-5)

        let orders: [Double] = [1.5, 2.5, 5, 50, 100]
        let expected = [0.00065, 0.001085, 0.00218075, 0.023846, 167.416307]
        let rdp = RDPAccountant(orders: orders).rdpOfSampledGaussian(samplingRate: 0.01, noiseMultiplier: 2.5, steps: 50)
        for (got, want) in zip(rdp, expected) { #expect(abs(got - want) < 1e-5, "\(got) vs \(want)") }
    }

    @Test func epsilonMatchesTFPrivacy() {
        var accountant = RDPAccountant(orders: (2...32).map(Double.init), conversion: .mironov2017)
        accountant.record(samplingRate: 0.01, noiseMultiplier: 4, steps: 10_000)
        let (eps, order) = accountant.epsilon(delta: 1e-5)
        #expect(abs(eps - 1.258575) < 1e-5)
        #expect(order == 20)
    }

    @Test func compositionMatchesTFPrivacy() {
        let orders: [Double] = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256]
        var accountant = RDPAccountant(orders: orders, conversion: .mironov2017)
        accountant.record(samplingRate: 1e-4, noiseMultiplier: 0.4, steps: 40_000)
        accountant.record(samplingRate: 0.1, noiseMultiplier: 2, steps: 100)
        let (eps, order) = accountant.epsilon(delta: 1e-5)
        #expect(abs(eps - 8.509656) < 1e-5)
        #expect(order == 2.5)
        #expect(accountant.rounds == 40_100)
    }

    @Test func epsilonMatchesOpacus() {
        let opacusAlphas = (1..<100).map { 1 + Double($0) / 10 } + (12..<64).map(Double.init)
        var accountant = RDPAccountant(orders: opacusAlphas, conversion: .balle2020)
        accountant.record(samplingRate: 0.04, noiseMultiplier: 1.5, steps: Int(90 / 0.04))
        let eps = accountant.epsilon(delta: 1e-5).epsilon
        #expect(abs(eps - 7.32911117143) < 1e-6, "ε = \(eps)")
    }

    @Test func budgetStopsRounds() throws {
        let budget = try PrivacyBudget(epsilon: 2, delta: 1e-5)
        var accountant = RDPAccountant()
        var rounds = 0
        while accountant.canRunAnotherRound(samplingRate: 0.05, noiseMultiplier: 1.0, budget: budget) {
            accountant.record(samplingRate: 0.05, noiseMultiplier: 1.0)
            rounds += 1
            #expect(rounds < 10_000)
        }
        #expect(rounds >= 1)
        #expect(accountant.epsilon(delta: 1e-5).epsilon <= 2)
        #expect(accountant.epsilonAfterAnotherRound(samplingRate: 0.05, noiseMultiplier: 1.0, delta: 1e-5) > 2)
        // ε grows with every round and shrinks with more noise.
        var noisier = RDPAccountant()
        noisier.record(samplingRate: 0.05, noiseMultiplier: 2.0, steps: rounds)
        #expect(noisier.epsilon(delta: 1e-5).epsilon < accountant.epsilon(delta: 1e-5).epsilon)
    }
}

@Suite struct NoiseTests {
    @Test func clippingBoundsTheNorm() {
        var x: [Float] = [3, 4]
        let before = DistributedGaussian.clip(&x, to: 1)
        #expect(before == 5)
        #expect(abs(x[0] - 0.6) < 1e-6 && abs(x[1] - 0.8) < 1e-6)
        var small: [Float] = [0.1, 0.1]
        DistributedGaussian.clip(&small, to: 1)
        #expect(small == [0.1, 0.1])
    }

    @Test func distributedNoiseSumsToSigma() throws {
        let dp = try DistributedGaussian(clipNorm: 0.5, noiseMultiplier: 2, minimumClients: 8)
        #expect(dp.sumStandardDeviation == 1)
        var rng = ChaChaRandom(seed: seed("noise"))
        let n = 8, d = 20_000
        var sum = [Double](repeating: 0, count: d)
        for _ in 0..<n {
            var update = [Float](repeating: 0, count: d)
            dp.privatize(&update, using: &rng)
            for i in 0..<d { sum[i] += Double(update[i]) }
        }
        let mean = sum.reduce(0, +) / Double(d)
        let variance = sum.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d - 1)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.04, "variance \(variance)")
        #expect(abs(dp.effectiveNoiseMultiplier(survivors: 2) - 1) < 1e-12)
    }
}

@Suite struct AggregationTests {
    @Test func fedAvgIsTheUnweightedMean() throws {
        #expect(try FedAvg.mean(of: [[1, 2], [3, 6]]) == [2, 4])
        #expect(try FedAvg.mean(sum: [4, 8], count: 2) == [2, 4])
        #expect(try FedAvg.weightedMeanBreakingDP(of: [[1, 2], [3, 6]], weights: [3, 1]) == [1.5, 3])
        #expect(throws: FederationError.self) { try FedAvg.mean(of: [[1], [1, 2]]) }
    }

    /// The coordinator's one-pass mean from the encoded sum gives the very floats of decode-then-mean.
    @Test func meanFromTheEncodedSumEqualsDecodeThenMean() throws {
        let codec = try FixedPointCodec(range: 16, scaleBits: 16, maxSummands: 100)
        var rng = ChaChaRandom(seed: [UInt8](repeating: 9, count: 32))
        let sum: [UInt32] = (0..<10_000).map { _ in UInt32(truncatingIfNeeded: rng.next()) } + [0, 1, .max, 1 << 31, (1 << 31) - 1]
        for count in [1, 7, 90] {
            #expect(try FedAvg.mean(encodedSum: sum, codec: codec, count: count) == FedAvg.mean(sum: codec.decode(sum), count: count))
        }
        #expect(throws: FederationError.self) { try FedAvg.mean(encodedSum: sum, codec: codec, count: 0) }
    }

    @Test func fedAdamFollowsReddiEtAl() throws {
        var adam = FedAdam(parameterCount: 2, learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3)
        var x: [Float] = [1, -1]
        try adam.step(parameters: &x, delta: [0.5, -0.2])
        // m = 0.1Δ, v = 0.01Δ², step = η·0.1Δ/(0.1|Δ| + τ)
        let expected0 = 1 + 0.1 * 0.05 / (0.05 + 1e-3)
        let expected1 = -1 - 0.1 * 0.02 / (0.02 + 1e-3)
        #expect(abs(Double(x[0]) - expected0) < 1e-6)
        #expect(abs(Double(x[1]) - expected1) < 1e-6)
        let restored = try JSONDecoderRoundTrip.roundTrip(adam)
        #expect(restored == adam)
        #expect(restored.steps == 1)
    }
}

import Foundation
enum JSONDecoderRoundTrip {
    static func roundTrip<T: Codable>(_ value: T) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
    }
}
