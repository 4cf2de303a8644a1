#if canImport(Glibc)
import Glibc
#endif
import ProfdProtocol

extension ProfClient {
    /// How a `ProfClient` reaches the daemon and how much it may buffer.
    public struct Configuration: Sendable {
        /// The socket path used when `PROFD_SOCKET` is unset or empty.
        public static let defaultSocketPath = "/run/profd/profd.sock"

        /// The service name shown in reports (sent in `hello`; cut to 256 UTF-8 bytes).
        public var service: String
        /// The daemon's Unix socket. Defaults to `$PROFD_SOCKET`, else `defaultSocketPath`.
        public var socketPath: String
        /// Span messages (begins + ends) buffered between flushes; more are dropped and counted. At least 1.
        public var bufferCapacity: Int = 8192
        /// How often the background thread writes buffered spans to the socket. At least 1 ms.
        public var flushInterval: Duration = .milliseconds(10)
        /// The least time between two connection attempts.
        public var reconnectInterval: Duration = .seconds(1)
        /// `SO_SNDBUF` for the client socket; nil keeps the kernel default. The socket never blocks either way.
        public var sendBufferSize: Int? = nil

        // MARK: What is profiled and what the daemon writes (the middleware options)

        /// Samples per second per thread that `start()` asks for (clamped into 1...10 000).
        public var frequencyHz: Int = 1000
        /// The formats profd writes for every report of the session (route, session and kept requests).
        public var formats: ReportFormats = [.text, .json]
        /// Print one line per profiled request (route, status, wall time) to standard error as it ends.
        public var printEachRequest: Bool = false
        /// The file name, without extension, of each kept request's report, in the session's `requests/`
        /// folder. Placeholders: `{route}`, `{method}`, `{status}`, `{ms}` (wall time), `{id}` (span id) and
        /// `{time}` (UTC, `20261126T134501.123Z`). profd makes the result a safe file name and appends
        /// `-{id}` when two requests would collide.
        public var reportFileName: String = "{time}-{route}-{id}"
        /// Route patterns to profile; empty profiles every route. `*` matches any run of characters, so
        /// `"GET /api/*"` takes every GET under `/api/`. Matched against the report's route name.
        public var includedRoutes: [String] = []
        /// Route patterns never profiled, even if included (for example `"GET /health"`).
        public var excludedRoutes: [String] = []
        /// The share of requests `profileRequest` profiles, 0...100. Requests not picked cost one atomic
        /// increment and are not counted in any report.
        public var sampledPercentage: Double = 100
        /// Keep a full per-request report for every request at least this slow (wall time); nil keeps none
        /// for being slow. `.zero` keeps one for every request. Every profiled request counts toward its
        /// route's report whether or not it keeps one of its own.
        public var slowRequestThreshold: Duration? = nil
        /// Keep a full report for every request that ended with a server error (status ≥ 500).
        public var keepServerErrors: Bool = true
        /// Keep a full report for this share (0...100 %) of the remaining requests, picked by profd when
        /// each request ends (by a hash of its id: random-looking, reproducible).
        public var keptPercentage: Double = 0
        /// profd logs each kept request's text tree in its own log (journald under systemd).
        public var logKeptRequests: Bool = false
        /// Where `profileRequest` runs profiled requests' jobs, stamping each so that samples are attributed
        /// job by job. nil (the default): on the global concurrent executor's own threads, which costs
        /// about a microsecond per request. A number: on that many dedicated threads (started on first
        /// use), which costs a thread wake-up whenever they are idle.
        public var executorThreads: Int? = nil

        /// A configuration with defaults, reading `PROFD_SOCKET` from the environment.
        public init(service: String) {
            self.service = service
            self.socketPath = Self.socketPath(environmentValue: getenv("PROFD_SOCKET").map { String(cString: $0) })
        }

        /// Online processors, at least 1: the default size of the attribution pool.
        public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

        /// The options the daemon applies to the session (sent with `startSession`).
        var sessionOptions: SessionOptions {
            SessionOptions(formats: formats.rawValue,
                           slowThresholdNs: slowRequestThreshold.map { $0.clampedNanoseconds },
                           reportFileName: reportFileName,
                           includedRoutes: includedRoutes, excludedRoutes: excludedRoutes,
                           keepServerErrors: keepServerErrors,
                           keptBasisPoints: UInt16((min(max(keptPercentage.isNaN ? 0 : keptPercentage, 0), 100) * 100).rounded()),
                           logKeptRequests: logKeptRequests)
        }

        /// The socket path for a given value of `PROFD_SOCKET`: the value unless it is nil or empty.
        public static func socketPath(environmentValue: String?) -> String {
            guard let value = environmentValue, !value.isEmpty else { return defaultSocketPath }
            return value
        }
    }
}

/// A set of report formats.
public struct ReportFormats: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The tree as plain text (`.txt`).
    public static let text = ReportFormats(rawValue: SessionOptions.formatText)
    /// The versioned JSON document (`.json`), described by `docs/report-schema.json`.
    public static let json = ReportFormats(rawValue: SessionOptions.formatJSON)
    /// One self-contained HTML file (`.html`) with a collapsible tree; works offline.
    public static let html = ReportFormats(rawValue: SessionOptions.formatHTML)
}

extension Duration {
    /// This duration in whole nanoseconds, clamped into `0...UInt64.max`.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let fraction = UInt64(max(0, attoseconds) / 1_000_000_000)
        let (sum, overflow2) = whole.addingReportingOverflow(fraction)
        return overflow2 ? .max : sum
    }
}
