/// One sample as the daemon keeps it: 16 bytes, the stack interned in a `StackTable`.
public struct CapturedSample: Sendable, Hashable {
    public var tid: Int32
    public var stack: UInt32
    /// `CLOCK_MONOTONIC` nanoseconds, comparable with the client's span timestamps.
    public var timeNs: UInt64

    public init(tid: Int32, stack: UInt32, timeNs: UInt64) {
        self.tid = tid
        self.stack = stack
        self.timeNs = timeNs
    }
}

/// A request as the client reported it. Times are `CLOCK_MONOTONIC` nanoseconds.
public struct SpanRecord: Sendable, Hashable, Codable {
    public var spanId: UInt64
    public var route: String
    /// The thread the span began on; attribution by (thread, time) uses it.
    public var threadId: Int32
    public var beginNs: UInt64
    /// Nil while the request is still running.
    public var endNs: UInt64?
    public var endThreadId: Int32?
    /// HTTP status, 0 when unknown.
    public var status: Int

    public init(spanId: UInt64, route: String, threadId: Int32, beginNs: UInt64,
                endNs: UInt64? = nil, endThreadId: Int32? = nil, status: Int = 0) {
        self.spanId = spanId
        self.route = route
        self.threadId = threadId
        self.beginNs = beginNs
        self.endNs = endNs
        self.endThreadId = endThreadId
        self.status = status
    }
}

/// A stretch of time during which one span's async work ran on one thread (a job, as the client's task
/// executor saw it). Times are `CLOCK_MONOTONIC` nanoseconds.
public struct RunSliceRecord: Sendable, Hashable {
    /// Index into `Capture.spans`.
    public var span: Int
    public var threadId: Int32
    public var beginNs: UInt64
    public var endNs: UInt64

    public init(span: Int, threadId: Int32, beginNs: UInt64, endNs: UInt64) {
        self.span = span
        self.threadId = threadId
        self.beginNs = beginNs
        self.endNs = endNs
    }
}

/// Everything recorded for one session, ready to be attributed, symbolized and rendered.
public struct Capture: Sendable {
    public var stacks = StackTable()
    public var samples: [CapturedSample] = []
    public var spans: [SpanRecord] = []
    /// Where spans' async work ran. A span with slices is attributed by them alone.
    public var slices: [RunSliceRecord] = []
    /// Thread names from the kernel's COMM records, by tid.
    public var threadNames: [Int32: String] = [:]
    /// Samples the kernel lost because a ring was full.
    public var lostSamples: UInt64 = 0
    /// Samples dropped because the session hit its buffered-sample limit.
    public var droppedSamples: UInt64 = 0
    /// Spans dropped because the session hit its span limit.
    public var droppedSpans: UInt64 = 0
    /// The sampled threads' context switches (`PERF_RECORD_SWITCH`), in arrival order: rings are not merged,
    /// so they are not sorted. `offCPUIntervals()` pairs them into per-thread off-CPU intervals. Empty for
    /// sessions recorded without them; reports then estimate off-CPU time from samples.
    public var switches: [ContextSwitch] = []
    /// Switch records dropped because the session hit its limit.
    public var droppedSwitches: UInt64 = 0
    /// The earliest time of a dropped switch record: off-CPU intervals are complete only before it. Nil while
    /// none was dropped.
    public var switchesCompleteUntilNs: UInt64?

    public init() {}

    /// Records one sample, interning its stack.
    public mutating func add(tid: Int32, timeNs: UInt64, addresses: [UInt64], inKernel: Bool,
                             stackWords: StackWords = StackWords()) {
        let id = stacks.intern(.init(addresses: addresses, inKernel: inKernel, stackWords: stackWords))
        samples.append(CapturedSample(tid: tid, stack: id, timeNs: timeNs))
    }
}

/// A stretch of time during which one thread was off CPU: from a switch-out to its next switch-in
/// (`CLOCK_MONOTONIC` nanoseconds, `beginNs <= endNs`).
public struct OffCPUInterval: Sendable, Hashable {
    public var beginNs: UInt64
    /// `UInt64.max` when the thread had not come back by the end of the session.
    public var endNs: UInt64
    /// The thread was preempted (still runnable, waiting for a CPU) rather than blocked or sleeping.
    public var preempted: Bool

    public init(beginNs: UInt64, endNs: UInt64, preempted: Bool = false) {
        self.beginNs = beginNs
        self.endNs = endNs
        self.preempted = preempted
    }
}

extension Capture {
    /// Records one context switch, or counts it as dropped once `limit` switches are kept.
    public mutating func add(_ contextSwitch: ContextSwitch, limit: Int = .max) {
        guard switches.count < limit else {
            droppedSwitches += 1
            switchesCompleteUntilNs = min(switchesCompleteUntilNs ?? .max, contextSwitch.timeNs)
            return
        }
        switches.append(contextSwitch)
    }

    /// Every thread's off-CPU intervals, sorted by time and disjoint: each switch-out (blocked or preempted)
    /// paired with the thread's next switch-in.
    ///
    /// Pairing happens here, not as records arrive, because a thread's switch-out and switch-in can sit in
    /// different CPU rings and so reach the capture in either order, even in different drains. A thread whose
    /// first record is a switch-in was off CPU since before the session (from 0); one whose last record is a
    /// switch-out stays off CPU (to `UInt64.max`). When the kernel lost records, a second switch-out without
    /// a switch-in in between restarts the interval and a second switch-in is ignored, so a lost record never
    /// stretches an interval over time the thread ran.
    public func offCPUIntervals() -> [Int32: [OffCPUInterval]] {
        var byThread: [Int32: [ContextSwitch]] = [:]
        for record in switches { byThread[record.tid, default: []].append(record) }
        var result: [Int32: [OffCPUInterval]] = [:]
        result.reserveCapacity(byThread.count)
        for (tid, records) in byThread {
            let sorted = records.sorted { $0.timeNs < $1.timeNs }
            var intervals: [OffCPUInterval] = []
            var out: ContextSwitch?
            for (position, record) in sorted.enumerated() {
                if record.isOut {
                    out = record
                } else if let switchedOut = out {
                    intervals.append(OffCPUInterval(beginNs: switchedOut.timeNs, endNs: record.timeNs,
                                                    preempted: switchedOut.kind == .preempted))
                    out = nil
                } else if position == 0 {
                    intervals.append(OffCPUInterval(beginNs: 0, endNs: record.timeNs))
                }
            }
            if let out {
                intervals.append(OffCPUInterval(beginNs: out.timeNs, endNs: .max, preempted: out.kind == .preempted))
            }
            result[tid] = intervals
        }
        return result
    }
}

extension [OffCPUInterval] {
    /// Nanoseconds of `[beginNs, endNs)` covered by these (sorted, disjoint) intervals.
    public func overlap(beginNs: UInt64, endNs: UInt64) -> UInt64 {
        guard beginNs < endNs else { return 0 }
        // The first interval that ends after `beginNs`.
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle].endNs <= beginNs { low = middle + 1 } else { high = middle }
        }
        var total: UInt64 = 0
        var index = low
        while index < count, self[index].beginNs < endNs {
            total += Swift.min(self[index].endNs, endNs) - Swift.max(self[index].beginNs, beginNs)
            index += 1
        }
        return total
    }
}
