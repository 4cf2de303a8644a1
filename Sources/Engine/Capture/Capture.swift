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

    public init() {}

    /// Records one sample, interning its stack.
    public mutating func add(tid: Int32, timeNs: UInt64, addresses: [UInt64], inKernel: Bool,
                             stackWords: StackWords = StackWords()) {
        let id = stacks.intern(.init(addresses: addresses, inKernel: inKernel, stackWords: stackWords))
        samples.append(CapturedSample(tid: tid, stack: id, timeNs: timeNs))
    }
}
