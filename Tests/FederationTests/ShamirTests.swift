import Diagnostics
import Testing
import Federation

@Suite struct ShamirTests {
    let secret = seed("shamir.secret")

    @Test func anyThresholdSubsetRecovers() throws {
        var rng = ChaChaRandom(seed: seed("shamir.rng"))
        let shares = try Shamir.split(secret: secret, threshold: 3, xs: [1, 2, 3, 4, 5], using: &rng)
        for a in 0..<5 { for b in (a + 1)..<5 { for c in (b + 1)..<5 {
            #expect(try Shamir.combine([shares[a], shares[b], shares[c]], threshold: 3) == secret)
        } } }
        #expect(try Shamir.combine(shares.reversed(), threshold: 3) == secret)
    }

    @Test func largeIndicesWork() throws {
        var rng = ChaChaRandom(seed: seed("shamir.large"))
        let shares = try Shamir.split(secret: secret, threshold: 2, xs: [65535, 40000, 256], using: &rng)
        #expect(try Shamir.combine([shares[2], shares[0]], threshold: 2) == secret)
    }

    @Test func fewerThanThresholdSharesAreRefusedAndRevealNothingUseful() throws {
        var rng = ChaChaRandom(seed: seed("shamir.few"))
        let shares = try Shamir.split(secret: secret, threshold: 3, xs: [1, 2, 3], using: &rng)
        #expect { try Shamir.combine(Array(shares.prefix(2)), threshold: 3) } throws: {
            ($0 as? FederationError)?.code == .notEnoughShares
        }
        // Interpolating two shares as if t were 2 gives some other value.
        #expect(try Shamir.combine(Array(shares.prefix(2)), threshold: 2) != secret)
    }

    @Test func inconsistentOrMalformedSharesAreDetected() throws {
        var rng = ChaChaRandom(seed: seed("shamir.bad"))
        var shares = try Shamir.split(secret: secret, threshold: 2, xs: [1, 2, 3], using: &rng)
        var y = shares[2].y
        y[5] ^= 1
        shares[2] = ShamirShare(x: 3, y: y)
        #expect { try Shamir.combine(shares, threshold: 2) } throws: { ($0 as? FederationError)?.code == .inconsistentShares }
        #expect { try Shamir.combine([shares[0], shares[0]], threshold: 2) } throws: { ($0 as? FederationError)?.code == .malformedShare }
        #expect { try Shamir.combine([shares[0], ShamirShare(x: 0, y: shares[1].y)], threshold: 2) } throws: { ($0 as? FederationError)?.code == .malformedShare }
        #expect { try Shamir.combine([shares[0], ShamirShare(x: 2, y: [1, 2])], threshold: 2) } throws: { ($0 as? FederationError)?.code == .malformedShare }
    }

    @Test func thresholdOneIsTheSecretItself() throws {
        let shares = try Shamir.split(secret: secret, xs: [7, 9], coefficients: [])
        #expect(shares.allSatisfy { $0.y == secret })
    }
}
