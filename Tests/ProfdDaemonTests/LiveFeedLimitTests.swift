import Testing
@testable import profd

/// The live copies for `profctl follow` stop at the session's `--max-kept-requests-per-session`.
@Suite("live kept-request copies: the per-session limit")
struct LiveFeedLimitTests {
    @Test("after `limit` queued copies the rest are skipped and counted, even once the queue has drained")
    func stopsAtTheLimit() {
        var live = LiveFeedState()
        for span in 0..<3 { live.keep(span: span, endedAtNs: 1_000, limit: 3) }
        live.queue.removeAll()  // written: the limit is per session, not per queue
        for span in 3..<10 { live.keep(span: span, endedAtNs: 2_000, limit: 3) }
        #expect(live.queue.isEmpty)
        #expect(live.queuedTotal == 3)
        #expect(live.skipped == 7)
    }

    @Test("a limit of 0 queues no live copy; a full queue skips and counts too")
    func zeroAndFullQueue() {
        var none = LiveFeedState()
        none.keep(span: 0, endedAtNs: 1, limit: 0)
        #expect(none.queue.isEmpty && none.skipped == 1)
        var flooded = LiveFeedState()
        for span in 0..<(LiveFeedState.maximumQueue + 5) { flooded.keep(span: span, endedAtNs: 1, limit: 10_000) }
        #expect(flooded.queue.count == LiveFeedState.maximumQueue)
        #expect(flooded.skipped == 5)
    }
}
