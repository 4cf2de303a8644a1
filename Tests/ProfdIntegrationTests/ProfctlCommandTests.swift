#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// A fixed state directory (Tests/Fixtures/profctl/state) with two sessions and their kept requests, and the
/// golden output of profctl on it (Tests/Fixtures/profctl/golden). `PROFD_UPDATE_GOLDEN=1` writes both again:
/// the state directory through `ReportStore`, as profd writes it, from a fixed capture with fixed times.
enum ProfctlFixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/profctl").path
    static let goldenDirectory = directory + "/golden"
    static var updating: Bool { ProcessInfo.processInfo.environment["PROFD_UPDATE_GOLDEN"] == "1" }

    static let demoSession = "20261126T101500.000Z-4242-1"
    static let checkoutSession = "20261126T113000.250Z-5151-1"

    /// The fixture's state directory, written again first when updating (once per test run).
    static let stateDirectory: String = {
        let path = directory + "/state"
        if updating {
            try? FileManager.default.removeItem(atPath: path)
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                try write(to: path)
            } catch { fatalError("cannot write the profctl fixture: \(error)") }
        }
        // top shows sessions whose top.json is fresh; a checkout's mtime is "now", so pin it to when the
        // session ran, and let the tests choose with --stale-after.
        var times = [timeval(tv_sec: 1_795_692_609, tv_usec: 0), timeval(tv_sec: 1_795_692_609, tv_usec: 0)]
        _ = utimes(path + "/live/\(checkoutSession)/top.json", &times)
        return path
    }()

    /// Compares `actual` with a golden file; `PROFD_UPDATE_GOLDEN=1` rewrites it.
    static func checkGolden(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = goldenDirectory + "/" + name
        if updating {
            try FileManager.default.createDirectory(atPath: goldenDirectory, withIntermediateDirectories: true)
            try actual.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(actual == expected, "output differs from \(name); run with PROFD_UPDATE_GOLDEN=1 to accept", sourceLocation: sourceLocation)
    }

    private struct Span {
        var id: UInt64
        var route: String
        var beginMs: UInt64
        var endMs: UInt64
        var status: Int
    }

    private static func write(to root: String) throws {
        // profd-demo: two routes; /compute is slow twice, /hash fails once.
        try writeSession(root: root, id: demoSession, service: "profd-demo", pid: 4242, unit: "profd-demo.service",
                         startedAt: "2026-11-26T10:15:00.000Z", endedAt: "2026-11-26T10:16:02.500Z", durationNs: 62_500_000_000,
                         endReason: "stopped", complete: true, startSeconds: 10 * 3600 + 15 * 60, spans: [
                             Span(id: 1, route: "GET /compute", beginMs: 0, endMs: 5, status: 200),
                             Span(id: 2, route: "GET /hash", beginMs: 6, endMs: 9, status: 200),
                             Span(id: 3, route: "GET /compute", beginMs: 1000, endMs: 1035, status: 200),
                             Span(id: 4, route: "GET /hash", beginMs: 2050, endMs: 2052, status: 500),
                             Span(id: 5, route: "GET /compute", beginMs: 3060, endMs: 3088, status: 200),
                         ])
        // checkout: cut short by a profd shutdown; one route name carries a terminal escape.
        try writeSession(root: root, id: checkoutSession, service: "checkout", pid: 5151, unit: nil,
                         startedAt: "2026-11-26T11:30:00.250Z", endedAt: "2026-11-26T11:30:09.750Z", durationNs: 9_500_000_000,
                         endReason: "daemon-shutdown", complete: false, startSeconds: 11 * 3600 + 30 * 60, spans: [
                             Span(id: 11, route: "POST /checkout", beginMs: 0, endMs: 120, status: 200),
                             Span(id: 12, route: "GET /items/\u{1B}[31mred", beginMs: 4130, endMs: 4131, status: 503),
                             Span(id: 13, route: "POST /checkout", beginMs: 8140, endMs: 8150, status: 200),
                         ])
    }

    private static func writeSession(root: String, id: String, service: String, pid: Int32, unit: String?, startedAt: String,
                                     endedAt: String, durationNs: UInt64, endReason: String, complete: Bool,
                                     startSeconds: Int, spans: [Span]) throws {
        let base: UInt64 = 5_000_000_000  // the session's first CLOCK_MONOTONIC instant
        var capture = Capture()
        capture.spans = spans.enumerated().map { index, span in
            SpanRecord(spanId: span.id, route: span.route, threadId: Int32(index % 2 + 1),
                       beginNs: base + span.beginMs * 1_000_000, endNs: base + span.endMs * 1_000_000, status: span.status)
        }
        let names: [UInt64: String] = [0x10: service == "checkout" ? "Checkout.main()" : "ProfdDemo.main()", 0x20: "ProfdDemo.compute(iterations:)",
                                       0x30: "ProfdDemo.randomNumber()", 0x40: "ProfdDemo.hashPayload(rounds:)",
                                       0x50: "Checkout.placeOrder(_:)", 0x60: "Checkout.Inventory.reserve(items:)"]
        for (index, span) in spans.enumerated() {
            let tid = Int32(index % 2 + 1)
            // One sample per millisecond of the request, leaf first.
            for ms in span.beginMs..<max(span.endMs, span.beginMs + 1) {
                let addresses: [UInt64]
                switch span.route {
                case "GET /compute": addresses = ms % 4 == 0 ? [0x20, 0x10] : [0x30, 0x20, 0x10]
                case "POST /checkout": addresses = ms % 3 == 0 ? [0x50, 0x10] : [0x60, 0x50, 0x10]
                default: addresses = [0x40, 0x10]
                }
                capture.add(tid: tid, timeNs: base + ms * 1_000_000 + 500_000, addresses: addresses, inKernel: false)
            }
        }
        var metadata = SessionMetadata(id: id, service: service, pid: pid, uid: 998, executable: "/usr/local/bin/\(service)",
                                       startedAt: startedAt, endedAt: endedAt, durationNs: durationNs, frequencyHz: 1000,
                                       endReason: endReason, unit: unit, complete: complete, daemonVersion: "0.1.0")
        metadata.excludedRequests = 0
        metadata.excludedSamples = 0
        let options = ReportOptions(formats: [.text, .json], slowThresholdNs: 20_000_000)
        let reports = ReportBuilder(metadata: metadata, capture: capture, options: options) { ns in
            let ms = Int((ns - base) / 1_000_000) + startSeconds * 1000 + (startedAt.contains(".250Z") ? 250 : 0)
            return String(format: "2026-11-26T%02d:%02d:%02d.%03dZ", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
        }.build { stack in
            stack.addresses.map { Frame(function: names[$0] ?? "?", binary: "/usr/local/bin/\(service)") }
        }
        let store = ReportStore(stateDirectory: root)
        try store.write(session: reports.session, routes: reports.routes, requests: reports.requests, formats: options.formats)
        guard !complete else { return }
        // The cut-short session as profd showed it while it ran: its kept requests in live/ (for
        // follow) and a last-second snapshot (for top).
        for request in reports.requests { try store.writeLive(request: request) }
        var counts: [String: [UInt32: Int]] = [:]
        for sample in capture.samples {
            let route = capture.spans.first { sample.timeNs >= $0.beginNs && sample.timeNs <= ($0.endNs ?? 0) }?.route ?? ReportBuilder.unattributedRoute
            counts[route, default: [:]][sample.stack, default: 0] += 1
        }
        let snapshot = TopSnapshot(session: id, service: service, pid: pid, unit: unit, windowNs: 1_000_000_000, frequencyHz: 1000,
                                   countsByRoute: counts, classifier: LibraryFrameClassifier(executablePath: "/usr/local/bin/\(service)")) { id in
            capture.stacks[id].addresses.reversed().map { Frame(function: names[$0] ?? "?", binary: "/usr/local/bin/\(service)") }
        }
        try store.writeTop(snapshot)
    }
}

/// The built `profctl` binary: `list`, `dump --request`, `--open`, exit codes, help and completions.
@Suite("profctl list and dump")
struct ProfctlCommandTests {
    /// Runs profctl; returns its exit code and stdout (with stderr too when `mergeStderr`).
    static func run(_ arguments: [String], environment: [String] = [], mergeStderr: Bool = false,
                    asNobody: Bool = false) throws -> (code: Int32, output: String) {
        let profctl = try TestExecutables.path(of: "profctl")
        var command = [profctl] + arguments
        if asNobody { command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + command }
        let child = mergeStderr
            ? try ChildProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" 2>&1"] + command, environment: environment)
            : try ChildProcess(command[0], Array(command.dropFirst()), environment: environment)
        var lines: [String] = []
        while let line = try child.readLine() { lines.append(line) }
        return (child.waitForExit().exitCode, lines.map { $0 + "\n" }.joined())
    }

    static var state: String { ProfctlFixture.stateDirectory }

    @Test("--help of profctl and every subcommand", arguments: [
        (["--help"], "help-profctl.txt"),
        (["list", "--help"], "help-list.txt"),
        (["dump", "--help"], "help-dump.txt"),
        (["diff", "--help"], "help-diff.txt"),
        (["follow", "--help"], "help-follow.txt"),
        (["top", "--help"], "help-top.txt"),
        (["status", "--help"], "help-status.txt"),
        (["start", "--help"], "help-start.txt"),
        (["stop", "--help"], "help-stop.txt"),
    ])
    func help(arguments: [String], golden: String) throws {
        let (code, output) = try Self.run(arguments)
        #expect(code == 0)
        try ProfctlFixture.checkGolden(output, named: golden)
    }

    @Test("list and dump on the fixed state directory", arguments: [
        (["list"], "list.txt"),
        (["list", "--json"], "list.json"),
        (["list", "--slowest", "2"], "list-slowest-2.txt"),
        (["list", "--slowest", "2", "--json"], "list-slowest-2.json"),
        (["list", "--service", "check*"], "list-service-check.txt"),
        (["list", "--route", "GET /hash"], "list-route-hash.txt"),
        (["list", "--since", "2026-11-26T11:00:00Z"], "list-since.txt"),
        (["list", "--until", "2026-11-26 10:15:02"], "list-until.txt"),
        (["dump", "--session", ProfctlFixture.demoSession, "--request", "3"], "dump-request-3.txt"),
        (["dump", "--request", "11", "--format", "folded"], "dump-request-11.folded"),
        (["follow", "-n", "2", "--once"], "follow-n2.txt"),
        (["follow", "-n", "1", "--once", "--route", "POST /*"], "follow-route-post.txt"),
        (["top", "--once", "--stale-after", "0", "--socket", "/nonexistent/profd.sock"], "top-once.txt"),
        (["top", "--once", "--socket", "/nonexistent/profd.sock"], "top-once-stale.txt"),
    ])
    func golden(arguments: [String], golden: String) throws {
        let (code, output) = try Self.run(["--state-dir", Self.state] + arguments)
        #expect(code == 0)
        try ProfctlFixture.checkGolden(output, named: golden)
    }

    @Test("status on a saved status document: sessions of both kinds, other users' counted, strings escaped")
    func statusFromDocument() throws {
        let (code, output) = try Self.run(["status", "--from", ProfctlFixture.directory + "/status.json"])
        #expect(code == 0)
        #expect(!output.contains("\u{1B}"), "a service name's escape sequence reaches the terminal")
        try ProfctlFixture.checkGolden(output, named: "status.txt")
    }

    @Test("list shows every session and kept request, untrusted strings escaped")
    func listContents() throws {
        let (code, output) = try Self.run(["--state-dir", Self.state, "list"])
        #expect(code == 0)
        #expect(output.contains(ProfctlFixture.demoSession) && output.contains(ProfctlFixture.checkoutSession))
        #expect(output.contains("daemon-shutdown, incomplete"))
        #expect(!output.contains("\u{1B}"), "a route's escape sequence reaches the terminal")
        #expect(output.contains("GET /items/\\u{1b}[31mred"))
        let (_, slowest) = try Self.run(["--state-dir", Self.state, "list", "--slowest", "2"])
        let rows = slowest.split(separator: "\n").dropFirst()
        #expect(rows.count == 2)
        #expect(rows.first?.contains("120.00ms") == true && rows.first?.contains("POST /checkout") == true)
        #expect(rows.last?.contains("35.00ms") == true)
    }

    @Test("list --json is an array of sessions with their kept requests")
    func listJSON() throws {
        struct Listed: Decodable {
            struct Kept: Decodable { var session: String; var spanId: UInt64; var wallNs: UInt64; var files: [String: String] }
            var id: String
            var complete: Bool?
            var keptRequests: [Kept]
        }
        let (code, output) = try Self.run(["--state-dir", Self.state, "list", "--json"])
        #expect(code == 0)
        let sessions = try JSONDecoder().decode([Listed].self, from: Data(output.utf8))
        #expect(sessions.map(\.id) == [ProfctlFixture.demoSession, ProfctlFixture.checkoutSession])
        #expect(sessions.map { $0.keptRequests.map(\.spanId) } == [[3, 4, 5], [11, 12]])
        #expect(sessions.last?.complete == false)
        for session in sessions {
            for request in session.keptRequests {
                #expect(request.session == session.id)
                #expect(FileManager.default.fileExists(atPath: "\(Self.state)/sessions/\(session.id)/\(request.files["json"] ?? "-")"))
            }
        }
        let (_, empty) = try Self.run(["--state-dir", Self.state, "list", "--json", "--service", "nothing-like-it"])
        #expect(empty == "[]\n")
    }

    @Test("--since and --until take relative durations")
    func relativeTimes() throws {
        let (code, recent) = try Self.run(["--state-dir", Self.state, "list", "--since", "-1h", "--json"])
        #expect(code == 0)
        #expect(recent == "[]\n", "the fixture's sessions are older than an hour")
        let (_, all) = try Self.run(["--state-dir", Self.state, "list", "--since", "-100000d", "--until", "now", "--json"])
        #expect(all.contains(ProfctlFixture.demoSession) && all.contains(ProfctlFixture.checkoutSession))
    }

    @Test("usage errors exit 2", arguments: [
        ["list", "--since", "yesterday"],
        ["list", "--since", "2026-13-01"],
        ["list", "--slowest", "0"],
        ["list", "--since", "2026-11-27", "--until", "2026-11-26"],
        ["dump", "--request", "3", "--route", "GET /compute"],
        ["dump", "--request", "3", "--from-capture"],
        ["dump", "--open", "--format", "json"],
    ])
    func usage(arguments: [String]) throws {
        let (code, output) = try Self.run(["--state-dir", Self.state] + arguments)
        #expect(code == 2)
        #expect(output.isEmpty, "messages go to stderr")
    }

    @Test("dump --request finds a kept request by span id or file name, in any format")
    func dumpRequest() throws {
        let index = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(contentsOf: URL(fileURLWithPath:
            "\(Self.state)/sessions/\(ProfctlFixture.checkoutSession)/session.json")))
        let kept = try #require(index.keptRequests?.first { $0.spanId == 12 })
        let jsonFile = try #require(kept.files["json"])
        let stored = try String(contentsOfFile: "\(Self.state)/sessions/\(ProfctlFixture.checkoutSession)/\(jsonFile)", encoding: .utf8)
        let fileName = String(jsonFile.split(separator: "/").last!)
        let baseName = String(fileName.dropLast(".json".count))
        for key in ["12", fileName, baseName, jsonFile] {
            let (code, output) = try Self.run(["--state-dir", Self.state, "dump", "--request", key, "--format", "json"])
            #expect(code == 0, "--request \(key)")
            #expect(output == stored, "--request \(key)")
        }
        let (htmlCode, html) = try Self.run(["--state-dir", Self.state, "dump", "--session", "20261126T1130", "--request", "12",
                                             "--format", "html"])
        #expect(htmlCode == 0)
        #expect(html.contains("<html"))
        let (code, missing) = try Self.run(["--state-dir", Self.state, "dump", "--session", ProfctlFixture.demoSession,
                                            "--request", "999"], mergeStderr: true)
        #expect(code == 3)
        #expect(missing.contains("kept no request '999'") && missing.contains("\n  3  "))
        #expect(try Self.run(["--state-dir", Self.state, "dump", "--request", "999"]).code == 3)
    }

    @Test("--session takes a unique prefix; an unknown session lists the nearest ids, exit 3")
    func sessions() throws {
        let (code, output) = try Self.run(["--state-dir", Self.state, "dump", "--session", "20261126T1015", "--format", "json"])
        #expect(code == 0)
        #expect(output.contains("\"id\" : \"\(ProfctlFixture.demoSession)\"") || output.contains("\"id\":\"\(ProfctlFixture.demoSession)\""))

        let (ambiguous, ambiguousMessage) = try Self.run(["--state-dir", Self.state, "dump", "--session", "20261126T1"], mergeStderr: true)
        #expect(ambiguous == 3)
        #expect(ambiguousMessage.contains("ambiguous"))

        // A typo in the counter: the same start time comes first.
        let (missing, message) = try Self.run(["--state-dir", Self.state, "dump", "--session", "20261126T113000.250Z-5151-2"],
                                              mergeStderr: true)
        #expect(missing == 3)
        let listed = message.split(separator: "\n").filter { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(listed == [ProfctlFixture.checkoutSession, ProfctlFixture.demoSession], "\(message)")
        // No time in it: ids by spelling.
        let (_, byName) = try Self.run(["--state-dir", Self.state, "dump", "--session", "4242-1"], mergeStderr: true)
        #expect(byName.split(separator: "\n").filter { $0.hasPrefix("  ") }.first?.contains(ProfctlFixture.demoSession) == true)
    }

    @Test("--open writes a private HTML file and prints its file:// URL")
    func openHTML() throws {
        let runtime = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-open-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: runtime, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: runtime) }
        for extra in [[], ["--request", "3"], ["--output", runtime + "/chosen name.html"]] {
            let (code, output) = try Self.run(["--state-dir", Self.state, "dump", "--open"] + extra,
                                              environment: ["XDG_RUNTIME_DIR=\(runtime)"])
            #expect(code == 0)
            let url = output.trimmingCharacters(in: .newlines)
            #expect(url.hasPrefix("file://\(runtime)/"), "\(url)")
            let path = try #require(URL(string: url)?.path)
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            let html = try String(contentsOfFile: path, encoding: .utf8)
            #expect(html.contains("<html"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: runtime).contains("chosen name.html"))
    }

    @Test("an unreadable state directory, and no profd to ask, exits 4 with the hint to go through profd")
    func permission() throws {
        guard getuid() == 0, access("/usr/bin/setpriv", X_OK) == 0 else { return }
        let root = "/tmp/profctl-denied-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: Self.state, toPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Readable by anyone, as a git checkout leaves it, except for what each case denies.
        for case let relative as String in FileManager.default.enumerator(atPath: root)! {
            var info = stat()
            if stat(root + "/" + relative, &info) == 0 {
                chmod(root + "/" + relative, (info.st_mode & S_IFMT) == S_IFDIR ? 0o755 : 0o644)
            }
        }
        #expect(chmod(root, 0o700) == 0)
        for arguments in [["list"], ["dump"], ["dump", "--request", "3"]] {
            let (code, output) = try Self.run(["--state-dir", root] + arguments, mergeStderr: true, asNobody: true)
            #expect(code == 4, "\(arguments): \(output)")
            #expect(output.contains("profctl reads your own reports through profd when it answers on --socket"))
        }
        // A readable directory with one unreadable report: the others are still listed, and the status says so.
        #expect(chmod(root, 0o755) == 0 && chmod(root + "/sessions", 0o755) == 0)
        #expect(chmod("\(root)/sessions/\(ProfctlFixture.demoSession)/session.json", 0o600) == 0)
        let (code, output) = try Self.run(["--state-dir", root, "list"], mergeStderr: true, asNobody: true)
        #expect(code == 4)
        #expect(output.contains(ProfctlFixture.checkoutSession) && output.contains("permission denied"))
        // A session directory it may not enter is still a session, and a permission error.
        #expect(chmod("\(root)/sessions/\(ProfctlFixture.demoSession)", 0o700) == 0)
        let (dumpCode, dumpOutput) = try Self.run(["--state-dir", root, "dump", "--session", ProfctlFixture.demoSession],
                                                  mergeStderr: true, asNobody: true)
        #expect(dumpCode == 4, "\(dumpOutput)")
    }

    @Test("shell completion scripts", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let (code, output) = try Self.run(["--generate-completion-script", shell])
        #expect(code == 0)
        #expect(output.contains("profctl") && output.contains("slowest") && output.contains("request"))
    }

    @Test("completion of --session and --request values from the state directory")
    func dynamicCompletion() throws {
        // What the scripts run: profctl ---completion SUBCOMMAND -- OPTION WORD-INDEX CURSOR WORDS...
        let (code, sessions) = try Self.run(["---completion", "dump", "--", "--session", "5", "4",
                                             "profctl", "dump", "--state-dir", Self.state, "--session", "2026"])
        #expect(code == 0)
        #expect(sessions == ProfctlFixture.checkoutSession + "\n" + ProfctlFixture.demoSession + "\n")
        let (_, requests) = try Self.run(["---completion", "dump", "--", "--request", "7", "0", "profctl", "dump",
                                          "--state-dir", Self.state, "--session", "20261126T1015", "--request", ""])
        #expect(requests.split(separator: "\n").filter { !$0.contains("-") } == ["3", "4", "5"])
        #expect(requests.contains("20261126T101501.000Z-compute-3"))
    }
}
