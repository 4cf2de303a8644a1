// The payload structs of protocol v1, one per message type. Field order here is wire order.

/// Client → daemon (0x01): the first message on a connection.
///
/// The client's pid and uid are not fields: the daemon takes them from `SO_PEERCRED`.
public struct Hello: Sendable, Equatable {
    /// The highest protocol version the client speaks.
    public var protocolVersion: UInt16
    /// The service name shown in reports; at most `ProtocolLimits.serviceName` bytes.
    public var service: String

    public init(protocolVersion: UInt16 = UInt16(ProfdProtocolVersion.current), service: String) {
        self.protocolVersion = protocolVersion
        self.service = service
    }
}

/// Client → daemon (0x02): start sampling the peer process.
public struct StartSession: Sendable, Equatable {
    /// The sampling frequencies a v1 daemon accepts.
    public static let frequencyRange: ClosedRange<UInt32> = 1...10_000
    /// The frequency clients use unless told otherwise.
    public static let defaultFrequencyHz: UInt32 = 1000
    /// Flag bit: the session options follow the flags.
    public static let flagHasOptions: UInt32 = 1

    /// Samples per second per thread; encoding clamps it into `frequencyRange`.
    public var frequencyHz: UInt32
    /// How the daemon writes and filters the session's reports; nil keeps the daemon's defaults.
    /// Encoded after the flags, with `flagHasOptions` set.
    public var options: SessionOptions?

    public init(frequencyHz: UInt32 = StartSession.defaultFrequencyHz, options: SessionOptions? = nil) {
        self.frequencyHz = frequencyHz
        self.options = options
    }
}

/// What a client asks of its session's reports: formats, kept requests, file names, route filters.
public struct SessionOptions: Sendable, Equatable {
    /// Format bits.
    public static let formatText: UInt8 = 1
    public static let formatJSON: UInt8 = 2
    public static let formatHTML: UInt8 = 4
    /// Most patterns in each route list.
    public static let maximumPatterns = 64
    /// Keep-policy flag bits.
    public static let keepServerErrorsFlag: UInt8 = 1
    public static let logKeptRequestsFlag: UInt8 = 2
    /// Longest report file name template, in UTF-8 bytes.
    public static let maximumFileNameTemplate = 256

    /// Formats to write (bits above); 0 means the daemon's default (text and JSON).
    public var formats: UInt8
    /// Requests at least this slow (wall, ns) get their own report; nil keeps none.
    public var slowThresholdNs: UInt64?
    /// Template for kept requests' report file names (see `ProfClient.Configuration.reportFileName`).
    public var reportFileName: String
    /// Route patterns (`*` wildcard) to report; empty means all.
    public var includedRoutes: [String]
    /// Route patterns never reported.
    public var excludedRoutes: [String]

    /// Keep a report for every request that ended with a server error (status ≥ 500).
    public var keepServerErrors: Bool
    /// Keep a report for this share of the other requests, in basis points (0...10 000), picked by a hash of
    /// the span id, so the choice is random-looking but reproducible.
    public var keptBasisPoints: UInt16
    /// Log each kept request's text tree in the daemon's log (pyinstrument's "print each request").
    public var logKeptRequests: Bool

    public init(formats: UInt8 = 0, slowThresholdNs: UInt64? = nil, reportFileName: String = "",
                includedRoutes: [String] = [], excludedRoutes: [String] = [],
                keepServerErrors: Bool = true, keptBasisPoints: UInt16 = 0, logKeptRequests: Bool = false) {
        self.formats = formats
        self.keepServerErrors = keepServerErrors
        self.keptBasisPoints = min(keptBasisPoints, 10_000)
        self.logKeptRequests = logKeptRequests
        self.slowThresholdNs = slowThresholdNs
        self.reportFileName = reportFileName
        self.includedRoutes = includedRoutes
        self.excludedRoutes = excludedRoutes
    }
}

/// Client → daemon (0x03): a request span began on a thread.
public struct SpanBegin: Sendable, Equatable {
    /// Unique per client connection; pairs the begin with its end.
    public var spanId: UInt64
    /// Kernel thread id (`gettid`) of the thread that began the span.
    public var threadId: UInt32
    /// `CLOCK_MONOTONIC` nanoseconds at begin.
    public var timeNs: UInt64
    /// The route as known at begin; at most `ProtocolLimits.route` bytes.
    public var route: String

    public init(spanId: UInt64, threadId: UInt32, timeNs: UInt64, route: String) {
        self.spanId = spanId
        self.threadId = threadId
        self.timeNs = timeNs
        self.route = route
    }
}

/// One stretch of a span's work on one thread: a job of the span's task, from start to finish.
public struct RunSlice: Sendable, Equatable {
    public var spanId: UInt64
    public var threadId: UInt32
    /// `CLOCK_MONOTONIC` nanoseconds.
    public var beginNs: UInt64
    public var endNs: UInt64

    public init(spanId: UInt64, threadId: UInt32, beginNs: UInt64, endNs: UInt64) {
        self.spanId = spanId
        self.threadId = threadId
        self.beginNs = beginNs
        self.endNs = endNs
    }
}

/// Client → daemon (0x06): where and when spans' async work actually ran.
///
/// An async handler suspends at each `await` and may resume on another thread, so (thread, begin…end)
/// misattributes samples. A client that marks each job it runs sends these slices; the daemon then
/// attributes a span's samples by its slices alone. Payload: count UInt16, then count × (spanId UInt64,
/// threadId UInt32, beginNs UInt64, endNs UInt64), at most `RunSlices.maximumCount`.
public struct RunSlices: Sendable, Equatable {
    public static let encodedSliceLength = 28
    public static let maximumCount = 2048
    public var slices: [RunSlice]

    public init(slices: [RunSlice]) {
        self.slices = slices
    }
}

/// Client → daemon (0x04): a request span ended.
public struct SpanEnd: Sendable, Equatable {
    /// The id given in the matching `SpanBegin`.
    public var spanId: UInt64
    /// Kernel thread id of the thread that ended the span (it may differ from the begin thread).
    public var threadId: UInt32
    /// `CLOCK_MONOTONIC` nanoseconds at end.
    public var timeNs: UInt64
    /// HTTP status of the response; 0 means unknown.
    public var httpStatus: UInt16
    /// The matched route if it became known only after the handler ran; empty keeps the route from begin.
    public var route: String

    public init(spanId: UInt64, threadId: UInt32, timeNs: UInt64, httpStatus: UInt16 = 0, route: String = "") {
        self.spanId = spanId
        self.threadId = threadId
        self.timeNs = timeNs
        self.httpStatus = httpStatus
        self.route = route
    }
}

/// Daemon → client (0x81): reply to `Hello`.
public struct HelloAck: Sendable, Equatable {
    /// The protocol version the daemon will speak on this connection.
    public var protocolVersion: UInt16
    /// Free-form daemon version; at most `ProtocolLimits.daemonVersion` bytes.
    public var daemonVersion: String

    public init(protocolVersion: UInt16 = UInt16(ProfdProtocolVersion.current), daemonVersion: String) {
        self.protocolVersion = protocolVersion
        self.daemonVersion = daemonVersion
    }
}

/// Daemon → client (0x82): sampling started.
public struct SessionStarted: Sendable, Equatable {
    /// The session id; at most `ProtocolLimits.sessionId` bytes.
    public var sessionId: String
    /// The frequency the daemon actually samples at.
    public var frequencyHz: UInt32

    public init(sessionId: String, frequencyHz: UInt32) {
        self.sessionId = sessionId
        self.frequencyHz = frequencyHz
    }
}

/// Daemon → client (0x83): sampling stopped and the report is written.
public struct SessionStopped: Sendable, Equatable {
    /// The id from `SessionStarted`.
    public var sessionId: String
    /// Where the session's reports are; at most `ProtocolLimits.path` bytes.
    public var reportDirectory: String

    public init(sessionId: String, reportDirectory: String) {
        self.sessionId = sessionId
        self.reportDirectory = reportDirectory
    }
}

/// Daemon → client (0x8F): the daemon refused or failed a request.
public struct ErrorReply: Sendable, Equatable {
    /// The error code of an `ErrorReply`: an open set, so codes from newer daemons survive decoding.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt16

        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// A frame could not be decoded (bad magic, truncated or malformed payload).
        public static let badFrame = Code(rawValue: 1)
        /// The frame's protocol version is not spoken by the daemon.
        public static let unsupportedVersion = Code(rawValue: 2)
        /// The frame's message type is unknown.
        public static let unknownMessageType = Code(rawValue: 3)
        /// The frame's payload exceeds the receiver's limit.
        public static let payloadTooLarge = Code(rawValue: 4)
        /// A valid message at the wrong time, e.g. a span before `startSession`, or `startSession` before `hello`.
        public static let protocolViolation = Code(rawValue: 5)
        /// The daemon failed internally.
        public static let `internal` = Code(rawValue: 6)
        /// The peer may not be profiled (policy, uid).
        public static let permissionDenied = Code(rawValue: 7)
        /// A daemon limit (sessions, clients, disk) was reached.
        public static let limitExceeded = Code(rawValue: 8)
        /// The process or session a control message names does not exist (or is not the caller's to see).
        public static let notFound = Code(rawValue: 9)

        public var description: String {
            switch self {
            case .badFrame: "badFrame"
            case .unsupportedVersion: "unsupportedVersion"
            case .unknownMessageType: "unknownMessageType"
            case .payloadTooLarge: "payloadTooLarge"
            case .protocolViolation: "protocolViolation"
            case .internal: "internal"
            case .permissionDenied: "permissionDenied"
            case .limitExceeded: "limitExceeded"
            case .notFound: "notFound"
            default: "code\(rawValue)"
            }
        }
    }

    public var code: Code
    /// Human-readable detail; at most `ProtocolLimits.message` bytes.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }
}
