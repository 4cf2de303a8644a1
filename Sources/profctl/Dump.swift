import ArgumentParser
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl dump`: print a stored report, or export it.
struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a session's report (the latest session by default), or export it.",
        discussion: """
            json, text and html print the stored report (text and html are drawn from the
            JSON report when the session did not store them). Exports, from the JSON report:
              speedscope  a file for https://www.speedscope.app, one profile per route
              folded      "root;...;leaf count" lines for flamegraph.pl or inferno
              pprof       gzipped protobuf for go tool pprof; binary, so it goes to
                          --output FILE or a pipe, never to a terminal

            Examples:
              profctl dump --format json                 # whole latest session
              profctl dump --format text --route /hash   # one route's tree
              profctl dump --session 20261126T111755.123Z-4242-1 --format json
              profctl dump --format speedscope --output session.speedscope.json
              profctl dump --format folded --route /hash | flamegraph.pl > hash.svg
              profctl dump --format pprof --output cpu.pb.gz; go tool pprof -top cpu.pb.gz
              profctl dump --format text --show-all --route "GET /hash"   # library frames too
              profctl dump --from-capture --exclude-route "GET /health"  # rebuilt from capture.bin
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, text, html, speedscope, pprof, folded

        /// The key of the stored file in a route's `files`, for formats the daemon writes.
        var storedKey: String? {
            switch self {
            case .json: "json"
            case .text: "text"
            case .html: "html"
            case .speedscope, .pprof, .folded: nil
            }
        }

        var storedExtension: String {
            switch self {
            case .text: "txt"
            default: rawValue
            }
        }
    }

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: Format = .text

    @Option(name: .long, help: "Session id (default: the latest).")
    var session: String?

    @Option(name: .long, help: "Only this route's report.")
    var route: String?

    @Option(name: .long, help: ArgumentHelp("Write to this file instead of stdout (needed for pprof on a terminal).", valueName: "file"))
    var output: String?

    @Flag(name: .long, help: "text: show library frames instead of folding them into [N frames hidden].")
    var showAll = false

    @Flag(name: .long, help: "Build the report again from the session's raw capture (capture.bin), not the stored report.")
    var fromCapture = false

    @Option(name: .long, help: ArgumentHelp("With --from-capture: leave out routes matching this pattern (* is a wildcard); repeatable.", valueName: "pattern"))
    var excludeRoute: [String] = []

    @Option(name: .long, help: ArgumentHelp("With --from-capture: only routes matching this pattern; repeatable.", valueName: "pattern"))
    var includeRoute: [String] = []

    func validate() throws {
        if !fromCapture && !(excludeRoute.isEmpty && includeRoute.isEmpty) {
            throw ValidationError("--exclude-route and --include-route need --from-capture")
        }
    }

    func run() throws {
        if format == .pprof && output == nil && isatty(STDOUT_FILENO) == 1 {
            fail("pprof output is binary; write it to a file with --output FILE (or pipe it)")
            throw ExitCode(2)
        }
        let store = ReportStore(stateDirectory: global.stateDir)
        let sessionId = try resolveSession(store)
        if fromCapture { return try emit(render(try reportFromCapture(store, sessionId))) }

        // The stored report of the chosen format, when there is one; else the JSON report to draw it from.
        var jsonPath = "session.json"
        var storedPath: String? = format.storedKey == nil ? nil : "session." + format.storedExtension
        if let route {
            let routes = try routesOrFail(store, sessionId)
            guard let entry = routes.first(where: { $0.route == route }) else {
                let known = routes.map { TerminalSafe.string($0.route) }.joined(separator: ", ")
                fail("session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(known.isEmpty ? "(none)" : known)")
                throw ProfctlExit.notFound
            }
            storedPath = format.storedKey.flatMap { entry.files[$0] }
            guard let json = entry.files["json"] else {
                if let storedPath { return try emit(read(store, sessionId, storedPath)) }
                fail("route '\(TerminalSafe.string(route))' of session \(sessionId) has no JSON report, which \(format.rawValue) is drawn from")
                throw ProfctlExit.notFound
            }
            jsonPath = json
        }
        if let storedPath, !(format == .text && (showAll || colour)) {
            // JSON is always stored; text and html only in the formats the session chose.
            if format == .json { return try emit(read(store, sessionId, storedPath)) }
            if let stored = try? store.readFile(session: sessionId, relativePath: storedPath) { return try emit(stored) }
        }

        let report: ProfileReport
        do {
            report = try ProfileReport(jsonReport: read(store, sessionId, jsonPath))
        } catch let error as EngineError {
            fail("\(jsonPath) of session \(sessionId): \(error)")
            throw ExitCode.failure
        }
        try emit(render(report))
    }

    /// Colour only for a person at a terminal, and never with NO_COLOR set or into --output.
    private var colour: Bool {
        format == .text && output == nil && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
    }

    private func render(_ report: ProfileReport) throws -> [UInt8] {
        do {
            switch format {
            case .json: return Array(try JSONRenderer().render(report).utf8)
            case .text:
                return Array(TextRenderer(options: .init(hideLibraryFrames: !showAll, colour: colour)).render(report).utf8)
            case .html: return Array(HTMLRenderer().render(report).utf8)
            case .speedscope: return Array(try SpeedscopeRenderer().render(report).utf8)
            case .folded: return Array(FoldedRenderer().render(report).utf8)
            case .pprof: return PprofRenderer().render(report)
            }
        } catch {
            fail("cannot render \(format.rawValue): \(error)")
            throw ExitCode.failure
        }
    }

    /// The session (or `--route`) report built again from `capture.bin`, with the stored options and the
    /// route filters given here.
    private func reportFromCapture(_ store: ReportStore, _ sessionId: String) throws -> ProfileReport {
        let archive: CaptureArchive
        do {
            archive = try CaptureArchive.decode(read(store, sessionId, ReportStore.captureFileName))
        } catch let error as EngineError {
            fail("\(ReportStore.captureFileName) of session \(sessionId): \(error)")
            throw ExitCode.failure
        }
        var options = archive.options
        if !excludeRoute.isEmpty { options.excludedRoutes += excludeRoute }
        if !includeRoute.isEmpty { options.includedRoutes = includeRoute }
        let reports = archive.build(options: options)
        guard let route else { return reports.session }
        guard let report = reports.routes.first(where: { $0.scope == .route(route) }) else {
            let known = reports.routes.compactMap { if case .route(let name) = $0.scope { TerminalSafe.string(name) } else { nil } }
            fail("the capture of session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(known.isEmpty ? "(none)" : known.joined(separator: ", "))")
            throw ProfctlExit.notFound
        }
        return report
    }

    private func resolveSession(_ store: ReportStore) throws -> String {
        let ids = store.sessionIds()
        if let session {
            guard ids.contains(session) else {
                let recent = ids.suffix(5).reversed().joined(separator: "\n  ")
                fail("no session '\(TerminalSafe.string(session))' in \(global.stateDir)." + (recent.isEmpty ? "" : " Recent sessions:\n  \(recent)"))
                throw ProfctlExit.notFound
            }
            return session
        }
        guard let latest = ids.last else {
            fail("no sessions in \(global.stateDir)/sessions. Is profd running with this --state-dir, and has a client stopped a session?")
            throw ProfctlExit.notFound
        }
        return latest
    }

    private func read(_ store: ReportStore, _ sessionId: String, _ relativePath: String) throws -> [UInt8] {
        do {
            return try store.readFile(session: sessionId, relativePath: relativePath)
        } catch {
            fail("cannot read \(relativePath) of session \(sessionId): \(error)")
            throw ExitCode.failure
        }
    }

    /// Writes the output to `--output` (created with mode 0644, replaced atomically) or to stdout.
    private func emit(_ bytes: [UInt8]) throws {
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
/// Returns whether every byte was written.
@discardableResult
func writeAll(fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return false }
        offset += written
    }
    return true
}
