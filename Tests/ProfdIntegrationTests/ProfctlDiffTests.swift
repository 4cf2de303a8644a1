#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// `profctl diff`, the built binary: on two real sessions of a workload before and after a change that
/// halves one function's cost, and golden-compared on two fixed JSON reports.
@Suite("profctl diff", .serialized)
struct ProfctlDiffTests {
    /// Tests/ProfdEngineTests/Golden, where the fixed reports and the expected outputs live.
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ProfdEngineTests/Golden").path

    /// Runs profctl and returns its exit code and stdout.
    private func profctl(_ arguments: [String]) throws -> (code: Int32, output: String) {
        let child = try ChildProcess(TestExecutables.path(of: "profctl"), arguments)
        var lines: [String] = []
        while let line = try child.readLine(timeoutMs: 60_000) { lines.append(line) }
        return (child.waitForExit().exitCode, lines.joined(separator: "\n"))
    }

    /// Profiles one `halving` run through `daemon` and returns its session id.
    private func profileHalving(_ daemon: DaemonHarness, half: Bool, requests: Int) throws -> String {
        let child = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                     ["halving", "--requests", String(requests), "--half", half ? "1" : "0",
                                      "--profd-socket", daemon.socketPath])
        try child.waitUntilReady(timeoutMs: 20_000)
        let directory = try #require(try child.reportDirectory(timeoutMs: 120_000), "profd-testload printed no report directory")
        while try child.readLine(timeoutMs: 60_000) != nil {}
        #expect(child.waitForExit().exitCode == 0)
        return String(directory.split(separator: "/").last ?? "")
    }

    @Test("a change that halves one function's cost: diff names it the top improvement, the other function unchanged")
    func halvedFunction() throws {
        let daemon = try DaemonHarness()
        let requests = 150
        let before = try profileHalving(daemon, half: false, requests: requests)
        let after = try profileHalving(daemon, half: true, requests: requests)
        let state = daemon.stateDirectory

        let (code, json) = try profctl(["--state-dir", state, "diff", before, after, "--route", "/halving", "--format", "json"])
        #expect(code == 0)
        let diff = try JSONDecoder().decode(ProfileDiff.self, from: Data(json.utf8))
        #expect(diff.basis == .perRequest)
        #expect(diff.a.requests == requests && diff.b.requests == requests)
        let halved = try #require(diff.functions.first { $0.function.hasSuffix("halvableWork(milliseconds:)") })
        let steady = try #require(diff.functions.first { $0.function.hasSuffix("steadyWork(milliseconds:)") })
        let halvedA = Double(halved.a?.selfNs ?? 0), halvedB = Double(halved.b?.selfNs ?? 0)
        let steadyA = Double(steady.a?.selfNs ?? 0), steadyB = Double(steady.b?.selfNs ?? 0)
        func ms(_ ns: Double) -> String { String(format: "%.3f ms", ns / 1e6) }
        print("diff per request: halvableWork \(ms(halvedA)) → \(ms(halvedB)) (Δ \(ms(Double(halved.deltaSelfNs))), ratio \(String(format: "%.2f", halvedB / max(1, halvedA)))); "
              + "steadyWork \(ms(steadyA)) → \(ms(steadyB)) (Δ \(ms(Double(steady.deltaSelfNs))), \(String(format: "%+.1f%%", 100 * (steadyB - steadyA) / max(1, steadyA))))")
        print("diff samples: A \(diff.a.samples), B \(diff.b.samples); first rows: "
              + diff.functions.prefix(4).map { "\($0.function) \($0.deltaSelfNs)" }.joined(separator: " | "))

        #expect(diff.topImprovement?.function == halved.function, "the halved function is the top improvement")
        #expect(diff.functions.first?.function == halved.function, "and the row with the largest impact")
        #expect(halved.deltaSelfNs < 0)
        #expect((0.35...0.65).contains(halvedB / max(1, halvedA)), "about half the self time per request")
        #expect(halvedA > 5_000_000, "8 ms of CPU per request in halvableWork before the change")
        #expect(abs(steadyB - steadyA) < 0.15 * steadyA, "steadyWork roughly unchanged")

        // The text table says the same, first row first; the defaults are previous → latest.
        let (textCode, text) = try profctl(["--state-dir", state, "diff", "--route", "/halving"])
        #expect(textCode == 0)
        #expect(text.contains("profd diff · self time per request · A → B"))
        #expect(text.contains("A  session \(before) · route /halving"))
        #expect(text.contains("B  session \(after) · route /halving"))
        let lines = text.split(separator: "\n")
        let top = try #require(lines.first { $0.hasPrefix("top improvement: ") })
        #expect(top.contains("halvableWork(milliseconds:)") && top.contains(" -"))
        let header = try #require(lines.firstIndex { $0.contains("Δ time") && $0.hasSuffix("function") })
        #expect(lines.indices.contains(header + 1) && lines[header + 1].hasSuffix("halvableWork(milliseconds:)"))
        #expect(!text.contains("\u{1B}"), "no colour into a pipe")

        // Whole sessions compare too (the route frames are not rows), and the JSON's first row is the same.
        let (sessionCode, sessionJSON) = try profctl(["--state-dir", state, "diff", before, after, "--format", "json", "--limit", "3"])
        #expect(sessionCode == 0)
        let sessions = try JSONDecoder().decode(ProfileDiff.self, from: Data(sessionJSON.utf8))
        #expect(sessions.a.kind == "session" && sessions.functions.count <= 3)
        #expect(sessions.topImprovement?.function == halved.function)
        #expect(!sessions.functions.contains { $0.binary == ReportBuilder.routeBinary })

        // Documented exit codes; messages go to stderr.
        let cases: [([String], Int32)] = [
            (["diff", "20200101T000000.000Z-1-1", "latest"], 3),
            (["diff", "latest", "latest", "--route", "/missing"], 3),
            (["diff", "/nonexistent/session.json", "latest"], 3),
            (["diff", "--route", "/halving", "--route-a", "/halving", "--route-b", "/halving"], 2),
            (["diff", "--route-a", "/halving"], 2),
            (["diff", "--basis", "weekly"], 2),
            (["diff", "--format", "yaml"], 2),
            (["diff", "latest", "latest", "--route-a", "/halving", "--route-b", "/halving"], 0),
            (["diff", String(before.split(separator: "-")[0]), "latest", "--basis", "total", "--sort", "total"], 0),  // a prefix
        ]
        for (arguments, expected) in cases {
            let (exit, output) = try profctl(["--state-dir", state] + arguments)
            #expect(exit == expected, "profctl \(arguments.joined(separator: " "))")
            if expected != 0 { #expect(output.isEmpty, "profctl \(arguments.joined(separator: " ")) wrote to stdout") }
        }
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("golden: profctl diff of two fixed JSON reports, in every format", arguments: [
        ("text", "diff.txt"), ("json", "diff.json"), ("html", "diff.html"),
    ])
    func golden(format: String, golden: String) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-diff-\(UUID().uuidString.prefix(8)).\(format)").path
        defer { unlink(output) }
        let (code, stdout) = try profctl(["diff", Self.goldenDirectory + "/diff-a.session.json", Self.goldenDirectory + "/diff-b.session.json",
                                          "--format", format, "--output", output])
        #expect(code == 0)
        #expect(stdout.isEmpty, "--output writes the file, not stdout")
        let actual = try String(contentsOfFile: output, encoding: .utf8)
        let expected = try String(contentsOfFile: Self.goldenDirectory + "/" + golden, encoding: .utf8)
        #expect(actual == expected, "profctl diff --format \(format) differs from \(golden) (the engine's golden test writes it)")
    }

    @Test("a path with --route: a session.json leads to its route's report, which must exist")
    func fileRoute() throws {
        let a = Self.goldenDirectory + "/diff-a.session.json"
        let (code, _) = try profctl(["diff", a, a, "--route", "GET /nowhere"])
        #expect(code == 3)
        // The fixture lists GET /compute with a file that is not checked in: not found, not a crash.
        let (missing, _) = try profctl(["diff", a, a, "--route", "GET /compute"])
        #expect(missing == 3)
    }
}
