#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// The built `profctl` binary against a store with one known session.
@Suite("profctl binary")
struct ProfctlTests {
    static let sessionId = "20261126T111755.123Z-4242-1"

    /// Writes a small real store: two routes, a few samples each.
    private func makeStore() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-\(UUID().uuidString.prefix(8))").path
        var capture = Capture()
        capture.spans = [
            SpanRecord(spanId: 1, route: "/compute", threadId: 1, beginNs: 0, endNs: 100, status: 200),
            SpanRecord(spanId: 2, route: "/hash", threadId: 2, beginNs: 0, endNs: 100, status: 200),
        ]
        for time in 0..<5 { capture.add(tid: 1, timeNs: UInt64(time), addresses: [0x10], inKernel: false) }
        for time in 0..<3 { capture.add(tid: 2, timeNs: UInt64(time), addresses: [0x20], inKernel: false) }
        let metadata = SessionMetadata(id: Self.sessionId, service: "svc", pid: 1, uid: 0, executable: "/app",
                                       startedAt: "2026-11-26T11:17:55.123Z", endedAt: "2026-11-26T11:17:56.123Z",
                                       durationNs: 1_000_000_000, frequencyHz: 1000, endReason: "stopped", daemonVersion: "0.1.0")
        let names: [UInt64: String] = [0x10: "App.randomNumber()", 0x20: "App.hashPayload(rounds:)"]
        let reports = ReportBuilder(metadata: metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: names[$0] ?? "?", binary: "/app") }
        }
        let archive = CaptureArchive(metadata: metadata, options: ReportOptions(), capture: capture,
                                     framesByStack: reports.framesByStack, symbolize: { _ in [] })
        try ReportStore(stateDirectory: root).write(session: reports.session, routes: reports.routes,
                                                    capture: try archive.encoded())
        return root
    }

    /// Runs profctl and returns its exit code and stdout.
    private func profctl(_ arguments: [String]) throws -> (code: Int32, output: String) {
        let child = try ChildProcess(TestExecutables.path(of: "profctl"), arguments)
        var lines: [String] = []
        while let line = try child.readLine() { lines.append(line) }
        return (child.waitForExit().exitCode, lines.joined(separator: "\n"))
    }

    @Test("--state-dir works before and after the subcommand")
    func stateDirPlacement() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for arguments in [["--state-dir", root, "dump", "--format", "json"], ["dump", "--state-dir", root, "--format", "json"]] {
            let (code, output) = try profctl(arguments)
            #expect(code == 0)
            let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(output.utf8))
            #expect(document.kind == "session")
            #expect(document.routes?.map(\.route) == ["/compute", "/hash"])
        }
    }

    @Test("--route prints only that route")
    func route() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (code, output) = try profctl(["--state-dir", root, "dump", "--format", "text", "--route", "/hash"])
        #expect(code == 0)
        #expect(output.contains("App.hashPayload(rounds:)"))
        #expect(!output.contains("App.randomNumber()"))
    }

    @Test("documented exit codes", arguments: [
        (["dump", "--format", "yaml"], Int32(2)),
        (["--bogus-flag"], Int32(2)),
        (["dump", "--route", "/missing"], Int32(3)),
        (["dump", "--session", "20200101T000000.000Z-1-1"], Int32(3)),
        (["dump"], Int32(0)),
        (["list"], Int32(0)),
    ])
    func exitCodes(arguments: [String], expected: Int32) throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try profctl(["--state-dir", root] + arguments).code == expected)
    }

    @Test("an empty state directory is 'not found', with a hint")
    func empty() throws {
        let (code, output) = try profctl(["--state-dir", "/nonexistent-profd-state", "dump"])
        #expect(code == 3)
        #expect(output.isEmpty, "messages go to stderr, not stdout")
    }

    @Test("--from-capture builds the reports again from capture.bin, and can leave routes out after the fact")
    func fromCapture() throws {
        let root = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (code, output) = try profctl(["--state-dir", root, "dump", "--from-capture", "--format", "json"])
        #expect(code == 0)
        let rebuilt = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(output.utf8))
        let (_, stored) = try profctl(["--state-dir", root, "dump", "--format", "json"])
        let original = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(stored.utf8))
        #expect(rebuilt.samples.count == original.samples.count)
        #expect(rebuilt.functions.map(\.function) == original.functions.map(\.function))

        let (filteredCode, filtered) = try profctl(["--state-dir", root, "dump", "--from-capture", "--format", "text",
                                                    "--exclude-route", "/hash"])
        #expect(filteredCode == 0)
        #expect(filtered.contains("randomNumber") && !filtered.contains("hashPayload"))
        #expect(filtered.contains("excluded routes: 1 requests, 3 samples left out"))

        let (routeCode, route) = try profctl(["--state-dir", root, "dump", "--from-capture", "--format", "folded", "--route", "/hash"])
        #expect(routeCode == 0)
        #expect(route.contains("App.hashPayload(rounds:) 3"))

        let (misuse, _) = try profctl(["--state-dir", root, "dump", "--exclude-route", "/hash"])
        #expect(misuse == 2)
    }

    @Test("--show-all shows the library frames the text report folds")
    func showAll() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var capture = Capture()
        capture.spans = [SpanRecord(spanId: 1, route: "/r", threadId: 1, beginNs: 0, endNs: 100, status: 200)]
        for time in 0..<4 { capture.add(tid: 1, timeNs: UInt64(time), addresses: [0x30, 0x10], inKernel: false) }
        let metadata = SessionMetadata(id: Self.sessionId, service: "svc", pid: 1, uid: 0, executable: "/app",
                                       startedAt: "2026-11-26T11:17:55.123Z", endedAt: "2026-11-26T11:17:56.123Z",
                                       durationNs: 1_000_000_000, frequencyHz: 1000, endReason: "stopped", daemonVersion: "0.1.0")
        let reports = ReportBuilder(metadata: metadata, capture: capture).build { stack in
            stack.addresses.map { $0 == 0x30 ? Frame(function: "getrandom", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6")
                                             : Frame(function: "App.main()", binary: "/app") }
        }
        try ReportStore(stateDirectory: root).write(session: reports.session, routes: reports.routes)
        let (_, folded) = try profctl(["--state-dir", root, "dump", "--format", "text", "--route", "/r"])
        #expect(folded.contains("frame hidden") && !folded.contains("getrandom"))
        let (code, all) = try profctl(["--state-dir", root, "dump", "--format", "text", "--route", "/r", "--show-all"])
        #expect(code == 0)
        #expect(all.contains("getrandom") && !all.contains("frame hidden"))
    }
}
