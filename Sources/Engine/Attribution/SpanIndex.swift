/// Finds the request that owned a thread at an instant: attribution by (thread, time).
///
/// This is exact for synchronous handlers. Async handlers that hop threads need the client to report
/// which task runs where; that refinement plugs in here without changing callers.
public struct SpanIndex: Sendable {
    private struct Interval: Sendable {
        var begin: UInt64
        var end: UInt64
        var span: Int
    }

    /// Intervals per thread, sorted by begin time.
    private var byThread: [Int32: [Interval]] = [:]
    /// How far back the lookup walks from the latest interval that began before the instant. Bounds the
    /// cost when many short requests overlap a long one on the same thread.
    private let maximumBacktrack = 64

    /// Indexes `spans`; an unfinished span is treated as running until `openEndNs`.
    public init(spans: [SpanRecord], openEndNs: UInt64) {
        for (index, span) in spans.enumerated() {
            let end = span.endNs ?? openEndNs
            guard end >= span.beginNs else { continue }
            byThread[span.threadId, default: []].append(Interval(begin: span.beginNs, end: end, span: index))
        }
        for key in byThread.keys {
            byThread[key]!.sort { $0.begin < $1.begin }
        }
    }

    /// The index into the indexed spans of the request running on `tid` at `timeNs`, or nil.
    /// When spans nest on one thread, the innermost (latest begun) wins.
    public func span(tid: Int32, timeNs: UInt64) -> Int? {
        guard let intervals = byThread[tid], !intervals.isEmpty else { return nil }
        // Last interval with begin <= timeNs.
        var low = 0
        var high = intervals.count
        while low < high {
            let mid = (low + high) / 2
            if intervals[mid].begin <= timeNs { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        var steps = 0
        while index >= 0 && steps < maximumBacktrack {
            if intervals[index].end >= timeNs { return intervals[index].span }
            index -= 1
            steps += 1
        }
        return nil
    }
}
