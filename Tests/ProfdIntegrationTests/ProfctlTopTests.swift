#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// `profctl top` in a real terminal: tmux runs it, the test reads the screen and presses q.
@Suite("profctl top", .serialized)
struct ProfctlTopTests {
    @Test("under tmux, top names the hottest function and route of a running session, and q quits")
    func topInTmux() throws {
        try #require(access("/usr/bin/tmux", X_OK) == 0, "tmux (Debian package tmux) is needed")
        let daemon = try DaemonHarness()
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["requests", "--seconds", "5", "--profd-socket", daemon.socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)

        let server = "profd-top-\(UUID().uuidString.prefix(8))"
        let command = "\(try TestExecutables.path(of: "profctl")) top --state-dir \(daemon.stateDirectory) --socket \(daemon.socketPath)"
        #expect(tmux(server, ["new-session", "-d", "-s", "top", "-x", "120", "-y", "40", command]).status == 0)
        defer { _ = tmux(server, ["kill-server"]) }

        var screen = ""
        let deadline = Date().addingTimeInterval(8)
        while Date() < deadline {
            screen = tmux(server, ["capture-pane", "-p", "-t", "top"]).output
            if screen.contains("spin(_:salt:)") && screen.contains("/work") { break }
            usleep(200_000)
        }
        print("top screen:\n\(screen)")
        let lines = screen.split(separator: "\n").map(String.init)
        let functionsHeader = try #require(lines.firstIndex { $0.hasPrefix("FUNCTION") }, "a function table")
        #expect(lines.indices.contains(functionsHeader + 1) && lines[functionsHeader + 1].contains("spin(_:salt:)"),
                "the hottest function heads the table")
        let routesHeader = try #require(lines.firstIndex { $0.hasPrefix("ROUTE") }, "a route table")
        #expect(lines.indices.contains(routesHeader + 1) && lines[routesHeader + 1].hasPrefix("/work"), "the busiest route heads the table")
        #expect(screen.contains("pid \(client.pid)"))

        _ = tmux(server, ["send-keys", "-t", "top", "q"])
        let quitBy = Date().addingTimeInterval(3)
        var running = true
        while running && Date() < quitBy {
            running = tmux(server, ["has-session", "-t", "top"]).status == 0
            if running { usleep(100_000) }
        }
        #expect(!running, "q ends profctl top (and with it the tmux session)")

        #expect(client.waitForExit().exitCode == 0)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("top.json is written only while someone looks; --once asks the daemon and prints the fresh screen")
    func snapshotsOnlyWhileWatched() throws {
        let daemon = try DaemonHarness()
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["requests", "--seconds", "4", "--profd-socket", daemon.socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)
        usleep(1_500_000)
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        #expect(store.topSnapshots(maximumAgeSeconds: .infinity).isEmpty, "nobody asked: no snapshot was written")
        let top = try ChildProcess(TestExecutables.path(of: "profctl"),
                                   ["top", "--once", "--state-dir", daemon.stateDirectory, "--socket", daemon.socketPath])
        var output: [String] = []
        while let line = try top.readLine() { output.append(line) }
        #expect(top.waitForExit().exitCode == 0)
        #expect(output.first?.hasPrefix("profctl top · 1 running session") == true, "\(output)")
        #expect(output.contains { $0.contains("spin(_:salt:)") })
        #expect(client.waitForExit().exitCode == 0)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("--once prints one screen without a terminal; with nothing running it says so")
    func onceWithoutSessions() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-top-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let top = try ChildProcess(TestExecutables.path(of: "profctl"), ["top", "--once", "--state-dir", root, "--socket", root + "/none.sock"])
        var output: [String] = []
        while let line = try top.readLine() { output.append(line) }
        #expect(top.waitForExit().exitCode == 0)
        #expect(output.first?.hasPrefix("profctl top · 0 running sessions") == true, "\(output)")
        #expect(output.contains { $0.contains("no running session is being profiled") })
    }

    /// Runs tmux on a private server socket; its exit status and stdout.
    private func tmux(_ server: String, _ arguments: [String]) -> (status: Int32, output: String) {
        guard let child = try? ChildProcess("/usr/bin/tmux", ["-L", server] + arguments, environment: ["TERM=xterm-256color"]) else {
            return (-1, "")
        }
        var lines: [String] = []
        while let line = try? child.readLine(timeoutMs: 5_000) { lines.append(line) }
        return (child.waitForExit().exitCode, lines.joined(separator: "\n"))
    }
}
