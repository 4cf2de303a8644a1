import ArgumentParser
import ProfdEngine
#if canImport(Glibc)
import Glibc
#endif

/// `profctl dump`: print a stored report.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a session's report (the latest session by default).",
        discussion: """
            Examples:
              profctl dump --format json                 # whole latest session
              profctl dump --format text --route /hash   # one route's tree
              profctl dump --session 20261126T111755.123Z-4242-1 --format json
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, text
    }

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: Format = .text

    @Option(name: .long, help: "Session id (default: the latest).")
    var session: String?

    @Option(name: .long, help: "Only this route's report.")
    var route: String?

    func run() throws {
        let store = ReportStore(stateDirectory: global.stateDir)
        let ids = store.sessionIds()
        let sessionId: String
        if let session {
            guard ids.contains(session) else {
                let recent = ids.suffix(5).reversed().joined(separator: "\n  ")
                fail("no session '\(TerminalSafe.string(session))' in \(global.stateDir)." + (recent.isEmpty ? "" : " Recent sessions:\n  \(recent)"))
                throw ProfctlExit.notFound
            }
            sessionId = session
        } else {
            guard let latest = ids.last else {
                fail("no sessions in \(global.stateDir)/sessions. Is profd running with this --state-dir, and has a client stopped a session?")
                throw ProfctlExit.notFound
            }
            sessionId = latest
        }

        let fileKey = format == .json ? "json" : "text"
        var relativePath = format == .json ? "session.json" : "session.txt"
        if let route {
            let routes = try routesOrFail(store, sessionId)
            guard let entry = routes.first(where: { $0.route == route }), let file = entry.files[fileKey] else {
                let known = routes.map { TerminalSafe.string($0.route) }.joined(separator: ", ")
                fail("session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(known.isEmpty ? "(none)" : known)")
                throw ProfctlExit.notFound
            }
            relativePath = file
        }
        do {
            let bytes = try store.readFile(session: sessionId, relativePath: relativePath)
            writeAll(fd: STDOUT_FILENO, bytes)
        } catch {
            fail("cannot read \(relativePath) of session \(sessionId): \(error)")
            throw ExitCode.failure
        }
    }

    private func routesOrFail(_ store: ReportStore, _ id: String) throws -> [RouteSummary] {
        do {
            return try store.routes(session: id)
        } catch {
            fail("\(error)")
            throw ExitCode.failure
        }
    }
}

/// Prints a message to stderr: data goes to stdout, messages to stderr.
func fail(_ message: String) {
    writeAll(fd: STDERR_FILENO, Array("profctl: \(message)\n".utf8))
}

/// Writes every byte to `fd`, retrying short writes; stops quietly if the reader went away.
func writeAll(fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}
