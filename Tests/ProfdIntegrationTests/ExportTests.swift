#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// `profctl dump --format folded|speedscope|pprof` on a store with one known session, checked with the
/// tools that read those formats: the speedscope schema (python3 jsonschema) and `go tool pprof`.
/// Missing tools fail the tests with the package to install; nothing is skipped.
@Suite("profctl exports")
struct ExportTests {
    static let sessionId = "20261126T111755.123Z-4242-7"
    static let schemaPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/speedscope-file-format-schema.json").path

    /// A store with two routes: /compute spends 7 samples in App.randomNumber() and 2 in App.addNumbers(_:_:),
    /// /hash 3 in App.hashPayload(rounds:); all below App.main() → App.handle(). 12 samples at 1 ms.
    private func makeStore() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-export-\(UUID().uuidString.prefix(8))").path
        var capture = Capture()
        capture.spans = [
            SpanRecord(spanId: 1, route: "/compute", threadId: 1, beginNs: 0, endNs: 100, status: 200),
            SpanRecord(spanId: 2, route: "/hash", threadId: 2, beginNs: 0, endNs: 100, status: 200),
        ]
        var time: UInt64 = 0
        func add(_ tid: Int32, _ leafFirst: [UInt64], times: Int) {
            for _ in 0..<times {
                capture.add(tid: tid, timeNs: time, addresses: leafFirst + [0x2, 0x1], inKernel: false)
                time += 1
            }
        }
        add(1, [0x10], times: 7)
        add(1, [0x11], times: 2)
        add(2, [0x20], times: 3)
        let metadata = SessionMetadata(id: Self.sessionId, service: "svc", pid: 1, uid: 0, executable: "/app",
                                       startedAt: "2026-11-26T11:17:55.123Z", endedAt: "2026-11-26T11:17:56.123Z",
                                       durationNs: 1_000_000_000, frequencyHz: 1000, endReason: "stopped", daemonVersion: "0.1.0")
        let names: [UInt64: String] = [0x1: "App.main()", 0x2: "App.handle()", 0x10: "App.randomNumber()",
                                       0x11: "App.addNumbers(_:_:)", 0x20: "App.hashPayload(rounds:)"]
        let reports = ReportBuilder(metadata: metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: names[$0] ?? "?", binary: "/app") }
        }
        try ReportStore(stateDirectory: root).write(session: reports.session, routes: reports.routes)
        return root
    }

    struct Output {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `executable` (a path, or a name looked up on PATH through /usr/bin/env) with `input` on stdin;
    /// stdout and stderr go through temporary files, so binary output arrives intact.
    private func run(_ executable: String, _ arguments: [String], input: [UInt8] = [],
                     stdout: FileHandle? = nil) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inURL = directory.appendingPathComponent("in"), outURL = directory.appendingPathComponent("out"),
            errURL = directory.appendingPathComponent("err")
        try Data(input).write(to: inURL)
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        if executable.hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = try stdout ?? FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: Array(try Data(contentsOf: outURL)),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    private func profctl(_ root: String, _ arguments: [String], stdout: FileHandle? = nil) throws -> Output {
        try run(TestExecutables.path(of: "profctl"), ["--state-dir", root, "dump"] + arguments, stdout: stdout)
    }

    /// Runs a tool that must be installed; a missing one is a test failure that names its package.
    private func tool(_ name: String, package: String, _ arguments: [String], input: [UInt8] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> Output {
        let output = try run(name, arguments, input: input)
        if output.status == 127 {
            Issue.record("\(name) is not installed: apt-get install \(package)", sourceLocation: sourceLocation)
        }
        return output
    }

    private func storedSamples(_ root: String) throws -> Int {
        let bytes = try ReportStore(stateDirectory: root).readFile(session: Self.sessionId, relativePath: "session.json")
        return try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(bytes)).samples.count
    }

    @Test("folded: every line parses, and the counts sum to the report's samples")
    func folded() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (arguments, expectedSamples) in [([String](), try storedSamples(root)), (["--route", "/hash"], 3)] {
            let output = try profctl(root, ["--format", "folded"] + arguments)
            #expect(output.status == 0, "\(output.stderr)")
            var total = 0
            for line in output.text.split(separator: "\n") {
                let space = try #require(line.lastIndex(of: " "), "line without a count: \(line)")
                let frames = line[..<space].split(separator: ";", omittingEmptySubsequences: false)
                #expect(frames.allSatisfy { !$0.isEmpty })
                total += try #require(Int(line[line.index(after: space)...]), "bad count in \(line)")
            }
            #expect(total == expectedSamples)
        }
        let session = try profctl(root, ["--format", "folded"]).text
        #expect(session.contains("/compute;App.main();App.handle();App.randomNumber() 7\n"))
    }

    @Test("speedscope: validates against the official schema, one profile per route")
    func speedscope() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = root + "/out.speedscope.json"
        let viaStdout = try profctl(root, ["--format", "speedscope"])
        let viaFile = try profctl(root, ["--format", "speedscope", "--output", file])
        #expect(viaStdout.status == 0 && viaFile.status == 0, "\(viaStdout.stderr)\(viaFile.stderr)")
        #expect(viaFile.stdout.isEmpty)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: file))) == viaStdout.stdout)

        let validate = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft6Validator.check_schema(schema)
            document = json.load(sys.stdin)
            errors = list(jsonschema.Draft6Validator(schema).iter_errors(document))
            for error in errors: print(error.message, list(error.absolute_path))
            frames = len(document["shared"]["frames"])
            for profile in document["profiles"]:
                assert len(profile["samples"]) == len(profile["weights"]), "samples and weights differ in length"
                assert all(0 <= i < frames for stack in profile["samples"] for i in stack), "frame index out of range"
            print("profiles", [p["name"] for p in document["profiles"]], sum(sum(p["weights"]) for p in document["profiles"]))
            sys.exit(1 if errors else 0)
            """
        let result = try tool("python3", package: "python3 python3-jsonschema", ["-c", validate, Self.schemaPath], input: viaStdout.stdout)
        #expect(result.status == 0, "speedscope output does not validate: \(result.text)\(result.stderr)")
        #expect(result.text == "profiles ['/compute', '/hash'] 12000000\n")

        let route = try profctl(root, ["--format", "speedscope", "--route", "/hash"])
        let routeResult = try tool("python3", package: "python3 python3-jsonschema", ["-c", validate, Self.schemaPath], input: route.stdout)
        #expect(routeResult.status == 0 && routeResult.text == "profiles ['/hash'] 3000000\n", "\(routeResult.text)\(routeResult.stderr)")
    }

    @Test("pprof: go tool pprof reads it and App.randomNumber() is the top function")
    func pprof() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = root + "/profile.pb.gz"
        let written = try profctl(root, ["--format", "pprof", "--output", file])
        #expect(written.status == 0, "\(written.stderr)")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(bytes.starts(with: [0x1F, 0x8B]), "gzip magic")
        let piped = try profctl(root, ["--format", "pprof"])
        #expect(piped.status == 0 && piped.stdout == bytes, "stdout that is not a terminal gets the same bytes")
        let gzipTest = try tool("gzip", package: "gzip", ["-t", file])
        #expect(gzipTest.status == 0, "\(gzipTest.stderr)")

        let top = try tool("go", package: "golang-go", ["tool", "pprof", "-top", file])
        #expect(top.status == 0, "go tool pprof failed: \(top.stderr)")
        let (flat, function) = try topRow(top.text)
        #expect(flat == "7ms" && function == "App.randomNumber()", "\(top.text)")
        #expect(top.text.contains("Total samples = 12ms"), "\(top.text)")

        let hashOnly = try tool("go", package: "golang-go", ["tool", "pprof", "-top", "-tagfocus", "route=/hash", file])
        #expect(hashOnly.status == 0, "\(hashOnly.stderr)")
        let hashTop = try topRow(hashOnly.text)
        #expect(hashTop.flat == "3ms" && hashTop.function == "App.hashPayload(rounds:)", "samples are labelled by route: \(hashOnly.text)")
    }

    /// The flat time and function of the first row of `go tool pprof -top`'s table.
    private func topRow(_ text: String) throws -> (flat: String, function: String) {
        let lines = text.split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.contains("flat%") && $0.contains("cum%") }, "no table in: \(text)")
        let row = try #require(lines.dropFirst(header + 1).first, "empty table in: \(text)")
        // flat flat% sum% cum cum% function, where the function name may contain spaces.
        let columns = row.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        try #require(columns.count == 6, "unexpected row: \(row)")
        return (String(columns[0]), columns[5].trimmingCharacters(in: .whitespaces))
    }

    @Test("pprof refuses a terminal without --output, with exit 2 and a hint")
    func pprofTerminal() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A pseudo-terminal by hand (Glibc's module does not export posix_openpt): unlock the master and
        // open the slave by number (TIOCSPTLCK and TIOCGPTN, the same on every Linux architecture Swift runs on).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(master >= 0, "no /dev/ptmx: errno \(errno)")
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        try #require(ioctl(master, UInt(0x4004_5431), &unlock) == 0, "TIOCSPTLCK: errno \(errno)")
        try #require(ioctl(master, UInt(0x8004_5430), &number) == 0, "TIOCGPTN: errno \(errno)")
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0, "open /dev/pts/\(number): errno \(errno)")
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        let output = try profctl(root, ["--format", "pprof"], stdout: terminal)
        #expect(output.status == 2)
        #expect(output.stderr.contains("--output"), "\(output.stderr)")
    }

    @Test("text and html are drawn from the JSON report when the session did not store them")
    func renderedFromJSON() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let html = try profctl(root, ["--format", "html", "--route", "/compute"])
        #expect(html.status == 0, "\(html.stderr)")
        #expect(html.text.hasPrefix("<!DOCTYPE html>") && html.text.contains("App.randomNumber()"))
        let stored = try ReportStore(stateDirectory: root).readFile(session: Self.sessionId, relativePath: "session.txt")
        #expect(try profctl(root, ["--format", "text"]).stdout == stored, "a stored text report is printed as stored")
    }

    @Test("an unknown format is a usage error that lists the formats")
    func unknownFormat() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = try profctl(root, ["--format", "svg"])
        #expect(output.status == 2)
        #expect(output.stderr.contains("speedscope") && output.stderr.contains("pprof") && output.stderr.contains("folded"), "\(output.stderr)")
    }
}
