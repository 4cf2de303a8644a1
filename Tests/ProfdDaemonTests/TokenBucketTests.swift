import Testing
@testable import profd

@Suite("token bucket")
struct TokenBucketTests {
    @Test("a second's burst passes, then the rate; time going backwards adds nothing")
    func rate() {
        var bucket = TokenBucket(ratePerSecond: 100)
        let start: UInt64 = 5_000_000_000
        var passed = 0
        for _ in 0..<250 where bucket.take(nowNs: start) { passed += 1 }
        #expect(passed == 100, "one second of burst")
        let afterFiveMs = bucket.take(nowNs: start + 5_000_000)
        #expect(!afterFiveMs, "0.5 tokens after 5 ms: not enough")
        let afterTenMs = bucket.take(nowNs: start + 10_000_000)
        #expect(afterTenMs, "one token after 10 ms")
        passed = 0
        for _ in 0..<100 where bucket.take(nowNs: start + 510_000_000) { passed += 1 }
        #expect(passed == 50, "half a second later: half the rate")
        let earlier = bucket.take(nowNs: start)
        #expect(!earlier, "an earlier clock reading refills nothing")
        passed = 0
        for _ in 0..<500 where bucket.take(nowNs: start + 100_000_000_000) { passed += 1 }
        #expect(passed == 100, "an idle minute saves up one second's worth, no more")
    }
}
