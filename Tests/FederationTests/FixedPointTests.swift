import Testing
import Federation

@Suite struct FixedPointTests {
    @Test func headroomIsEnforced() throws {
        // N·R·2^k = 100 · 8 · 2^21 = 1.68e9 ≤ 2^31 − 1
        _ = try FixedPointCodec(range: 8, scaleBits: 21, maxSummands: 100)
        #expect(throws: FederationError.self) { try FixedPointCodec(range: 8, scaleBits: 21, maxSummands: 200) }
        #expect(throws: FederationError.self) { try FixedPointCodec(range: 0.1, scaleBits: 4, maxSummands: 1) }
    }

    @Test func valuesOutsideTheRangeAreRefused() throws {
        let codec = try FixedPointCodec(range: 4, scaleBits: 16, maxSummands: 10)
        var rng = ChaChaRandom(seed: seed("fp.range"))
        #expect(throws: FederationError.self) { try codec.encode([4.0], using: &rng) }
        #expect(throws: FederationError.self) { try codec.encode([-4.001], using: &rng) }
        #expect(throws: FederationError.self) { try codec.encode([.nan], using: &rng) }
        #expect(throws: FederationError.self) { try codec.encode([.infinity], using: &rng) }
        let edge = try codec.encode([-4.0, Float(4).nextDown], using: &rng)
        #expect(Int32(bitPattern: edge[0]) == -4 << 16)
        #expect(Int32(bitPattern: edge[1]) <= 4 << 16)
    }

    @Test func exactValuesRoundTripAndNegativesWrap() throws {
        let codec = try FixedPointCodec(range: 4, scaleBits: 8, maxSummands: 10)
        var rng = ChaChaRandom(seed: seed("fp.exact"))
        let words = try codec.encode([1.5, -1.5, 0, -0.00390625], using: &rng)
        #expect(words == [384, UInt32.max - 383, 0, UInt32.max])
        #expect(codec.decode(words) == [1.5, -1.5, 0, -0.00390625])
    }

    @Test func stochasticRoundingIsUnbiased() throws {
        let codec = try FixedPointCodec(range: 1, scaleBits: 4, maxSummands: 1)
        var rng = ChaChaRandom(seed: seed("fp.unbiased"))
        let x: Float = 0.3   // 4.8 units of 1/16
        let n = 20_000
        let words = try codec.encode([Float](repeating: x, count: n), using: &rng)
        let values = codec.decode(words)
        #expect(Set(values) == [0.25, 0.3125])
        let mean = values.reduce(0, +) / Double(n)
        // Var of one rounding ≤ 1/4 · (1/16)², so the mean's sd is ≈ 2e-4.
        #expect(abs(mean - Double(x)) < 1.5e-3)
    }

    @Test func sumsOfManyClientsDecodeExactly() throws {
        let n = 50
        let codec = try FixedPointCodec(range: 2, scaleBits: 20, maxSummands: n)
        var rng = ChaChaRandom(seed: seed("fp.sum"))
        var sum = [UInt32](repeating: 0, count: 3)
        var integerSum = [Int64](repeating: 0, count: 3)
        for _ in 0..<n {
            // Extremes: everyone at −R, or just below R.
            let words = try codec.encode([-2, Float(2).nextDown, 0.7], using: &rng)
            try RingVector.add(words, into: &sum)
            for i in 0..<3 { integerSum[i] += Int64(Int32(bitPattern: words[i])) }
        }
        let decoded = codec.decode(sum)
        for i in 0..<3 { #expect(decoded[i] == Double(integerSum[i]) / Double(1 << 20)) }
        #expect(decoded[0] == -100)
        #expect(abs(decoded[2] - 35) < 1e-4)
    }
}
