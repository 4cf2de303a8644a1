/// Finds the request that owned a thread at an instant.
///
/// A span the client marked job by job (run slices from its task executor) owns exactly the stretches its
/// jobs ran, on the threads they ran on: async handlers hop threads at every `await` and share threads with
/// other requests, so nothing else is trustworthy for them. A span without slices (the synchronous API)
/// owns its begin thread from begin to end, which is exact for work that stays on one thread.
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

    /// Indexes `spans` and their `slices`; an unfinished span without slices runs until `openEndNs`.
    public init(spans: [SpanRecord], slices: [RunSliceRecord] = [], openEndNs: UInt64) {
        var sliced = Set<Int>()
        for slice in slices where spans.indices.contains(slice.span) && slice.endNs >= slice.beginNs {
            sliced.insert(slice.span)
            byThread[slice.threadId, default: []].append(Interval(begin: slice.beginNs, end: slice.endNs, span: slice.span))
        }
        for (index, span) in spans.enumerated() where !sliced.contains(index) {
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
        var index = intervals.countOfPrefix(withKey: \.begin, atMost: timeNs) - 1
        var steps = 0
        while index >= 0 && steps < maximumBacktrack {
            if intervals[index].end >= timeNs { return intervals[index].span }
            index -= 1
            steps += 1
        }
        return nil
    }
}
