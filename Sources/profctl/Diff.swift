import ArgumentParser
import Foundation
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl diff A B`: what changed between two sessions, or two routes, function by function.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two sessions or two routes per function: before (A) and after (B).",
        discussion: """
            A and B are session ids (or a unique prefix of one), latest, previous, or
            the path of a JSON report (session.json or routes/<route>.json). A is
            previous and B latest by default: profile, change the code, profile again,
            then run `profctl diff`.

            One row per function (name and binary): its time in A and in B, the
            change, the relative change and the change in its share of each side's
            samples, sorted by the size of the change (in self time; --sort total
            ranks by total time). Slower is red and faster green on a terminal.
            Functions on one side only are marked new or gone.

            Times are per request by default (each side's time divided by its own
            request count), so runs of different lengths compare fairly; --basis
            total compares raw CPU time. The header says which basis was used.

            Examples:
              profctl diff                      # previous session → latest
              profctl diff 20261126T111755.123Z-4242-1 latest --route "GET /compute"
              profctl diff latest latest --route-a "GET /v1/a" --route-b "GET /v2/a"
              profctl diff before/session.json after/session.json --basis total
              profctl diff --format html --output diff.html
              profctl diff --format json --limit 10 | jq '.functions[0]'
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, html, json
    }

    @OptionGroup var global: GlobalOptions
    @OptionGroup var daemon: SocketOptions

    @Argument(help: "Before: a session id, latest, previous, or a JSON report's path.")
    var a = "previous"

    @Argument(help: "After: a session id, latest, previous, or a JSON report's path.")
    var b = "latest"

    @Option(name: .long, help: "Compare this route of both sides.")
    var route: String?

    @Option(name: .customLong("route-a"), help: ArgumentHelp("A's route (with --route-b: compare two routes).", valueName: "route"))
    var routeA: String?

    @Option(name: .customLong("route-b"), help: ArgumentHelp("B's route.", valueName: "route"))
    var routeB: String?

    @Option(name: .long, help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: Format = .text

    @Option(name: .long, help: ArgumentHelp("Write to this file instead of stdout.", valueName: "file"))
    var output: String?

    @Option(name: .long, help: "Functions to show (0: all). Default: 25 for text and html, all for json.")
    var limit: Int?

    @Option(name: .long, help: "Compare time per request or in total.")
    var basis: ProfileDiff.Basis = .perRequest

    @Option(name: .long, help: "Rank by the change in self time or in total time.")
    var sort: ProfileDiff.Ranking = .selfTime

    func validate() throws {
        if route != nil && (routeA != nil || routeB != nil) {
            throw ValidationError("use --route for both sides, or --route-a and --route-b, not both")
        }
        if (routeA == nil) != (routeB == nil) {
            throw ValidationError("--route-a and --route-b go together (--route compares one route on both sides)")
        }
        if let limit, limit < 0 { throw ValidationError("--limit needs a number ≥ 0") }
    }

    func run() throws {
        let store = StateStore(global, daemon)
        let before = try load(a, route: route ?? routeA, store: store, side: "A")
        let after = try load(b, route: route ?? routeB, store: store, side: "B")
        let diff = ProfileDiff(a: before, b: after, basis: basis, ranking: sort)
        let text: String
        do {
            switch format {
            case .text:
                text = DiffTextRenderer(options: .init(limit: limit ?? 25, colour: colour)).render(diff)
            case .html:
                text = DiffHTMLRenderer(limit: limit ?? 25).render(diff)
            case .json:
                text = try DiffJSONRenderer(limit: limit.flatMap { $0 == 0 ? nil : $0 }).render(diff)
            }
        } catch {
            fail("cannot render \(format.rawValue): \(error)")
            throw ExitCode.failure
        }
        try emitOutput(Array(text.utf8), to: output)
    }

    /// Colour only for a person at a terminal, never with NO_COLOR set or into --output (as `dump`).
    private var colour: Bool {
        format == .text && output == nil && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
    }

    // MARK: - Finding the two reports

    /// The report a side names: a JSON report's path, or a stored session (its route with `route`).
    private func load(_ reference: String, route: String?, store: StateStore, side: String) throws -> ProfileReport {
        if reference.contains("/") || reference.hasSuffix(".json") {
            return try loadFile(reference, route: route, side: side)
        }
        let sessionId = try resolveSession(reference, store: store, side: side)
        var path = "session.json"
        if let route {
            let routes: [RouteSummary]
            do {
                routes = try store.index(session: sessionId).routes ?? []
            } catch {
                fail("\(side): \(error.message)")
                throw error.code
            }
            guard let entry = routes.first(where: { $0.route == route }) else {
                fail("\(side): session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(Self.list(routes.map(\.route)))")
                throw ProfctlExit.notFound
            }
            guard let json = entry.files["json"] else {
                fail("\(side): route '\(TerminalSafe.string(route))' of session \(sessionId) has no JSON report")
                throw ProfctlExit.notFound
            }
            path = json
        }
        let bytes: [UInt8]
        do {
            bytes = try store.read(session: sessionId, path)
        } catch {
            fail("\(side): \(error.message)")
            throw error.code
        }
        return try decode(bytes, what: "\(path) of session \(sessionId)", side: side)
    }

    /// A JSON report file; with `route`, a session report leads to that route's report next to it.
    private func loadFile(_ path: String, route: String?, side: String) throws -> ProfileReport {
        let bytes = try readFile(path, side: side)
        let report = try decode(bytes, what: path, side: side)
        guard let route else { return report }
        switch report.scope {
        case .route(let name) where name == route:
            return report
        case .session:
            guard let entry = report.routes.first(where: { $0.route == route }) else {
                fail("\(side): \(TerminalSafe.string(path)) has no route '\(TerminalSafe.string(route))'. Routes: \(Self.list(report.routes.map(\.route)))")
                throw ProfctlExit.notFound
            }
            guard let json = entry.files["json"], !json.split(separator: "/").contains("..") else {
                fail("\(side): route '\(TerminalSafe.string(route))' of \(TerminalSafe.string(path)) has no JSON report")
                throw ProfctlExit.notFound
            }
            let directory = (path as NSString).deletingLastPathComponent
            let routePath = directory.isEmpty ? json : directory + "/" + json
            return try decode(readFile(routePath, side: side), what: routePath, side: side)
        default:
            fail("\(side): \(TerminalSafe.string(path)) is not a report of route '\(TerminalSafe.string(route))'")
            throw ProfctlExit.notFound
        }
    }

    private func readFile(_ path: String, side: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            fail("\(side): no such file: \(TerminalSafe.string(path))")
            throw ProfctlExit.notFound
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            fail("\(side): cannot read \(TerminalSafe.string(path))")
            throw ExitCode.failure
        }
        return Array(data)
    }

    private func decode(_ bytes: [UInt8], what: String, side: String) throws -> ProfileReport {
        do {
            return try ProfileReport(jsonReport: bytes)
        } catch {
            fail("\(side): \(TerminalSafe.string(what)): \(error)")
            throw ExitCode.failure
        }
    }

    /// `latest`, `previous`, an exact id, or a prefix matching exactly one id.
    private func resolveSession(_ reference: String, store: StateStore, side: String) throws -> String {
        let ids: [String]
        do { ids = try store.sessionIds() } catch {
            fail("\(side): \(error.message)")
            throw error.code
        }
        switch reference {
        case "latest", "previous":
            let needed = reference == "latest" ? 1 : 2
            guard ids.count >= needed else {
                fail("\(side): '\(reference)' needs \(needed) session\(needed == 1 ? "" : "s") in \(TerminalSafe.string(store.path)); there \(ids.count == 1 ? "is" : "are") \(ids.count)."
                     + " Is profd running with this --state-dir?")
                throw ProfctlExit.notFound
            }
            return ids[ids.count - needed]
        default:
            if ids.contains(reference) { return reference }
            let matches = ids.filter { $0.hasPrefix(reference) }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 {
                fail("\(side): '\(TerminalSafe.string(reference))' matches \(matches.count) sessions:\n  " + matches.suffix(5).joined(separator: "\n  "))
                throw ProfctlExit.notFound
            }
            let nearest = Self.nearest(to: reference, in: ids)
            fail("\(side): no session '\(TerminalSafe.string(reference))' in \(TerminalSafe.string(store.path))."
                 + (nearest.isEmpty ? "" : " Nearest sessions:\n  " + nearest.joined(separator: "\n  ")))
            throw ProfctlExit.notFound
        }
    }

    /// Ids are UTC start times, so the ones sorting next to a mistyped id are the sessions nearest in time;
    /// up to two on each side of where it would be (the latest ones when it sorts after every id).
    static func nearest(to reference: String, in ids: [String]) -> [String] {
        let position = ids.firstIndex { $0 > reference } ?? ids.count
        let lower = max(0, min(position - 2, ids.count - 4))
        return Array(ids[lower..<min(ids.count, lower + 4)])
    }

    private static func list(_ routes: [String]) -> String {
        routes.isEmpty ? "(none)" : routes.map { TerminalSafe.string($0) }.joined(separator: ", ")
    }

    /// Writes to `output` (mode 0644, replaced atomically) or to stdout.
    private func emitOutput(_ bytes: [UInt8], to output: String?) throws {
        guard let output else {
            writeAll(fd: STDOUT_FILENO, bytes)
            return
        }
        let temporary = output + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            fail("cannot write \(TerminalSafe.string(output)): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        let complete = writeAll(fd: fd, bytes)
        let closed = close(fd) == 0
        guard complete, closed, rename(temporary, output) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            fail("cannot write \(TerminalSafe.string(output)): \(reason)")
            throw ExitCode.failure
        }
    }
}

extension ProfileDiff.Basis: ExpressibleByArgument {}
extension ProfileDiff.Ranking: ExpressibleByArgument {}
