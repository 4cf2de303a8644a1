import ArgumentParser
import Foundation
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
            JSON report when the session did not store them). Exports, from JSON reports:
              speedscope  a file for https://www.speedscope.app, one profile per route
              folded      "root;...;leaf count" lines for flamegraph.pl or inferno
              pprof       gzipped protobuf for go tool pprof; binary, so it goes to
                          --output FILE or a pipe, never to a terminal

            --session takes a session id or a prefix of exactly one (profctl list shows
            them). --request takes a kept request's span id or file name (profctl list
            shows them); without --session it is looked for in every session, newest
            first. --open writes the HTML report to --output, or to a new file under
            $XDG_RUNTIME_DIR (else /tmp), readable only by you (mode 0600), and prints its
            file:// URL on stdout.

            Examples:
              profctl dump --format json                 # whole latest session
              profctl dump --format text --route /hash   # one route's tree
              profctl dump --session 20261126T111755.123Z-4242-1 --format json
              profctl dump --session 20261126T1117       # a unique prefix is enough
              profctl dump --request 17                  # a kept request's report, as text
              profctl dump --request 20261126T111756.001Z-compute-17 --format json
              profctl dump --open                        # prints file:///run/user/...
              profctl dump --request 17 --open --output slow.html
              profctl dump --format speedscope --output session.speedscope.json
              profctl dump --format folded --route /hash | flamegraph.pl > hash.svg
              profctl dump --format pprof --output cpu.pb.gz; go tool pprof -top cpu.pb.gz
              profctl dump --format text --show-all --route "GET /hash"
              profctl dump --from-capture --exclude-route "GET /health"
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
    @OptionGroup var daemon: SocketOptions

    @Option(name: .long, help: "Output format (default: text; html with --open).")
    var format: Format?

    @Option(name: .long, help: ArgumentHelp("Session id, or a unique prefix of one (default: the latest).", valueName: "id"),
            completion: .custom(StateCompletion.sessions))
    var session: String?

    @Option(name: .long, help: "Only this route's report.")
    var route: String?

    @Option(name: .long, help: ArgumentHelp("A kept request's report, by span id or file name (see profctl list).", valueName: "id"),
            completion: .custom(StateCompletion.requests))
    var request: String?

    @Flag(name: .long, help: "Write the HTML report to a private file (or --output) and print its file:// URL.")
    var open = false

    @Option(name: .long, help: ArgumentHelp("Write to this file instead of stdout (needed for pprof on a terminal).", valueName: "file"),
            completion: .file())
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
        if request != nil && route != nil { throw ValidationError("--request and --route cannot be combined: a kept request has one route") }
        if request != nil && fromCapture { throw ValidationError("--request reads a stored request report; it cannot be combined with --from-capture") }
        if open, let format, format != .html { throw ValidationError("--open writes the HTML report; leave out --format \(format.rawValue)") }
    }

    /// The format written: `--format`, else html for `--open`, else text.
    private var outputFormat: Format { format ?? (open ? .html : .text) }

    func run() throws {
        let format = outputFormat
        if format == .pprof && output == nil && isatty(STDOUT_FILENO) == 1 {
            throw ProfctlError.usage("pprof output is binary; write it to a file with --output FILE (or pipe it)")
        }
        let store = StateStore(global, daemon)
        let sessionId: String
        var kept: KeptRequest?
        if let request {
            let found = try findRequest(store, request)
            sessionId = found.session
            kept = found.request
        } else {
            sessionId = try store.resolveSession(session)
        }
        if fromCapture { return try emit(render(try reportFromCapture(store, sessionId)), session: sessionId) }

        // The stored report of the chosen format, when there is one; else the JSON report to draw it from.
        var jsonPath = "session.json"
        var storedPath: String? = format.storedKey == nil ? nil : "session." + format.storedExtension
        if let kept {
            storedPath = format.storedKey.flatMap { kept.files[$0] }
            guard let json = kept.files["json"] else {
                if let storedPath { return try emit(store.read(session: sessionId, storedPath), session: sessionId) }
                throw ProfctlError.notFound("kept request \(kept.spanId) of session \(sessionId) has no JSON report, which \(format.rawValue) is drawn from")
            }
            jsonPath = json
        } else if let route {
            let routes = try store.index(session: sessionId).routes ?? []
            guard let entry = routes.first(where: { $0.route == route }) else {
                let known = routes.map { TerminalSafe.string($0.route) }.joined(separator: ", ")
                throw ProfctlError.notFound("session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(known.isEmpty ? "(none)" : known)")
            }
            storedPath = format.storedKey.flatMap { entry.files[$0] }
            guard let json = entry.files["json"] else {
                if let storedPath { return try emit(store.read(session: sessionId, storedPath), session: sessionId) }
                throw ProfctlError.notFound("route '\(TerminalSafe.string(route))' of session \(sessionId) has no JSON report, which \(format.rawValue) is drawn from")
            }
            jsonPath = json
        }
        if let storedPath, !(format == .text && (showAll || colour)) {
            // JSON is always stored; text and html only in the formats the session chose.
            if format == .json { return try emit(store.read(session: sessionId, storedPath), session: sessionId) }
            if let stored = try? store.read(session: sessionId, storedPath) { return try emit(stored, session: sessionId) }
        }
        try emit(render(store.report(session: sessionId, jsonPath)), session: sessionId)
    }

    /// The session and kept request `--request` names: in `--session`, else the newest session that kept it.
    private func findRequest(_ store: StateStore, _ key: String) throws -> (session: String, request: KeptRequest) {
        if let session {
            let id = try store.resolveSession(session)
            let kept = try store.index(session: id).keptRequests ?? []
            if let found = kept.first(where: { KeptRequestLookup.matches($0, key) }) { return (id, found) }
            let known = kept.prefix(10).map { "\($0.spanId)  \(KeptRequestLookup.baseName(of: $0.files["json"] ?? $0.files.values.sorted().first ?? ""))" }
            throw ProfctlError.notFound("session \(id) kept no request '\(TerminalSafe.string(key))'."
                                        + (kept.isEmpty ? " It kept none." : " Kept requests (span id, file):\n  " + known.joined(separator: "\n  ")))
        }
        let ids = try store.sessionIds()
        guard !ids.isEmpty else { _ = try store.resolveSession(nil); throw ExitCode.failure }
        for id in ids.reversed() {
            if let found = try KeptRequestLookup.find(key, in: store, session: id) { return (id, found) }
        }
        throw ProfctlError.notFound("no session kept a request '\(TerminalSafe.string(key))' (\(ids.count) sessions searched); profctl list shows the kept requests")
    }

    /// Colour only for a person at a terminal, and never with NO_COLOR set or into --output.
    private var colour: Bool {
        outputFormat == .text && output == nil && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
    }

    private func render(_ report: ProfileReport) throws -> [UInt8] {
        do {
            switch outputFormat {
            case .json: return Array(try JSONRenderer().render(report).utf8)
            case .text:
                return Array(TextRenderer(options: .init(hideLibraryFrames: !showAll, colour: colour)).render(report).utf8)
            case .html: return Array(HTMLRenderer().render(report).utf8)
            case .speedscope: return Array(try SpeedscopeRenderer().render(report).utf8)
            case .folded: return Array(FoldedRenderer().render(report).utf8)
            case .pprof: return PprofRenderer().render(report)
            }
        } catch {
            throw ProfctlError("cannot render \(outputFormat.rawValue): \(error)")
        }
    }

    /// The session (or `--route`) report built again from `capture.bin`, with the stored options and the
    /// route filters given here.
    private func reportFromCapture(_ store: StateStore, _ sessionId: String) throws -> ProfileReport {
        let archive: CaptureArchive
        do {
            archive = try CaptureArchive.decode(store.read(session: sessionId, ReportStore.captureFileName))
        } catch let error as EngineError {
            throw ProfctlError("\(ReportStore.captureFileName) of session \(sessionId): \(error)")
        }
        var options = archive.options
        if !excludeRoute.isEmpty { options.excludedRoutes += excludeRoute }
        if !includeRoute.isEmpty { options.includedRoutes = includeRoute }
        let reports = archive.build(options: options)
        guard let route else { return reports.session }
        guard let report = reports.routes.first(where: { $0.scope == .route(route) }) else {
            let known = reports.routes.compactMap { if case .route(let name) = $0.scope { TerminalSafe.string(name) } else { nil } }
            throw ProfctlError.notFound("the capture of session \(sessionId) has no route '\(TerminalSafe.string(route))'. Routes: \(known.isEmpty ? "(none)" : known.joined(separator: ", "))")
        }
        return report
    }

    /// Writes the output to stdout, to `--output` (mode 0644), or for `--open` to `--output` or a new
    /// private file (mode 0600) whose file:// URL goes to stdout.
    private func emit(_ bytes: [UInt8], session sessionId: String) throws {
        if open {
            let path: String
            if let output {
                try writeFile(output, bytes, mode: 0o600)
                path = Self.absolutePath(output)
            } else {
                path = try writePrivateFile(bytes, session: sessionId)
            }
            print(Self.fileURL(path))
            return
        }
        guard let output else {
            writeAll(fd: STDOUT_FILENO, bytes)
            return
        }
        try writeFile(output, bytes, mode: 0o644)
    }

    /// Writes `path` with `mode` atomically (a temporary file renamed over it).
    private func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw ProfctlError("cannot write \(TerminalSafe.string(path)): \(String(cString: strerror(errno)))")
        }
        let complete = writeAll(fd: fd, bytes)
        let modeSet = fchmod(fd, mode) == 0
        let closed = close(fd) == 0
        guard complete, modeSet, closed, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ProfctlError("cannot write \(TerminalSafe.string(path)): \(reason)")
        }
    }

    /// A new file `profctl-<session>[-<route or request>]-<random>.html`, mode 0600, under $XDG_RUNTIME_DIR
    /// (private to the user) when it is set, else /tmp; created exclusively, never through a symlink.
    private func writePrivateFile(_ bytes: [UInt8], session sessionId: String) throws -> String {
        var directory = "/tmp"
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), runtime.hasPrefix("/") {
            var info = stat()
            if stat(runtime, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { directory = runtime }
        }
        var name = "profctl-" + sessionId
        if let request { name += "-request-" + ReportStore.fileName(forRoute: request) }
        if let route { name += "-" + ReportStore.fileName(forRoute: route) }
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        for _ in 0..<100 {
            let suffix = String((0..<8).map { _ in letters.randomElement()! })
            let path = "\(directory)/\(name)-\(suffix).\(outputFormat.storedExtension)"
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd < 0 && errno == EEXIST { continue }
            guard fd >= 0 else { throw ProfctlError("cannot create a file in \(TerminalSafe.string(directory)): \(String(cString: strerror(errno)))") }
            let complete = writeAll(fd: fd, bytes)
            guard close(fd) == 0, complete else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw ProfctlError("cannot write \(TerminalSafe.string(path)): \(reason)")
            }
            return path
        }
        throw ProfctlError("cannot create a file in \(TerminalSafe.string(directory)): every name tried exists")
    }

    static func absolutePath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + path
    }

    /// `file://` and the path, percent-encoded but for `A-Z a-z 0-9 - . _ ~ /`.
    static func fileURL(_ path: String) -> String {
        var url = "file://"
        for byte in path.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E, 0x2F:
                url.unicodeScalars.append(UnicodeScalar(byte))
            default:
                url += String(format: "%%%02X", byte)
            }
        }
        return url
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
