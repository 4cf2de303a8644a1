/// Which of the requests the keep policy chose get a report of their own when more qualify than a
/// session may keep (`profd --max-kept-requests-per-session`).
///
/// A profiler's most useful requests are the failed and the slow ones, so server errors (status ≥ 500)
/// come first, then the slowest; ties go to the earliest start, then the lowest span id, so the same
/// capture always keeps the same requests. The rest stay in the route and session reports, counted in
/// `SessionMetadata.skippedKeptRequests`.
enum KeptRequestSelection {
    /// The `limit` most useful of `candidates` (indexes of finished spans), in start order; all of them
    /// when `limit` is nil.
    static func mostUseful(_ candidates: [Int], of spans: [SpanRecord], limit: Int?) -> [Int] {
        guard let limit, candidates.count > limit else { return candidates }
        let chosen = candidates.sorted { ranksBefore(spans[$0], $0, spans[$1], $1) }.prefix(max(0, limit))
        return chosen.sorted { (spans[$0].beginNs, $0) < (spans[$1].beginNs, $1) }
    }

    private static func ranksBefore(_ a: SpanRecord, _ aIndex: Int, _ b: SpanRecord, _ bIndex: Int) -> Bool {
        let aError = a.status >= 500, bError = b.status >= 500
        if aError != bError { return aError }
        let aWall = wallNs(a), bWall = wallNs(b)
        if aWall != bWall { return aWall > bWall }
        return (a.beginNs, a.spanId, aIndex) < (b.beginNs, b.spanId, bIndex)
    }

    private static func wallNs(_ span: SpanRecord) -> UInt64 {
        guard let end = span.endNs, end >= span.beginNs else { return 0 }
        return end - span.beginNs
    }
}
