#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// Clients and targets that die, exit or stall at the worst moment (SECURITY.md, "Faults"): profd writes
/// what it has, says why the session ended, keeps nothing of the dead peer, and goes on serving.
@Suite("Faults: dying clients and targets, stalled frames", .serialized)
struct FaultTests {
    /// The `profd-testload` session of `pid` in the status document, waiting until profd has seen at least
    /// one span and `minimumSamples` samples of it.
    private func openSession(of pid: Int32, socket: String, minimumSamples: Int) throws -> StatusDocument.Session {
        var found: StatusDocument.Session?
        _ = try DaemonProbe.waitUntil(seconds: 30) {
            found = try DaemonProbe.status(socket: socket).sessions.first { $0.pid == pid }
            return (found?.spans ?? 0) >= 1 && (found?.samples ?? 0) >= minimumSamples
        }
        return try #require(found, "profd has a session for pid \(pid)")
    }

    @Test("a client SIGKILLed inside a request: its reports are written with the open request counted, nothing of it lingers, the next client is served")
    func clientKilledMidRequest() throws {
        let daemon = try DaemonHarness()
        // One whole session first, so that descriptors profd opens lazily (the writer's) are in the baseline.
        try serveOneSession(daemon.socketPath, service: "warmup")
        usleep(300_000)
        let baselineFds = DaemonProbe.openFds(daemon.process.pid)
        let baselineTargets = DaemonProbe.fdTargets(daemon.process.pid)

        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["open-request", "--seconds", "120", "--profd-socket", daemon.socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)
        #expect(try client.readLine(timeoutMs: 20_000) == "in-request")
        let open = try openSession(of: client.pid, socket: daemon.socketPath, minimumSamples: 300)
        client.signal(SIGKILL)
        let killed = client.waitForExit()
        #expect(killed.status & 0x7f == SIGKILL)

        #expect(DaemonProbe.waitForSession(daemon.stateDirectory, open.id), "the dead client's session is written")
        let session = try DaemonProbe.document(daemon.stateDirectory, session: open.id)
        #expect(session.session.endReason == "client-disconnected")
        #expect(session.session.complete == false, "a session its client never stopped is incomplete")
        #expect(session.requests.count == 1 && session.requests.unfinished == 1, "the open request is counted as unfinished")
        #expect(session.requests.wallNs == nil, "an unfinished request has no latency")
        // The open request's samples: attributed to its route up to the disconnect (the session's end).
        let route = try #require(try ReportStore(stateDirectory: daemon.stateDirectory).routes(session: open.id)
            .first { $0.route == "/open-request" }, "the open request's route has a report")
        let routeDocument = try DaemonProbe.document(daemon.stateDirectory, session: open.id, route.files["json"]!)
        let inWork = routeDocument.functions.filter { $0.function.hasSuffix("openRequestWork(_:)") }.map(\.totalSamples).max() ?? 0
        print("killed client: session \(open.id): \(session.samples.count) samples, \(routeDocument.samples.count) in the open request, "
              + "\(inWork) in openRequestWork; end reason \(session.session.endReason)")
        #expect(routeDocument.samples.count >= 200, "the samples taken inside the open request stay in its route")
        #expect(Double(inWork) >= 0.8 * Double(routeDocument.samples.count))
        #expect(routeDocument.requests.unfinished == 1)

        #expect(daemon.isRunning)
        let seconds = try serveOneSession(daemon.socketPath)
        print("killed client: the next client's whole session took \(String(format: "%.2f", seconds)) s")
        #expect(seconds < 30, "the next client is served at once (30 s bound for a loaded machine)")
        let status = try DaemonProbe.status(socket: daemon.socketPath)
        #expect(!status.sessions.contains { $0.pid == client.pid }, "no session of the dead client remains open")
        #expect(DaemonProbe.waitUntil(seconds: 10) { DaemonProbe.openFds(daemon.process.pid) == baselineFds },
                "profd's descriptors return to the baseline \(baselineFds): now \(DaemonProbe.openFds(daemon.process.pid)), new: \(DaemonProbe.fdTargets(daemon.process.pid).filter { !baselineTargets.contains($0) })")
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a client-mode target that exits inside a request without stopping: its session ends, is written, and profd does not spin")
    func clientTargetExitsMidSession() throws {
        let daemon = try DaemonHarness()
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["open-request", "--seconds", "1.5", "--exit-inside", "1", "--profd-socket", daemon.socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)
        #expect(try client.readLine(timeoutMs: 20_000) == "in-request")
        let open = try openSession(of: client.pid, socket: daemon.socketPath, minimumSamples: 1)
        #expect(try client.readLine(timeoutMs: 60_000) == "exiting inside the request")
        #expect(client.waitForExit().exitCode == 0)

        #expect(DaemonProbe.waitForSession(daemon.stateDirectory, open.id))
        let session = try DaemonProbe.document(daemon.stateDirectory, session: open.id)
        #expect(session.session.endReason == "client-disconnected")
        #expect(session.session.complete == false)
        #expect(session.requests.unfinished == 1)
        #expect(session.samples.count > 0)
        let cpu = DaemonProbe.cpuNs(of: daemon.process.pid, over: 1)
        print("client target exited: session \(open.id) \(session.session.endReason), \(session.samples.count) samples; profd CPU \(cpu / 1_000_000) ms in the next 1 s")
        #expect(cpu < 300_000_000, "profd is idle once the target is gone")
        #expect(daemon.isRunning)
        try serveOneSession(daemon.socketPath)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("an attach target SIGKILLed mid-session: the session ends as target-exited, is written, and profd does not spin")
    func attachTargetKilledMidSession() throws {
        let daemon = try DaemonHarness()
        let target = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "120"])
        try target.waitUntilReady()
        let start = try ChildProcess(TestExecutables.path(of: "profctl"),
                                     ["start", "--pid", "\(target.pid)", "--duration", "120s", "--wait", "--socket", daemon.socketPath])
        let id = try #require(try start.readLine(timeoutMs: 20_000), "profctl start prints the session id at once")
        #expect(try DaemonProbe.waitUntil(seconds: 30) {
            (try DaemonProbe.status(socket: daemon.socketPath).sessions.first { $0.id == id }?.samples ?? 0) >= 200
        }, "the attach session samples the target")
        target.signal(SIGKILL)
        _ = target.waitForExit()

        let directory = try #require(try start.readLine(timeoutMs: 60_000), "profctl start --wait gets the report directory")
        #expect(start.waitForExit().exitCode == 0)
        #expect(directory == daemon.stateDirectory + "/sessions/" + id)
        let session = try DaemonProbe.document(daemon.stateDirectory, session: id)
        #expect(session.session.mode == "attach")
        #expect(session.session.endReason == "target-exited" && session.session.complete == false)
        #expect(session.samples.count >= 200)
        let cpu = DaemonProbe.cpuNs(of: daemon.process.pid, over: 1)
        print("attach target killed: session \(id) \(session.session.endReason), \(session.samples.count) samples; profd CPU \(cpu / 1_000_000) ms in the next 1 s")
        #expect(cpu < 300_000_000, "profd is idle once the target is gone")
        #expect(try DaemonProbe.status(socket: daemon.socketPath).sessions.isEmpty)
        try serveOneSession(daemon.socketPath)
        #expect(daemon.stop().exitCode == 0)
    }
}
