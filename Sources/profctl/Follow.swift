import ArgumentParser
import Foundation
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl follow`: each kept request's tree as profd writes it, like `journalctl -f`.
///
/// profd writes a running session's kept requests (slow, server errors, the sampled share) into
/// `STATE/live/<session>/` about 150 ms after each ends; follow polls that folder every 100 ms.
struct Follow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print each kept request's tree as profd writes it, until interrupted.",
        discussion: """
            Only requests the session keeps are streamed: those at least as slow as its slow-request
            threshold, those ending with a status >= 500, and its sampled share (ProfClient's
            slowRequestThreshold, keepServerErrors, keptPercentage). Each appears within about
            a quarter of a second of the request ending.

            Examples:
              profctl follow                              # every running session
              profctl follow --route "GET /users/:id"     # one route
              profctl follow -n 5                         # the last 5 already written, then new ones
              profctl follow -n 5 --once                  # just the last 5
              profctl follow --json | jq .request.wallNs  # one JSON report per line
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var daemon: SocketOptions

    @Option(name: .long, help: "Only this session's requests.")
    var session: String?

    @Option(name: .long, help: ArgumentHelp("Only requests of routes matching this pattern (* is a wildcard); repeatable.", valueName: "pattern"))
    var route: [String] = []

    @Option(name: [.customShort("n"), .customLong("lines")], help: "First print the last N kept requests already written.")
    var lines = 0

    @Flag(name: .long, help: "Print each request's JSON report on one line instead of its text tree.")
    var json = false

    @Flag(name: .long, help: "Print the last --lines requests and exit instead of waiting for new ones.")
    var once = false

    @Flag(name: .long, help: "text: show library frames instead of folding them into [N frames hidden].")
    var showAll = false

    func validate() throws {
        guard lines >= 0 else { throw ValidationError("--lines must be 0 or more") }
        if let session, !ReportStore.isValidSessionId(session) { throw ValidationError("'\(TerminalSafe.string(session))' is not a session id") }
    }

    func run() throws {
        let reader = stateReader(global, daemon)
        if reader is DirectoryStateReader {
            guard access(global.stateDir, R_OK | X_OK) == 0 || errno == ENOENT else {
                fail("cannot read \(TerminalSafe.string(global.stateDir)): \(String(cString: strerror(errno))); \(ProfctlError.permissionHint)")
                throw ProfctlExit.permission
            }
        }
        let colour = !json && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
        var seen = Set(liveRequests(reader))
        for file in Array(seen.sorted().suffix(lines)) { show(file, reader: reader, colour: colour) }
        while !once {
            let now = liveRequests(reader)
            for file in now where !seen.contains(file) {
                seen.insert(file)
                show(file, reader: reader, colour: colour)
            }
            // Forget folders profd removed, so a long follow does not grow without bound.
            seen.formIntersection(now)
            usleep(100_000)
        }
    }

    /// One live kept request: `live/<session>/<base>.txt` (written last) and `.json`.
    struct LiveRequest: Hashable, Comparable {
        var session: String
        /// `<end-ns>-<span-id>`: sorts in the order requests ended.
        var base: String

        static func < (a: Self, b: Self) -> Bool { (a.base, a.session) < (b.base, b.session) }
    }

    /// The live kept requests present now (their text written), in the order they ended.
    private func liveRequests(_ reader: any StateReader) -> [LiveRequest] {
        let sessions = session.map { [$0] } ?? reader.liveSessionIds()
        return sessions.flatMap { id in
            reader.liveEntries(session: id).filter { $0.hasSuffix(".txt") && !$0.hasPrefix(".") }
                .map { LiveRequest(session: id, base: String($0.dropLast(4))) }
        }.sorted()
    }

    private func show(_ file: LiveRequest, reader: any StateReader, colour: Bool) {
        guard let bytes = reader.readLive(session: file.session, file.base + ".json")?.bytes,
              let report = try? ProfileReport(jsonReport: bytes),
              case .request(let request) = report.scope,
              RoutePattern.selects(request.route, included: route, excluded: [])
        else { return }
        if json {
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
                  let line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return }
            FileHandle.standardOutput.write(Data(TerminalSafe.json(line)) + Data("\n".utf8))
            return
        }
        let wall = TextRenderer.milliseconds(request.wallNs)
        var out = "── \(TerminalSafe.string(request.route)) · status \(request.status) · wall \(wall)"
        out += " · began \(request.startedAt) · \(request.reason?.rawValue ?? "kept") · session \(file.session)\n"
        out += TextRenderer(options: .init(hideLibraryFrames: !showAll, colour: colour)).render(report) + "\n"
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
