import ArgumentParser
import Logging

/// `profd`: the profiling daemon, in the foreground.
@main
struct ProfdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profd",
        abstract: "Per-request sampling profiler daemon for Swift web services.",
        discussion: """
            Clients link ProfClient and connect to the control socket. profd samples the client's threads \
            with perf_event_open and writes text and JSON reports per route and per session under \
            STATE-DIR/sessions/<session-id>/.

            Examples:
              profd                                    # production defaults (run by systemd)
              profd --state-dir ./.profd --socket ./.profd/profd.sock --log-level debug
            """,
        version: ProfdVersion.string)

    @Option(name: .long, help: "Directory for reports.")
    var stateDir: String = DaemonConfiguration().stateDirectory

    @Option(name: .long, help: "Path of the control socket.")
    var socket: String = DaemonConfiguration().socketPath

    @Option(name: .long, help: "Permission bits of the socket file, in octal.")
    var socketMode: String = "660"

    @Option(name: .long, help: "Largest accepted message payload, in bytes.")
    var maxMessageBytes: Int = DaemonConfiguration.Limits().maximumMessageBytes

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    mutating func validate() throws {
        guard UInt32(socketMode, radix: 8) != nil else { throw ValidationError("--socket-mode must be octal, e.g. 660") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        guard (1024...16 << 20).contains(maxMessageBytes) else { throw ValidationError("--max-message-bytes must be 1024...16777216") }
    }

    func run() throws {
        var configuration = DaemonConfiguration()
        configuration.stateDirectory = stateDir
        configuration.socketPath = socket
        configuration.socketMode = UInt32(socketMode, radix: 8) ?? 0o660
        configuration.limits.maximumMessageBytes = maxMessageBytes
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "profd")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        do {
            try Daemon(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("profd cannot run", metadata: ["profd.error": "\(error)"])
            throw ExitCode.failure
        }
    }
}
