import Foundation

/// A token bucket per key (a client id, or "addr:" and a peer address): `rate` tokens a second up
/// to `burst`. Refusals say when to retry.
actor RateLimiter {
    private let rate: Double
    private let burst: Double
    private var buckets: [String: (tokens: Double, at: Date)] = [:]

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// nil when allowed (and a token is spent); otherwise the seconds until a token is available.
    func take(_ key: String, now: Date) -> Double? {
        spend(key, now: now, commit: true)
    }

    /// Whether `take` would allow now, without spending: the check before a body is read, so that
    /// requests which fail later (a forged signature by someone who knows a client's public id)
    /// cannot spend that client's budget.
    func check(_ key: String, now: Date) -> Double? {
        spend(key, now: now, commit: false)
    }

    private func spend(_ key: String, now: Date, commit: Bool) -> Double? {
        if commit && buckets.count > 100_000 { buckets = buckets.filter { now.timeIntervalSince($0.value.at) < burst / rate } }
        var b = buckets[key] ?? (burst, now)
        b.tokens = min(burst, b.tokens + now.timeIntervalSince(b.at) * rate)
        b.at = now
        if b.tokens >= 1 {
            if commit {
                b.tokens -= 1
                buckets[key] = b
            }
            return nil
        }
        if commit { buckets[key] = b }
        return (1 - b.tokens) / rate
    }
}
