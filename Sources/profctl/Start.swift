import ArgumentParser
import Foundation
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl start`: profile a running process that does not link ProfClient (attach mode).
struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Profile a running process that does not link ProfClient (attach mode).",
        discussion: """
            profd samples every thread of the process from outside and writes a whole-process \
            report (no requests, no routes) to STATE/sessions/<session-id>/. The session id is \
            printed to stdout at once.

            With --duration the session ends by itself and profctl returns at once (with --wait it \
            blocks until the report is written and prints its directory); `profctl stop ID` ends it \
            sooner. Without --duration profctl stays until Ctrl-C (or `profctl stop ID` from \
            elsewhere), then prints the report directory; killing profctl ends the session too.

            You may attach only to your own processes (every uid of the process is yours), unless \
            you are root. Exit codes: 3 no such process or unit, 4 not yours (or the socket's \
            permissions).

            Examples:
              profctl start --pid 4242 --duration 30s         # prints the session id
              profctl start --pid 4242 --duration 10s --wait  # and the report directory
              profctl start --unit my-api.service --duration 1m --frequency 499
              profctl start --pid 4242                        # until Ctrl-C
            """)

    @OptionGroup var socket: SocketOptions

    @Option(name: .long, help: "The process to profile.")
    var pid: Int32?

    @Option(name: .long, help: ArgumentHelp("A systemd unit: its main process is profiled (systemctl show -p MainPID).", valueName: "name"))
    var unit: String?

    @Option(name: .long, help: ArgumentHelp("How long: 30s, 500ms, 2m, 1h (up to 24h). Default: until Ctrl-C or profctl stop.", valueName: "time"))
    var duration: String?

    @Option(name: .long, help: ArgumentHelp("Samples per second per thread (1...10000).", valueName: "hz"))
    var frequency: UInt32 = StartSession.defaultFrequencyHz

    @Flag(name: .long, help: "With --duration: wait until the report is written and print its directory.")
    var wait = false

    func validate() throws {
        guard (pid == nil) != (unit == nil) else { throw ValidationError("give exactly one of --pid N and --unit NAME") }
        if let pid, pid < 1 { throw ValidationError("--pid must be a process id (1 or more)") }
        guard StartSession.frequencyRange.contains(frequency) else { throw ValidationError("--frequency must be in 1...10000") }
        if let duration {
            guard let ms = parseDurationMs(duration), ms >= 1, ms <= UInt64(AttachStart.maximumDurationMs) else {
                throw ValidationError("--duration takes a time such as 30s, 500ms, 2m or 1h, at most 24h; got '\(duration)'")
            }
        }
    }

    func run() throws {
        let target = try pid ?? Self.mainPID(ofUnit: unit ?? "")
        let durationMs = duration.flatMap(parseDurationMs) ?? 0
        let client = try DaemonClient.connect(socket.path)
        // Opened with the caller's rights: profd (CAP_PERFMON only) may not read another user's maps and
        // symbolizes the process from this. Not readable (another user's process): profd decides.
        let maps = open("/proc/\(target)/maps", O_RDONLY | O_CLOEXEC)
        defer { if maps >= 0 { close(maps) } }
        try client.send(.attachStart(AttachStart(pid: UInt32(target), durationMs: UInt32(durationMs), frequencyHz: frequency)),
                        passing: maps)
        guard case .message(.sessionStarted(let started)) = try client.reply() else {
            fail("profd answered attachStart with something else")
            throw ExitCode.failure
        }
        emitLine(started.sessionId)
        let id = TerminalSafe.string(started.sessionId)
        guard durationMs == 0 || wait else {
            fail("profiling pid \(target) for \(humanDuration(durationMs * 1_000_000)); `profctl stop \(id)` ends it sooner, "
                 + "`profctl dump --session \(id)` shows the report once written")
            return
        }
        if durationMs == 0 { fail("profiling pid \(target) until Ctrl-C (or `profctl stop \(id)`)") }
        let interrupt = Interrupts.install()
        var stopSent = false
        while true {
            switch try client.reply(interrupt: stopSent ? -1 : interrupt) {
            case .interrupted:
                try client.send(.attachStop(AttachStop(sessionId: started.sessionId)))
                stopSent = true
            case .message(.sessionStopped(let stopped)) where stopped.sessionId == started.sessionId:
                emitLine(stopped.reportDirectory)
                return
            case .message:
                continue
            }
        }
    }

    /// The unit's main process, from `systemctl show -p MainPID --value NAME`; exit 3 when it has none.
    static func mainPID(ofUnit name: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemctl")
        if access("/usr/bin/systemctl", X_OK) != 0 { process.executableURL = URL(fileURLWithPath: "/bin/systemctl") }
        process.arguments = ["show", "-p", "MainPID", "--value", "--", name]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            fail("cannot run systemctl to find the main process of \(TerminalSafe.string(name)): \(error)")
            hint("give the process id with --pid N")
            throw ExitCode.failure
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            fail("systemctl cannot tell the main process of \(TerminalSafe.string(name))"
                 + (complaint.isEmpty ? "" : ": \(TerminalSafe.string(complaint))"))
            hint("give the process id with --pid N")
            throw ExitCode.failure
        }
        guard let pid = Int32(text), pid > 0 else {
            fail("unit \(TerminalSafe.string(name)) has no running main process" + (text.isEmpty ? "" : " (MainPID=\(TerminalSafe.string(text)))"))
            hint("check it with `systemctl status \(TerminalSafe.string(name))`, or give --pid N")
            throw ProfctlExit.notFound
        }
        return pid
    }
}
