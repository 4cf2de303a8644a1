/// Facts about a profiling session that every report of it repeats.
public struct SessionMetadata: Codable, Sendable, Equatable {
    public var id: String
    public var service: String
    /// The client's pid and uid as the kernel reported them (SO_PEERCRED), never as the client claimed.
    public var pid: Int32
    public var uid: UInt32
    /// `/proc/PID/exe` at session start.
    public var executable: String?
    /// RFC 3339 UTC wall-clock times.
    public var startedAt: String
    public var endedAt: String
    public var durationNs: UInt64
    public var frequencyHz: Int
    /// CPU time one sample stands for.
    public var periodNs: UInt64
    /// Why the session ended: `stopped`, `duration-elapsed`, `client-disconnected`, `target-exited`,
    /// `credentials-changed` or `daemon-shutdown`.
    public var endReason: String
    public var lostSamples: UInt64
    public var droppedSamples: UInt64
    public var droppedSpans: UInt64
    /// Requests of routes the session excluded (`excludedRoutes`), and the samples they took: left out of
    /// every tree, and counted here so that nothing disappears silently.
    /// (Optional so that reports written before these fields existed still decode.)
    public var excludedRequests: Int?
    public var excludedSamples: Int?
    /// The client's systemd unit (`demo.service`), from its cgroup; nil outside systemd.
    public var unit: String?
    /// Spans refused because the client began more per second than profd allows
    /// (`--max-spans-per-second`); nil in reports written before the limit existed.
    public var suppressedSpans: UInt64?
    /// False when the session was cut short (the client vanished or profd shut down): its reports hold
    /// what was sampled until then. Nil in reports written before this field existed.
    public var complete: Bool?
    /// Requests the keep policy chose that got no report of their own because the session reached profd's
    /// `--max-kept-requests-per-session`; they are still in the route and session reports. Nil when no
    /// limit applied (live copies, reports written before the limit existed).
    public var skippedKeptRequests: Int?
    /// `attach` for a session profctl started on a process that does not link ProfClient (no spans: the
    /// session tree is the whole process, without route frames); nil for a client's own session.
    public var mode: String?
    public var daemonVersion: String

    /// The `mode` of attach sessions.
    public static let attachMode = "attach"
    public var isAttach: Bool { mode == Self.attachMode }

    public init(id: String, service: String, pid: Int32, uid: UInt32, executable: String?, startedAt: String,
                endedAt: String, durationNs: UInt64, frequencyHz: Int, endReason: String,
                lostSamples: UInt64 = 0, droppedSamples: UInt64 = 0, droppedSpans: UInt64 = 0,
                unit: String? = nil, complete: Bool? = nil, mode: String? = nil, daemonVersion: String) {
        self.id = id
        self.service = service
        self.pid = pid
        self.uid = uid
        self.executable = executable
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationNs = durationNs
        self.frequencyHz = max(1, frequencyHz)
        self.periodNs = 1_000_000_000 / UInt64(max(1, frequencyHz))
        self.endReason = endReason
        self.lostSamples = lostSamples
        self.droppedSamples = droppedSamples
        self.droppedSpans = droppedSpans
        self.unit = unit
        self.complete = complete
        self.mode = mode
        self.daemonVersion = daemonVersion
    }
}

/// Request counts and wall-clock latency for a route or a whole session.
public struct RequestSummary: Codable, Sendable, Equatable {
    public var count: Int = 0
    /// Requests that began but had not ended when the session stopped.
    public var unfinished: Int = 0
    /// Count per HTTP status code; `"0"` means the client did not say.
    public var statusCounts: [String: Int] = [:]
    public var wallNs: LatencyStats?
    /// Where the finished requests' wall time went, summed over them.
    public var time: TimeBreakdown?

    public init() {}

    public init(spans: some Sequence<SpanRecord>) {
        var latencies: [UInt64] = []
        for span in spans {
            count += 1
            guard let end = span.endNs else { unfinished += 1; continue }
            statusCounts[String(span.status), default: 0] += 1
            latencies.append(end >= span.beginNs ? end - span.beginNs : 0)
        }
        wallNs = LatencyStats(latencies)
    }
}

/// Where requests' wall-clock time went, in nanoseconds summed over the finished requests.
///
/// `wallNs = cpuNs + offCPUNs + suspendedNs`. Off CPU comes from the kernel's context-switch records
/// (exact), and on CPU is the rest of the time on a thread; in sessions without switch records, on CPU
/// comes from samples and off CPU is the remainder. For a request whose async work
/// was stamped job by job (run slices), the time its jobs held a thread is `cpuNs + offCPUNs` (off CPU
/// while holding a thread: blocked in a syscall, waiting for a lock, preempted), and the rest is
/// `suspendedNs`: awaiting with no thread at all. A request without slices holds its thread throughout.
public struct TimeBreakdown: Codable, Sendable, Equatable {
    public var requests: Int
    public var wallNs: UInt64
    public var cpuNs: UInt64
    public var offCPUNs: UInt64
    public var suspendedNs: UInt64

    public init(requests: Int = 0, wallNs: UInt64 = 0, cpuNs: UInt64 = 0, offCPUNs: UInt64 = 0, suspendedNs: UInt64 = 0) {
        self.requests = requests
        self.wallNs = wallNs
        self.cpuNs = cpuNs
        self.offCPUNs = offCPUNs
        self.suspendedNs = suspendedNs
    }

    /// Adds another breakdown's requests to this one.
    public mutating func add(_ other: TimeBreakdown) {
        requests += other.requests
        wallNs += other.wallNs
        cpuNs += other.cpuNs
        offCPUNs += other.offCPUNs
        suspendedNs += other.suspendedNs
    }

    /// Adds one finished request: its wall time, CPU time (samples) and time on a thread.
    public mutating func add(wallNs: UInt64, cpuNs: UInt64, onThreadNs: UInt64) {
        let onThread = min(onThreadNs, wallNs)
        let cpu = min(cpuNs, onThread)
        requests += 1
        self.wallNs += wallNs
        self.cpuNs += cpu
        offCPUNs += onThread - cpu
        suspendedNs += wallNs - onThread
    }
}

/// Latency distribution in nanoseconds (nearest-rank percentiles).
public struct LatencyStats: Codable, Sendable, Equatable {
    public var total: UInt64
    public var mean: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var max: UInt64

    public init?(_ values: [UInt64]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ p: Double) -> UInt64 {
            sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
        total = sorted.reduce(0, &+)
        mean = total / UInt64(sorted.count)
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = sorted[sorted.count - 1]
    }
}

/// One route's entry in the session report, with the names of its report files.
public struct RouteSummary: Codable, Sendable, Equatable {
    public var route: String
    public var requests: Int
    public var samples: Int
    public var cpuNs: UInt64
    /// File names relative to the session directory.
    public var files: [String: String]

    public init(route: String, requests: Int, samples: Int, cpuNs: UInt64, files: [String: String]) {
        self.route = route
        self.requests = requests
        self.samples = samples
        self.cpuNs = cpuNs
        self.files = files
    }
}

/// A rendered-format-neutral report: what text, JSON and later formats are drawn from.
public struct ProfileReport: Sendable {
    public enum Scope: Sendable, Equatable {
        /// The whole session; the tree's first level splits time by route.
        case session
        case route(String)
        /// One request that kept a report of its own (slower than the session's threshold).
        case request(KeptRequest)
    }

    public var scope: Scope
    public var metadata: SessionMetadata
    public var requests: RequestSummary
    public var tree: CallTree
    /// Per-route entries; filled for session reports.
    public var routes: [RouteSummary]
    /// Requests that kept their own report; filled for session reports.
    public var keptRequests: [KeptRequest] = []

    public init(scope: Scope, metadata: SessionMetadata, requests: RequestSummary, tree: CallTree, routes: [RouteSummary] = []) {
        self.scope = scope
        self.metadata = metadata
        self.requests = requests
        self.tree = tree
        self.routes = routes
    }

    public var samples: Int { tree.totalSamples }
    public var cpuNs: UInt64 { UInt64(samples) * metadata.periodNs }
}
