#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import ProfdEngine
import ServiceLifecycle

/// `profd`: the profiling daemon, in the foreground (systemd runs it as `Type=notify`).
@main
struct ProfdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profd",
        abstract: "Per-request sampling profiler daemon for Swift web services.",
        discussion: """
            Clients link ProfClient and connect to the control socket. profd samples the client's threads \
            with perf_event_open and writes text and JSON reports per route and per session under \
            STATE-DIR/sessions/<session-id>/. Sessions are removed, oldest first, once older than \
            --retention-max-age (default 14d) or while sessions/ uses more than --retention-max-bytes \
            (default 1G); 0 turns either limit off. Retention runs after each written session and every minute.

            Under systemd, profd takes its listening socket from profd.socket (socket activation), its \
            state directory from $STATE_DIRECTORY, logs to the journal with one field per detail \
            (PROFD_SESSION=, PROFD_CLIENT_PID=, PROFD_CLIENT_UNIT=, ...), reports its state with \
            sd_notify (READY=1, STATUS=, WATCHDOG=1, STOPPING=1), and on SIGTERM writes the reports of \
            open sessions, marked incomplete, before it exits.

            Examples:
              profd                                    # production defaults (run by systemd)
              profd --state-dir ./.profd --socket ./.profd/profd.sock --log-level debug
            """,
        version: ProfdVersion.string)

    @Option(name: .long, help: ArgumentHelp("Directory for reports (default: $STATE_DIRECTORY, else \(DaemonConfiguration().stateDirectory)).", valueName: "dir"))
    var stateDir: String?

    @Option(name: .long, help: "Path of the control socket, when systemd does not pass one.")
    var socket: String = DaemonConfiguration().socketPath

    @Option(name: .long, help: "Permission bits of the socket file, in octal.")
    var socketMode: String = "660"

    @Option(name: .long, help: "Largest accepted message payload, in bytes.")
    var maxMessageBytes: Int = DaemonConfiguration.Limits().maximumMessageBytes

    @Option(name: .long, help: "Spans one client may begin per second; more are suppressed and counted.")
    var maxSpansPerSecond: Int = DaemonConfiguration.Limits().maximumSpansPerSecond

    @Option(name: .long, help: "Requests of one session that keep a report of their own (and a live copy for profctl follow); beyond it server errors and the slowest are kept and the rest counted. 0 keeps none.")
    var maxKeptRequestsPerSession: Int = DaemonConfiguration.Limits().maximumKeptRequestsPerSession

    @Option(name: .long, help: "Connections one uid may hold at once.")
    var maxConnectionsPerUid: Int = DaemonConfiguration.Limits().maximumConnectionsPerUid

    @Option(name: .long, help: "Client sessions profiling at once.")
    var maxSessions: Int = DaemonConfiguration.Limits().maximumSessions

    @Option(name: .long, help: "Samples buffered per session (16 bytes each); more are dropped and counted.")
    var maxSamplesPerSession: Int = DaemonConfiguration.Limits().maximumSamplesPerSession

    @Option(name: .long, help: ArgumentHelp("Memory all sessions' captures may hold together, until their reports are written: bytes or a number with K, M or G; more samples and spans are dropped and counted.", valueName: "bytes"))
    var maxCaptureMemory: String = "1G"

    @Option(name: .long, help: ArgumentHelp("Remove sessions written longer ago than this: 14d, 12h, 30m, 90s, 2w, or seconds; 0 keeps them forever.", valueName: "age"))
    var retentionMaxAge: String = "14d"

    @Option(name: .long, help: ArgumentHelp("Remove the oldest sessions while STATE-DIR/sessions uses more disk than this: 1G, 512M, 64K (binary units) or bytes; 0 is no limit.", valueName: "size"))
    var retentionMaxBytes: String = "1G"

    @Option(name: .long, help: ArgumentHelp("Members of this group (a name or a gid) may attach to, see and read the sessions and reports of every uid, as root may. Default: none.", valueName: "group"))
    var adminGroup: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Where logs go: journal, stderr, or auto (the journal when systemd connected stderr to it).")
    var logTarget: String = LogTarget.auto.rawValue

    mutating func validate() throws {
        if let adminGroup, Self.groupId(adminGroup) == nil {
            throw ValidationError("--admin-group '\(adminGroup)' is neither a gid nor a group name this system knows")
        }
        guard UInt32(socketMode, radix: 8) != nil else { throw ValidationError("--socket-mode must be octal, e.g. 660") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard LogTarget(rawValue: logTarget) != nil else {
            throw ValidationError("unknown --log-target '\(logTarget)': use \(LogTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard RetentionPolicy.parseAge(retentionMaxAge) != nil else {
            throw ValidationError("--retention-max-age must be a number with s, m, h, d or w (e.g. 14d), or 0 for no limit")
        }
        guard RetentionPolicy.parseBytes(retentionMaxBytes) != nil else {
            throw ValidationError("--retention-max-bytes must be bytes or a number with K, M, G or T (e.g. 1G), or 0 for no limit")
        }
        guard (1024...16 << 20).contains(maxMessageBytes) else { throw ValidationError("--max-message-bytes must be 1024...16777216") }
        guard let captureBytes = RetentionPolicy.parseBytes(maxCaptureMemory), captureBytes >= 1 << 20 else {
            throw ValidationError("--max-capture-memory must be at least 1M: bytes or a number with K, M, G or T (e.g. 512M)")
        }
        guard maxSpansPerSecond >= 1 else { throw ValidationError("--max-spans-per-second must be at least 1") }
        guard (0...1_000_000).contains(maxKeptRequestsPerSession) else {
            throw ValidationError("--max-kept-requests-per-session must be 0...1000000")
        }
        guard maxConnectionsPerUid >= 1 else { throw ValidationError("--max-connections-per-uid must be at least 1") }
        guard maxSessions >= 1 else { throw ValidationError("--max-sessions must be at least 1") }
        guard (1_000...100_000_000).contains(maxSamplesPerSession) else {
            throw ValidationError("--max-samples-per-session must be 1000...100000000")
        }
    }

    func run() async throws {
        var configuration = DaemonConfiguration()
        configuration.stateDirectory = stateDir ?? Self.systemdStateDirectory() ?? configuration.stateDirectory
        configuration.socketPath = socket
        configuration.socketMode = UInt32(socketMode, radix: 8) ?? 0o660
        configuration.limits.maximumMessageBytes = maxMessageBytes
        configuration.limits.maximumCaptureBytes = Int(RetentionPolicy.parseBytes(maxCaptureMemory) ?? 0)
        configuration.access = AccessPolicy(adminGroup: adminGroup.flatMap(Self.groupId))
        configuration.limits.maximumSpansPerSecond = maxSpansPerSecond
        configuration.limits.maximumConnectionsPerUid = maxConnectionsPerUid
        configuration.limits.maximumKeptRequestsPerSession = maxKeptRequestsPerSession
        configuration.limits.maximumSessions = maxSessions
        configuration.limits.maximumSamplesPerSession = maxSamplesPerSession
        configuration.retention = RetentionPolicy(maximumAgeSeconds: RetentionPolicy.parseAge(retentionMaxAge) ?? 0,
                                                  maximumBytes: RetentionPolicy.parseBytes(retentionMaxBytes) ?? 0)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        switch (LogTarget(rawValue: logTarget) ?? .auto).resolved {
        case .journal:
            LoggingSystem.bootstrap { label in
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        case .stderr, .auto:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        // A peer that vanishes mid-send must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        let logger = Logger(label: "profd")
        do {
            let daemon = try Daemon(configuration: configuration, logger: logger)
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: DaemonService(daemon: daemon),
                                 successTerminationBehavior: .gracefullyShutdownGroup,
                                 failureTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            try await group.run()
        } catch {
            logger.critical("profd cannot run", metadata: ["profd.error": "\(error)"])
            throw ExitCode.failure
        }
    }

    /// systemd's `StateDirectory=profd` arrives as `$STATE_DIRECTORY` (colon-separated if several).
    static func systemdStateDirectory() -> String? {
        guard let raw = getenv("STATE_DIRECTORY") else { return nil }
        let first = String(cString: raw).split(separator: ":").first.map(String.init)
        return first?.isEmpty == false ? first : nil
    }
}

extension ProfdCommand {
    /// A gid given as a number, or a group name looked up once at start (`getgrnam`).
    static func groupId(_ text: String) -> UInt32? {
        if let gid = UInt32(text) { return gid }
        guard let entry = getgrnam(text) else { return nil }
        return entry.pointee.gr_gid
    }
}
