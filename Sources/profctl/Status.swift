import ArgumentParser
import Foundation
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl status`: what the running daemon is doing.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show whether profd is running and what it is profiling.",
        discussion: """
            Asks the running daemon over its socket: its version, uptime and state directory, disk \
            use against the retention limit, and each open session with its process (pid, unit, \
            service), samples per second, lost and dropped samples, and spans. Root sees every \
            session; anyone else sees the sessions of their own uid and a count of the others.

            --json prints the daemon's status document (version 1, described in docs/PROTOCOL.md).

            Exits 1 when profd is not running, 4 when the socket's permissions keep you out.

            Examples:
              profctl status
              profctl status --json | jq '.sessions[] | {id, pid, samplesPerSecond}'
              profctl status --socket ./.profd/profd.sock
              profctl status --json > status.json; profctl status --from status.json
            """)

    @OptionGroup var socket: SocketOptions

    @Flag(name: .long, help: "Print the daemon's status document (JSON) instead of the summary.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Show a status document saved with --json instead of asking the daemon.", valueName: "file"))
    var from: String?

    func run() throws {
        let text: String
        let document: StatusDocument
        if let from {
            guard let data = FileManager.default.contents(atPath: from) else {
                fail("cannot read \(TerminalSafe.string(from))")
                throw ProfctlExit.notFound
            }
            do {
                document = try JSONDecoder().decode(StatusDocument.self, from: data)
            } catch {
                fail("\(TerminalSafe.string(from)) is not a profd status document: \(error)")
                throw ExitCode.failure
            }
            text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            emitLine(json ? text : Self.render(document, socket: "(a saved status document)"))
            return
        }
        let client = try DaemonClient.connect(socket.path)
        (text, document) = try client.status()
        if json {
            emitLine(text)
        } else {
            emitLine(Self.render(document, socket: socket.path))
        }
    }

    /// The summary, in the manner of `systemctl status`.
    static func render(_ document: StatusDocument, socket: String) -> String {
        let daemon = document.daemon
        let disk = document.disk
        let safe = TerminalSafe.string
        var lines: [String] = []
        lines.append("● profd \(safe(daemon.version)) - running, pid \(daemon.pid), up \(humanDuration(daemon.uptimeNs)) (since \(safe(daemon.startedAt)))")
        lines.append("    Socket: \(safe(socket))")
        let limit = disk.retentionLimitBytes.map { "limit \(ByteCount.human($0))" } ?? "no retention limit"
        lines.append("     State: \(safe(daemon.stateDirectory)) · \(disk.sessions) session\(disk.sessions == 1 ? "" : "s"), \(ByteCount.human(disk.bytes)) (\(limit))")
        let open = document.sessions.count + document.otherUsersSessions + document.omittedSessions
        var sampling = "\(daemon.samplesPerSecond) samples/s · \(open) open session\(open == 1 ? "" : "s")"
        if daemon.writingSessions > 0 { sampling += " · writing the reports of \(daemon.writingSessions)" }
        lines.append("  Sampling: \(sampling)")
        if document.sessions.isEmpty && open == 0 {
            lines.append("")
            lines.append("No open sessions: idle, waiting for clients (profctl start --pid N attaches to a process).")
        }
        for session in document.sessions {
            lines.append("")
            var who = "pid \(session.pid) · uid \(session.uid)"
            if let unit = session.unit { who += " · unit \(safe(unit))" }
            who += " · service \(safe(session.service))"
            lines.append("  \(safe(session.id))  \(safe(session.kind))  \(who)")
            var timing = "    up \(humanDuration(session.elapsedNs))"
            if let duration = session.durationNs { timing += " of \(humanDuration(duration))" }
            timing += " · \(session.frequencyHz) Hz · \(session.samples) samples · \(session.samplesPerSecond) samples/s"
            lines.append(timing)
            var losses = "    lost \(session.lostSamples) · dropped samples \(session.droppedSamples)"
            if session.kind == "client" { losses += " · spans \(session.spans) · dropped spans \(session.droppedSpans)" }
            if let requester = session.requesterUid { losses += " · started by uid \(requester)" }
            lines.append(losses)
        }
        if document.otherUsersSessions > 0 {
            lines.append("")
            lines.append("  + \(document.otherUsersSessions) session\(document.otherUsersSessions == 1 ? "" : "s") of other users (root sees them)")
        }
        if document.omittedSessions > 0 {
            lines.append("  + \(document.omittedSessions) more, left out of the status document (size limit)")
        }
        return lines.joined(separator: "\n")
    }
}
