/// A rate limit: `ratePerSecond` tokens a second, at most `capacity` saved up (one second's worth by
/// default, so a burst of a second's allowance passes and a flood is cut to the rate).
struct TokenBucket {
    let ratePerSecond: Int
    let capacity: Int
    private var tokens: Double
    private var lastNs: UInt64?

    init(ratePerSecond: Int, capacity: Int? = nil) {
        self.ratePerSecond = max(1, ratePerSecond)
        self.capacity = max(1, capacity ?? ratePerSecond)
        self.tokens = Double(self.capacity)
    }

    /// Takes one token at `nowNs` (a monotonic clock); false when none is left.
    mutating func take(nowNs: UInt64) -> Bool {
        if let lastNs, nowNs > lastNs {
            tokens = min(Double(capacity), tokens + Double(nowNs - lastNs) * Double(ratePerSecond) / 1e9)
        }
        if lastNs == nil || nowNs > lastNs! { lastNs = nowNs }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
