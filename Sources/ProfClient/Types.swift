extension ProfClient {
    /// One request span, returned by `beginSpan` and passed back to `endSpan`.
    public struct Span: Sendable, Hashable {
        /// Unique per client; 0 when the span was not recorded.
        public let id: UInt64
        /// The route given at begin.
        public let route: String
        /// Kernel thread id of the thread that began the span; 0 when not recorded.
        public let beginThreadId: UInt32
        /// `CLOCK_MONOTONIC` nanoseconds at begin; 0 when not recorded.
        public let beginTimeNs: UInt64
        /// False if profiling was off or the buffer was full at begin; `endSpan` then does nothing.
        public let isRecorded: Bool
    }

    /// What the daemon reported when a session stopped.
    public struct StopResult: Sendable, Equatable {
        /// The id of the stopped session.
        public var sessionId: String
        /// Where the daemon wrote the session's reports.
        public var reportDirectory: String

        public init(sessionId: String, reportDirectory: String) {
            self.sessionId = sessionId
            self.reportDirectory = reportDirectory
        }
    }

    /// Counters of the client since it was created. Reading them takes a lock briefly.
    public struct Statistics: Sendable, Equatable {
        /// Spans begun while profiling and accepted into the buffer.
        public var spansRecorded = 0
        /// `beginSpan` calls while profiling was off (before `start()`, after `stop()`).
        public var spansNotRecorded = 0
        /// Spans whose end message was fully written to the socket.
        public var spansSent = 0
        /// Spans lost: the begin did not fit in the buffer, or the end message was discarded
        /// (buffer full, no connection, no session on the wire, socket full, connection lost mid-frame).
        public var spansDropped = 0
        /// Span messages (begins and ends) discarded, for any of the reasons above.
        public var messagesDropped = 0
        /// Successful connections to the daemon, the first included.
        public var connects = 0
        /// Successful connections after an earlier connection was lost.
        public var reconnects = 0
        /// Whether the client holds a connection now.
        public var isConnected = false
        /// The session id from the last `sessionStarted` or `sessionStopped`.
        public var lastSessionId: String?
        /// The daemon version from the last `helloAck`.
        public var daemonVersion: String?
        /// The last connection failure, socket error or daemon error reply, for humans.
        public var lastError: String?
    }
}
