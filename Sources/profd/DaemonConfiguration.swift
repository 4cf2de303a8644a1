import ProfdEngine

/// Everything profd can be told, with the defaults a production install uses.
struct DaemonConfiguration: Sendable {
    /// Where reports are stored (systemd's `StateDirectory=profd`).
    var stateDirectory = "/var/lib/profd"
    /// The control socket clients and profctl connect to.
    var socketPath = "/run/profd/profd.sock"
    /// Permission bits of the socket file created in foreground mode.
    var socketMode: UInt32 = 0o660

    var limits = Limits()

    /// Who may act on another uid's sessions and reports (`--admin-group`).
    var access = AccessPolicy()

    /// How long sessions stay and how much disk they may use (`--retention-max-age`, `--retention-max-bytes`).
    var retention = RetentionPolicy()
    /// How often retention is applied besides after each written session.
    var retentionIntervalSeconds = 60

    struct Limits: Sendable {
        /// Largest message payload accepted; a bigger length field closes the connection.
        var maximumMessageBytes = 65_536
        /// Spans kept per session; more are counted as dropped.
        var maximumSpansPerSession = 1_000_000
        /// Samples buffered per session (16 bytes each); more are counted as dropped.
        var maximumSamplesPerSession = 5_000_000
        /// Concurrent client connections.
        var maximumConnections = 256
        /// Concurrent connections of one uid, so one user cannot take every slot.
        var maximumConnectionsPerUid = 64
        /// Sessions profiling at once (client sessions; attach sessions have their own limit).
        var maximumSessions = 128
        /// Spans a client may begin per second (a token bucket with one second of burst); more are
        /// suppressed and counted in the session's `suppressedSpans`.
        var maximumSpansPerSecond = 200_000
        /// Memory all captures may hold together, running sessions' and those being written
        /// (`CaptureMemoryBudget`); beyond it samples and spans are dropped and counted.
        var maximumCaptureBytes = 1 << 30
        /// Requests of one session that keep a report of their own, and live copies for `profctl follow`.
        /// The keep policy is the client's to choose and can keep every request: 125 000 kept requests took
        /// over a minute and 252 MiB to write at stop. A thousand is more than anyone reads one by one and
        /// costs a few MB; beyond it the errors and slowest are kept and the rest counted
        /// (`skippedKeptRequests`). 0 keeps none.
        var maximumKeptRequestsPerSession = 1_000
    }

    /// How often the sampler looks for threads it does not cover yet and re-reads `/proc/PID/maps`.
    var rescanIntervalNs: UInt64 = 1_000_000_000
    /// Ring pages per CPU for each session's sampler.
    var ringDataPages = 64
}

/// The daemon's version, reported to clients and written into every report.
enum ProfdVersion {
    static let string = "0.1.0"
}
