import Foundation

/// A token bucket per client: `rate` tokens a second up to `burst`. Refusals say when to retry.
actor RateLimiter {
    private let rate: Double
    private let burst: Double
    private var buckets: [String: (tokens: Double, at: Date)] = [:]

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// nil when allowed; otherwise the seconds until a token is available.
    func take(_ key: String, now: Date) -> Double? {
        var b = buckets[key] ?? (burst, now)
        b.tokens = min(burst, b.tokens + now.timeIntervalSince(b.at) * rate)
        b.at = now
        defer { buckets[key] = b }
        if b.tokens >= 1 {
            b.tokens -= 1
            return nil
        }
        if buckets.count > 100_000 { buckets = buckets.filter { now.timeIntervalSince($0.value.at) < 60 } }
        return (1 - b.tokens) / rate
    }
}
