#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// What the fault and escaping tests observe of a running profd from outside: its descriptors, its CPU
/// time, its status document, and the reports it wrote.
enum DaemonProbe {
    /// Entries in `/proc/<pid>/fd`: a descriptor left by a dead client shows here.
    static func openFds(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Where profd's descriptors point (`/proc/<pid>/fd/*` link targets), to name the ones that linger.
    static func fdTargets(_ pid: Int32) -> [String] {
        let directory = "/proc/\(pid)/fd"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) }.sorted()
    }

    /// profd's on-CPU time over `seconds`: a loop spinning on a dead peer would burn the whole interval.
    static func cpuNs(of pid: Int32, over seconds: Double) -> UInt64 {
        let before = ProcessCPU.threadsCPUNs(pid: pid)
        usleep(UInt32(seconds * 1_000_000))
        return ProcessCPU.threadsCPUNs(pid: pid) - before
    }

    /// The daemon's status document, asked through `profctl status --json`.
    static func status(socket: String) throws -> StatusDocument {
        let child = try ChildProcess(TestExecutables.path(of: "profctl"), ["status", "--json", "--socket", socket])
        var lines: [String] = []
        while let line = try child.readLine(timeoutMs: 60_000) { lines.append(line) }
        let exit = child.waitForExit()
        guard exit.exitCode == 0 else { throw TestKitError("profctl status failed with exit code \(exit.exitCode)") }
        return try JSONDecoder().decode(StatusDocument.self, from: Data(lines.joined(separator: "\n").utf8))
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
    static func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// The parsed JSON report `relativePath` of a written session.
    static func document(_ stateDirectory: String, session: String, _ relativePath: String = "session.json") throws -> JSONRenderer.Document {
        let bytes = try ReportStore(stateDirectory: stateDirectory).readFile(session: session, relativePath: relativePath)
        return try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(bytes))
    }

    /// Waits (up to 60 s, for a loaded machine) until session `id` is written; false if it never is.
    static func waitForSession(_ stateDirectory: String, _ id: String) -> Bool {
        let store = ReportStore(stateDirectory: stateDirectory)
        return waitUntil(seconds: 60) { store.sessionIds().contains(id) }
    }
}

/// A short but complete session from this test process over a raw connection: hello, start, one span with
/// 100 ms of CPU, stop. Returns the seconds from connecting to the `sessionStopped` reply, so a test can show
/// that profd serves a new client promptly; throws if any step is not answered as expected.
@discardableResult
func serveOneSession(_ socketPath: String, service: String = "next-client") throws -> Double {
    let began = Date()
    let client = try RawConnection(path: socketPath)
    client.send(.hello(Hello(service: service)))
    guard case .message(.helloAck) = try client.receive() else { throw TestKitError("no helloAck") }
    client.send(.startSession(StartSession(frequencyHz: 1000)))
    guard case .message(.sessionStarted(let started)) = try client.receive() else { throw TestKitError("session did not start") }
    let tid = UInt32(bitPattern: profd_gettid())
    client.send(.spanBegin(SpanBegin(spanId: 1, threadId: tid, timeNs: profd_monotonic_ns(), route: "/next")))
    _ = integrationBurnAlpha(until: threadCPUNs() + 100_000_000)
    client.send(.spanEnd(SpanEnd(spanId: 1, threadId: tid, timeNs: profd_monotonic_ns(), httpStatus: 200)))
    client.send(.stopSession)
    guard case .message(.sessionStopped(let stopped)) = try client.receive() else { throw TestKitError("session did not stop") }
    guard stopped.sessionId == started.sessionId else { throw TestKitError("stopped \(stopped.sessionId), not \(started.sessionId)") }
    return Date().timeIntervalSince(began)
}

/// profd with its log (stderr) in a file, for tests that check what it logged. `DaemonHarness` leaves
/// stderr to the test runner.
final class LoggedDaemon {
    let root: String
    let socketPath: String
    let stateDirectory: String
    let logPath: String
    let process: ChildProcess

    init(arguments: [String] = []) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-logged-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        socketPath = root + "/profd.sock"
        stateDirectory = root + "/state"
        logPath = root + "/profd.log"
        process = try ChildProcess("/bin/sh", [#"-c"#, #"exec "$0" "$@" 2>"$PROFD_LOG""#, try TestExecutables.path(of: "profd"),
                                               "--state-dir", stateDirectory, "--socket", socketPath,
                                               "--log-target", "stderr", "--log-level", "debug"] + arguments,
                                   environment: ["PROFD_LOG=\(logPath)"])
        let started = DaemonProbe.waitUntil(seconds: 10) { access(socketPath, F_OK) == 0 || process.reapIfExited() != nil }
        guard started, process.reapIfExited() == nil else { throw TestKitError("profd did not start: \(log)") }
    }

    var log: String { TestFiles.text(logPath) ?? "" }
    var isRunning: Bool { process.reapIfExited() == nil }

    func stop() -> ChildExit {
        process.signal(SIGTERM)
        return process.waitForExit()
    }

    deinit {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(atPath: root)
    }
}
