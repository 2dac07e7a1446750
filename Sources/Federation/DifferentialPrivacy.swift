import Diagnostics
internal import Foundation

/// Client-side L2 clipping and distributed Gaussian noise.
///
/// The privacy unit is one client's whole update in one round. Each sampled client clips its
/// update to L2 norm C (so adding or removing one client moves the sum by at most C) and adds
/// N(0, σ²/n_min) per coordinate with σ = z·C. When at least n_min clients are in the sum, the
/// noise in the sum has variance n·σ²/n_min ≥ σ², i.e. noise multiplier ≥ z, which is what the
/// accountant charges. Assumptions the accounting relies on, stated plainly:
/// - at most n − n_min of the summed clients' noise is known to the adversary (colluding clients
///   subtract their own noise; the coordinator never sees individual noise thanks to SecAgg);
/// - the coordinator aborts a round whose survivors are fewer than n_min (or charges the lower
///   multiplier `effectiveNoiseMultiplier`);
/// - continuous Gaussian noise, then stochastic rounding to 2^-k and arithmetic mod 2^32: the
///   discretisation (resolution 2^-k, far below σ/√n_min) and the impossibility of wraparound
///   (`FixedPointCodec` refuses values outside its range) are treated as post-processing-like and
///   ignored by the accountant, as in common practice; the distributed discrete Gaussian of
///   Kairouz et al. 2021 is the rigorous alternative;
/// - clients are sampled by Poisson sampling with rate q, as the sampled-Gaussian RDP bound assumes.
public struct DistributedGaussian: Codable, Sendable, Hashable {
    /// C.
    public let clipNorm: Double
    /// z.
    public let noiseMultiplier: Double
    /// n_min: the smallest number of clients whose noise the sum may carry.
    public let minimumClients: Int

    public init(clipNorm: Double, noiseMultiplier: Double, minimumClients: Int) throws {
        guard clipNorm > 0, clipNorm.isFinite, noiseMultiplier >= 0, noiseMultiplier.isFinite, minimumClients >= 1 else {
            throw FederationError(.invalidArgument, "Clip norm must be positive, noise multiplier non-negative and n_min at least 1.")
        }
        self.clipNorm = clipNorm
        self.noiseMultiplier = noiseMultiplier
        self.minimumClients = minimumClients
    }

    /// σ = z·C, the standard deviation the sum carries.
    public var sumStandardDeviation: Double { noiseMultiplier * clipNorm }

    /// σ/√n_min, each client's share.
    public var clientStandardDeviation: Double { sumStandardDeviation / Double(minimumClients).squareRoot() }

    /// The multiplier the sum really has when `survivors` clients' noise is in it: z·√(n/n_min).
    public func effectiveNoiseMultiplier(survivors: Int) -> Double {
        noiseMultiplier * (Double(survivors) / Double(minimumClients)).squareRoot()
    }

    /// Clips `update` to L2 norm C in place (scaling by min(1, C/‖x‖)); returns the norm before clipping.
    @discardableResult
    public static func clip(_ update: inout [Float], to clipNorm: Double) -> Double {
        var squares = 0.0
        for x in update { squares += Double(x) * Double(x) }
        let norm = squares.squareRoot()
        if norm > clipNorm {
            let factor = Float(clipNorm / norm)
            for i in update.indices { update[i] *= factor }
        }
        return norm
    }

    /// Clips `update` to C, then adds this client's share of the noise, N(0, σ²/n_min) per coordinate.
    public func privatize(_ update: inout [Float], using rng: inout some RandomNumberGenerator) {
        Self.clip(&update, to: clipNorm)
        let sd = clientStandardDeviation
        guard sd > 0 else { return }
        for i in update.indices { update[i] += Float(sd * rng.standardNormal()) }
    }
}
