#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// profd as packaged: its own user, CAP_PERFMON as its only capability. Such a daemon may sample
/// another user's process (perf_event_open checks CAP_PERFMON) but may not open that process's
/// `/proc/PID/maps` on every kernel (a ptrace-mode check; this machine's kernel lets CAP_PERFMON pass
/// it, others want CAP_SYS_PTRACE). The client therefore passes its own `/proc/self/maps` fd, and the
/// second case makes profd ignore `/proc/PID/maps` (a test-only fault hook) so that only the fd can
/// have symbolized the report.
@Suite("profd without root", .serialized)
struct UnprivilegedDaemonTests {
    @Test("a CAP_PERFMON-only profd profiles and symbolizes another user's process",
          arguments: [false, true])
    func capPerfmonOnly(denyProcMaps: Bool) throws {
        try #require(access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux) is needed")
        try #require(getuid() == 0, "the test drops from root to nobody")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-nobody-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        chown(root, 65534, 65534)
        let socketPath = root + "/profd.sock"
        let profd = try ChildProcess("/usr/bin/setpriv", [
            "--reuid=65534", "--regid=65534", "--clear-groups",
            "--inh-caps=-all,+perfmon", "--ambient-caps=-all,+perfmon", "--bounding-set=-all,+perfmon",
            try TestExecutables.path(of: "profd"), "--state-dir", root + "/state", "--socket", socketPath,
        ], environment: denyProcMaps ? ["PROFD_TEST_FAULT_HOOKS=1", "PROFD_TEST_DENY_PROC_MAPS=1"] : [])
        let deadline = Date().addingTimeInterval(10)
        while access(socketPath, F_OK) != 0 {
            guard Date() < deadline else { throw TestKitError("profd (as nobody) did not create \(socketPath)") }
            if profd.reapIfExited() != nil { throw TestKitError("profd (as nobody) exited at startup") }
            usleep(20_000)
        }
        #expect(access("/proc/\(profd.pid)/status", R_OK) == 0)
        let status = TestFiles.text("/proc/\(profd.pid)/status") ?? ""
        #expect(status.contains("Uid:\t65534"), "profd runs as nobody")
        // CAP_PERFMON is bit 38.
        #expect(status.contains("CapEff:\t0000004000000000"), "CAP_PERFMON and nothing else: \(status)")

        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["blocking", "--requests", "10", "--profd-socket", socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)
        let report = try client.reportDirectory(timeoutMs: 60_000)
        #expect(client.waitForExit().exitCode == 0)
        let directory = try #require(report, "the session ran: perf_event_open worked with CAP_PERFMON alone")
        profd.signal(SIGTERM)
        #expect(profd.waitForExit().exitCode == 0)

        let store = ReportStore(stateDirectory: root + "/state")
        let id = (directory as NSString).lastPathComponent
        let document = try JSONDecoder().decode(JSONRenderer.Document.self,
                                                from: Data(store.readFile(session: id, relativePath: "session.json")))
        #expect(document.session.uid == 0, "the client is root, profd is not")
        #expect(document.session.executable?.hasSuffix("/profd-testload") == true,
                "the executable, from the passed maps: \(document.session.executable ?? "nil")")
        let text = String(decoding: try store.readFile(session: id, relativePath: "session.txt"), as: UTF8.self)
        #expect(text.contains("blockThenBurn()"), "the client's own functions are named:\n\(text.prefix(3000))")
        #expect(text.contains("burnCPU(milliseconds:)"))
    }
}
