import ProfdEngine

/// What a running session feeds `profctl follow` (its kept requests, written live) and `profctl top`
/// (a snapshot of its last second): the session's side of `STATE/live/`.
struct LiveFeedState {
    /// Kept requests to write once their samples are in: span index and when.
    var queue: [(span: Int, dueNs: UInt64)] = []
    /// The first sample not yet in a `top` snapshot, and when the last snapshot was taken.
    var topCursor = 0
    var lastTopNs: UInt64 = 0
    /// Kept requests whose live copy was skipped: the queue or the writer (`maximumLiveInFlight`) was
    /// full, or the session had already queued `--max-kept-requests-per-session` live copies.
    var skipped = 0
    /// Live copies this session has queued, against `--max-kept-requests-per-session`: a client whose
    /// every request qualifies must not flood `profctl follow` (nor the writer) for the whole session.
    var queuedTotal = 0

    /// How long after a request ends its samples are surely drained from the rings (the loop drains
    /// every 100 ms at most).
    static let delayNs: UInt64 = 150_000_000
    /// A client ending spans faster than they can be written live loses the live copies, not the reports.
    static let maximumQueue = 256
    /// How often a running session's `top.json` is refreshed.
    static let topIntervalNs: UInt64 = 1_000_000_000

    /// Queues a kept request's live copy, unless the session has queued `limit` of them. Live copies go
    /// first come, first served (a request's rank among the session's is only known at its end); one
    /// queued may still be skipped later if the writer is busy.
    mutating func keep(span: Int, endedAtNs: UInt64, limit: Int) {
        guard queuedTotal < limit, queue.count < Self.maximumQueue else { skipped += 1; return }
        queuedTotal += 1
        queue.append((span, endedAtNs &+ Self.delayNs))
    }
}

extension ProfilingSession {
    /// The kept requests whose samples are in by `nowNs`, each with just the data its report needs; at most
    /// `limit` (the writer's free live slots). Due ones beyond it lose their live copy, counted in
    /// `live.skipped`; they are still in the session's reports.
    func dueLiveRequests(nowNs: UInt64, limit: Int) -> [LiveRequestJob] {
        guard live.queue.contains(where: { $0.dueNs <= nowNs }) else { return [] }
        var due: [LiveRequestJob] = []
        var skipped = 0
        live.queue.removeAll { item in
            guard item.dueNs <= nowNs else { return false }
            if due.count < limit { due.append(liveJob(span: item.span)) } else { skipped += 1 }
            return true
        }
        live.skipped += skipped
        return due
    }

    /// Nobody is watching `top`: samples older than a second will never be in a snapshot.
    func skipTop(nowNs: UInt64) {
        guard nowNs &- live.lastTopNs >= LiveFeedState.topIntervalNs else { return }
        live.topCursor = capture.samples.count
        live.lastTopNs = nowNs
    }

    /// The samples drained since the last snapshot, each with its route, for `profctl top`; nil until a
    /// snapshot is due, unless `now` (watching just began: the last second, at once). Attribution uses
    /// only the spans that can own them: those still open, and those that began in the minute before
    /// the window (scanned back from the newest).
    func topSnapshot(nowNs: UInt64, now: Bool = false) -> TopSnapshotJob? {
        guard now || nowNs &- live.lastTopNs >= LiveFeedState.topIntervalNs else { return nil }
        var first = live.topCursor
        if now {
            let since = nowNs > LiveFeedState.topIntervalNs ? nowNs - LiveFeedState.topIntervalNs : 0
            first = capture.samples.count
            while first > 0 && capture.samples[first - 1].timeNs >= since { first -= 1 }
        }
        let windowNs = now ? LiveFeedState.topIntervalNs : (live.lastTopNs == 0 ? nowNs &- startedAt.monotonicNs : nowNs &- live.lastTopNs)
        live.lastTopNs = nowNs
        let window = capture.samples[first...]
        live.topCursor = capture.samples.count
        let oldestNs = window.lazy.map(\.timeNs).min() ?? nowNs
        let horizonNs = oldestNs > 60_000_000_000 ? oldestNs - 60_000_000_000 : 0
        var candidates = Set(openSpans.values)
        var scanned = 0
        for index in capture.spans.indices.reversed() {
            let span = capture.spans[index]
            if span.beginNs < horizonNs || scanned >= 20_000 { break }
            scanned += 1
            if (span.endNs ?? .max) >= oldestNs { candidates.insert(index) }
        }
        let ordered = candidates.sorted()
        let position = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($1, $0) })
        var slices: [RunSliceRecord] = []
        for slice in capture.slices.reversed() {
            if slice.endNs < horizonNs { break }
            if let mini = position[slice.span] {
                slices.append(RunSliceRecord(span: mini, threadId: slice.threadId, beginNs: slice.beginNs, endNs: slice.endNs))
            }
        }
        let spans = ordered.map { capture.spans[$0] }
        let index = SpanIndex(spans: spans, slices: slices, openEndNs: nowNs)
        var counts: [String: [UInt32: Int]] = [:]
        for sample in window {
            let route = index.span(tid: sample.tid, timeNs: sample.timeNs).map { spans[$0].route } ?? ReportBuilder.unattributedRoute
            counts[route, default: [:]][sample.stack, default: 0] += 1
        }
        return TopSnapshotJob(sessionId: id, service: service, pid: peer.pid, unit: unit, executable: executable,
                              frequencyHz: frequencyHz, windowNs: windowNs, countsByRoute: counts,
                              stacks: capture.stacks, maps: maps)
    }

    /// A capture of one request: its span and slices, and the samples and context switches of its time
    /// window. Samples arrive about in time order, so the scan walks back from the newest and stops a
    /// second before the request began.
    private func liveJob(span index: Int) -> LiveRequestJob {
        let span = capture.spans[index]
        let beginNs = span.beginNs
        let endNs = span.endNs ?? span.beginNs
        let horizonNs = beginNs > 1_000_000_000 ? beginNs - 1_000_000_000 : 0
        var request = Capture()
        request.stacks = capture.stacks
        request.threadNames = capture.threadNames
        request.spans = [span]
        for slice in capture.slices.reversed() {
            if slice.endNs < horizonNs { break }
            if slice.span == index { request.slices.append(RunSliceRecord(span: 0, threadId: slice.threadId, beginNs: slice.beginNs, endNs: slice.endNs)) }
        }
        for sample in capture.samples.reversed() {
            if sample.timeNs < horizonNs { break }
            if sample.timeNs >= beginNs && sample.timeNs <= endNs { request.samples.append(sample) }
        }
        request.samples.reverse()
        // A thread already off CPU when the request began shows up first with its switch-in, which
        // pairing reads as "off CPU since before the capture": right for this window.
        for record in capture.switches.reversed() {
            if record.timeNs < horizonNs { break }
            if record.timeNs <= endNs { request.switches.append(record) }
        }
        request.switches.reverse()
        request.switchesCompleteUntilNs = capture.switchesCompleteUntilNs
        return LiveRequestJob(spanId: span.spanId, request: job(capture: request, reason: "running"))
    }

}

/// One second of a running session for `profctl top`: sample counts by route and stack.
struct TopSnapshotJob: Sendable {
    var sessionId: String
    var service: String
    var pid: Int32
    var unit: String?
    var executable: String?
    var frequencyHz: Int
    var windowNs: UInt64
    var countsByRoute: [String: [UInt32: Int]]
    var stacks: StackTable
    var maps: ProcessMaps
}

/// One kept request of a running session, handed to the report writer to be written live: the
/// request's own capture, as a report job, and which of its spans to write.
struct LiveRequestJob: Sendable {
    var spanId: UInt64
    var request: ReportJob
}
