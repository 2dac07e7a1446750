/// SecAgg+ (Bell et al. 2020): each participant masks with and shares to only `degree` neighbours,
/// chosen by a random graph that everybody derives from a public seed.
///
/// The graph is a Harary ring under a seeded permutation: sort the participants of U1 by id,
/// shuffle them with Fisher–Yates driven by `ChaChaRandom(seed)` (for i from n−1 down to 1, swap i
/// with `next() % (i + 1)`), place them on a ring in that order, and connect each to the degree/2
/// nearest on either side. The graph is symmetric, so pairwise masks still cancel. With
/// degree ≥ n − 1 it is the complete graph.
///
/// Each participant's secrets are shared among its k neighbours and itself (k + 1 holders) with
/// the reconstruction threshold `threshold` (t_k, 2 ≤ t_k ≤ k + 1); the round's global minimum
/// (`SecAggParameters.threshold`) still bounds every stage and the consistency check.

import Diagnostics
public struct NeighbourGraph: Codable, Sendable, Hashable {
    /// Even, at least 2.
    public let degree: Int
    /// 32 public random bytes, fixed by the coordinator when it opens the round.
    public let seed: [UInt8]
    /// t_k: shares needed to rebuild one participant's self-mask seed or masking key.
    public let threshold: Int

    /// `threshold` defaults to ⌊k/2⌋ + 1, a strict majority of the k + 1 holders.
    public init(degree: Int, seed: [UInt8], threshold: Int? = nil) throws {
        guard degree >= 2, degree % 2 == 0 else {
            throw FederationError(.invalidArgument, "The neighbour degree must be even and at least 2, got \(degree).")
        }
        guard seed.count == 32 else { throw FederationError(.invalidArgument, "The graph seed must be 32 bytes.") }
        let t = threshold ?? Self.defaultThreshold(degree: degree)
        guard t >= 2, t <= degree + 1 else {
            throw FederationError(.invalidArgument, "The neighbourhood threshold must lie in 2…\(degree + 1) for degree \(degree), got \(t).")
        }
        self.degree = degree
        self.seed = seed
        self.threshold = t
    }

    public static func defaultThreshold(degree: Int) -> Int { degree / 2 + 1 }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(degree: c.decode(Int.self, forKey: .degree), seed: c.decode([UInt8].self, forKey: .seed),
                      threshold: c.decode(Int.self, forKey: .threshold))
    }

    /// The ring order of `everyone` (ascending ids in, permuted out).
    func ring(_ everyone: [ParticipantID]) -> [ParticipantID] {
        var order = everyone.sorted()
        var rng = ChaChaRandom(seed: seed)
        if order.count > 1 {
            for i in stride(from: order.count - 1, through: 1, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    func neighbours(of u: ParticipantID, among everyone: [ParticipantID]) -> [ParticipantID] {
        let n = everyone.count
        if degree >= n - 1 { return everyone.filter { $0 != u }.sorted() }
        let order = ring(everyone)
        guard let position = order.firstIndex(of: u) else { return [] }
        var result = Set<ParticipantID>()
        for step in 1...(degree / 2) {
            result.insert(order[(position + step) % n])
            result.insert(order[(position - step + n) % n])
        }
        return result.sorted()
    }
}

extension NeighbourGraph {
    /// Every participant's neighbours among `everyone`, ascending, from one ring computation.
    public func adjacency(among everyone: [ParticipantID]) -> [ParticipantID: [ParticipantID]] {
        let n = everyone.count
        var out: [ParticipantID: [ParticipantID]] = [:]
        if degree >= n - 1 {
            let all = everyone.sorted()
            for u in all { out[u] = all.filter { $0 != u } }
            return out
        }
        let order = ring(everyone)
        for (position, u) in order.enumerated() {
            var result = Set<ParticipantID>()
            for step in 1...(degree / 2) {
                result.insert(order[(position + step) % n])
                result.insert(order[(position - step + n) % n])
            }
            out[u] = result.sorted()
        }
        return out
    }

    /// The neighbours of `u` among the participants `everyone` (U1), ascending.
    public func neighbourList(of u: ParticipantID, among everyone: [ParticipantID]) -> [ParticipantID] {
        neighbours(of: u, among: everyone)
    }
}
