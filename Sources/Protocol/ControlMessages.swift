// Control messages: profctl asks the daemon what it is doing and profiles processes that do not link
// ProfClient ("attach mode"). Field order here is wire order; docs/PROTOCOL.md describes them.

/// Control → daemon (0x11): profile a running process from outside, without spans.
///
/// The requester's identity is the connection's `SO_PEERCRED` uid; the daemon attaches only to a process
/// whose uids all equal it, unless the requester is root. Payload: pid UInt32, durationMs UInt32,
/// frequencyHz UInt32, flags UInt32 (must be 0).
public struct AttachStart: Sendable, Equatable {
    /// The longest duration a session may be given, in milliseconds (24 hours).
    public static let maximumDurationMs: UInt32 = 86_400_000

    /// The process to profile (its threads, current and future).
    public var pid: UInt32
    /// How long to profile; 0 profiles until `attachStop` (or, for a session without a duration, until the
    /// requesting connection closes).
    public var durationMs: UInt32
    /// Samples per second per thread, in `StartSession.frequencyRange`.
    public var frequencyHz: UInt32

    public init(pid: UInt32, durationMs: UInt32 = 0, frequencyHz: UInt32 = StartSession.defaultFrequencyHz) {
        self.pid = pid
        self.durationMs = durationMs
        self.frequencyHz = frequencyHz
    }
}

/// Control → daemon (0x12): stop an attach session; answered with `sessionStopped` once its reports are written.
public struct AttachStop: Sendable, Equatable {
    /// The id from `sessionStarted`; at most `ProtocolLimits.sessionId` bytes.
    public var sessionId: String

    public init(sessionId: String) {
        self.sessionId = sessionId
    }
}

/// Daemon → control (0x90): the daemon's status, a JSON document of `StatusDocument`'s shape.
public struct StatusReply: Sendable, Equatable {
    /// UTF-8 JSON; at most `ProtocolLimits.statusDocument` bytes.
    public var document: String

    public init(document: String) {
        self.document = document
    }
}

/// The JSON document of a `statusReply` (version 1). Fields are added, never renamed or removed; a reader
/// ignores fields it does not know. Times are RFC 3339 UTC, durations in nanoseconds.
public struct StatusDocument: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public struct Daemon: Codable, Sendable, Equatable {
        public var version: String
        public var pid: Int32
        public var startedAt: String
        public var uptimeNs: UInt64
        public var stateDirectory: String
        /// Samples per second over all open sessions, over the last whole status interval (2 s).
        public var samplesPerSecond: Int
        /// Finished sessions whose reports are being written.
        public var writingSessions: Int

        public init(version: String, pid: Int32, startedAt: String, uptimeNs: UInt64, stateDirectory: String,
                    samplesPerSecond: Int, writingSessions: Int) {
            self.version = version
            self.pid = pid
            self.startedAt = startedAt
            self.uptimeNs = uptimeNs
            self.stateDirectory = stateDirectory
            self.samplesPerSecond = samplesPerSecond
            self.writingSessions = writingSessions
        }
    }

    public struct Disk: Codable, Sendable, Equatable {
        /// Session directories in the state directory.
        public var sessions: Int
        /// Bytes they occupy (allocated, like `du`).
        public var bytes: UInt64
        /// The retention limit in bytes; nil (JSON null) while profd keeps everything.
        public var retentionLimitBytes: UInt64?

        public init(sessions: Int, bytes: UInt64, retentionLimitBytes: UInt64?) {
            self.sessions = sessions
            self.bytes = bytes
            self.retentionLimitBytes = retentionLimitBytes
        }

        // `retentionLimitBytes` is always present, as null when there is no limit.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sessions, forKey: .sessions)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(retentionLimitBytes, forKey: .retentionLimitBytes)
        }
    }

    /// One open session.
    public struct Session: Codable, Sendable, Equatable {
        public var id: String
        /// `client` (a process that links ProfClient and profiles itself) or `attach` (started by profctl).
        public var kind: String
        /// The profiled process.
        public var pid: Int32
        /// The profiled process's uid.
        public var uid: UInt32
        /// Attach sessions: the uid that started the session (it, or root, may stop it).
        public var requesterUid: UInt32?
        /// The profiled process's systemd unit, when it runs in one.
        public var unit: String?
        public var service: String
        public var executable: String?
        public var startedAt: String
        public var elapsedNs: UInt64
        /// Attach sessions with a duration: when it ends by itself.
        public var durationNs: UInt64?
        public var frequencyHz: Int
        /// `profiling`, or `writing` once stopped and until its reports are written.
        public var state: String
        public var samples: Int
        /// Over the last whole second or so.
        public var samplesPerSecond: Int
        public var lostSamples: UInt64
        public var droppedSamples: UInt64
        public var spans: Int
        public var droppedSpans: UInt64

        public init(id: String, kind: String, pid: Int32, uid: UInt32, requesterUid: UInt32? = nil, unit: String?,
                    service: String, executable: String?, startedAt: String, elapsedNs: UInt64, durationNs: UInt64? = nil,
                    frequencyHz: Int, state: String, samples: Int, samplesPerSecond: Int, lostSamples: UInt64,
                    droppedSamples: UInt64, spans: Int, droppedSpans: UInt64) {
            self.id = id
            self.kind = kind
            self.pid = pid
            self.uid = uid
            self.requesterUid = requesterUid
            self.unit = unit
            self.service = service
            self.executable = executable
            self.startedAt = startedAt
            self.elapsedNs = elapsedNs
            self.durationNs = durationNs
            self.frequencyHz = frequencyHz
            self.state = state
            self.samples = samples
            self.samplesPerSecond = samplesPerSecond
            self.lostSamples = lostSamples
            self.droppedSamples = droppedSamples
            self.spans = spans
            self.droppedSpans = droppedSpans
        }
    }

    public var version: Int
    public var daemon: Daemon
    public var disk: Disk
    /// The open sessions the requester may see: all of them for root and the admin group, else only those of its own uid.
    public var sessions: [Session]
    /// Open sessions of other uids, not listed (they are not the requester's to see).
    public var otherUsersSessions: Int
    /// Sessions left out so the document stays within `ProtocolLimits.statusDocument` bytes.
    public var omittedSessions: Int

    public init(version: Int = StatusDocument.currentVersion, daemon: Daemon, disk: Disk, sessions: [Session],
                otherUsersSessions: Int = 0, omittedSessions: Int = 0) {
        self.version = version
        self.daemon = daemon
        self.disk = disk
        self.sessions = sessions
        self.otherUsersSessions = otherUsersSessions
        self.omittedSessions = omittedSessions
    }
}

// The daemon-mediated read path: profctl reads reports through profd, which checks that the requester
// (SO_PEERCRED) owns them, or is root or in the admin group, and passes an open read-only fd back.

/// Control → daemon (0x13): which entries of a directory of the state directory the requester may read.
/// Answered with `fileReply`: a sealed memfd holding one name per line (`\n`), sorted.
public struct ListRequest: Sendable, Equatable {
    /// `sessions` (stored session ids), `live` (running sessions with a live folder), or `live/<id>`
    /// (the files of one live folder). At most `ProtocolLimits.path` bytes.
    public var directory: String

    public static let sessions = "sessions"
    public static let live = "live"

    public init(directory: String) {
        self.directory = directory
    }
}

/// Control → daemon (0x14): open one file of a session, read-only. Answered with `fileReply`, or
/// `error(notFound)` for a missing file and for a session that is not the requester's alike.
public struct OpenRequest: Sendable, Equatable {
    /// `sessions/<id>/<relative path>` or `live/<id>/<name>`: no `.` or `..` component, not absolute, no
    /// symlink anywhere. At most `ProtocolLimits.path` bytes.
    public var path: String

    public init(path: String) {
        self.path = path
    }
}

/// Daemon → control (0x91): the answer to `listRequest` or `openRequest`. The frame carries one file
/// descriptor (SCM_RIGHTS, attached to its first byte), open read-only; the payload is its size then.
public struct FileReply: Sendable, Equatable {
    public var byteCount: UInt64

    public init(byteCount: UInt64) {
        self.byteCount = byteCount
    }
}
