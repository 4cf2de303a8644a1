#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// profd and its service manager, without booting systemd: the real profd binary and the real
/// libsystemd, with the test standing in for PID 1 on a notify socket of its own (`NOTIFY_SOCKET`)
/// and, for socket activation, systemd's own `systemd-socket-activate`. `make systemd-test` repeats
/// all of this under a real systemd.
@Suite("profd under a service manager", .serialized)
struct ServiceManagerTests {
    @Test("READY=1 once serving, WATCHDOG=1 every half period, STATUS= names the session, STOPPING=1 on SIGTERM")
    func notifyLifecycle() throws {
        let notify = try NotifySocket()
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let socketPath = root + "/profd.sock"
        let profd = try ChildProcess(TestExecutables.path(of: "profd"),
                                     ["--state-dir", root + "/state", "--socket", socketPath],
                                     environment: ["NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=1000000"])

        let ready = try #require(try notify.next(timeoutMs: 10_000) { $0.contains("READY=1") }, "READY=1")
        #expect(access(socketPath, F_OK) == 0, "READY=1 comes after the socket exists")
        #expect(ready.contains("STATUS=idle, waiting for clients"), "first status: \(ready)")

        // WATCHDOG_USEC=1 s: a keep-alive every 0.5 s from the loop.
        let started = Date()
        var pings = 0
        while Date().timeIntervalSince(started) < 2.6 {
            if try notify.next(timeoutMs: 3_000, where: { $0 == "WATCHDOG=1" }) != nil { pings += 1 }
        }
        #expect((4...7).contains(pings), "\(pings) WATCHDOG=1 in 2.6 s")

        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["requests", "--seconds", "5", "--profd-socket", socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)
        // Not at the next 2 s refresh: a session starting changes the line at once.
        let profiling = try #require(try notify.next(timeoutMs: 1_500) { $0.contains("STATUS=profiling 1 session") },
                                     "a status line naming the session")
        print("status while profiling: \(profiling)")
        #expect(profiling.contains("pid \(client.pid)"))
        let measured = try #require(try notify.next(timeoutMs: 5_000) { $0.contains("STATUS=profiling") && !$0.contains(" 0 samples/s") },
                                    "a sample rate once the client burns CPU")
        print("status with a rate: \(measured)")

        profd.signal(SIGTERM)
        let stopping = try #require(try notify.next(timeoutMs: 10_000) { $0.contains("STOPPING=1") }, "STOPPING=1")
        #expect(stopping.contains("writing the reports of 1 open session"), "\(stopping)")
        #expect(profd.waitForExit().exitCode == 0)
        let store = ReportStore(stateDirectory: root + "/state")
        let id = try #require(store.sessionIds().last, "SIGTERM wrote the open session's reports")
        let document = try JSONDecoder().decode(JSONRenderer.Document.self,
                                                from: Data(store.readFile(session: id, relativePath: "session.json")))
        #expect(document.session.endReason == "daemon-shutdown")
        #expect(document.session.complete == false)
        _ = client.waitForExit()
    }

    @Test("SIGUSR2 stalls the event loop, which stops the WATCHDOG=1 keep-alives, only with the test-only fault hooks on",
          arguments: [true, false])
    func stalledLoopStopsWatchdog(faultHooks: Bool) throws {
        let notify = try NotifySocket()
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let profd = try ChildProcess(TestExecutables.path(of: "profd"),
                                     ["--state-dir", root + "/state", "--socket", root + "/profd.sock"],
                                     environment: ["NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=400000"]
                                         + (faultHooks ? ["PROFD_TEST_FAULT_HOOKS=1"] : []))
        _ = try #require(try notify.next(timeoutMs: 10_000) { $0.contains("READY=1") })
        #expect(try notify.next(timeoutMs: 2_000) { $0 == "WATCHDOG=1" } != nil, "keep-alives before SIGUSR2")
        profd.signal(SIGUSR2)
        usleep(300_000)
        notify.drain()
        let ping = try notify.next(timeoutMs: 1_500) { $0 == "WATCHDOG=1" }
        if faultHooks {
            #expect(ping == nil, "no keep-alive for over 3 watchdog periods after the stall")
            #expect(profd.reapIfExited() == nil, "stalled, not dead: only the watchdog can tell")
            profd.signal(SIGKILL)
            _ = profd.waitForExit()
        } else {
            #expect(ping != nil, "without the hooks SIGUSR2 is ignored and the loop still runs")
            profd.signal(SIGTERM)
            #expect(profd.waitForExit().exitCode == 0)
        }
    }

    @Test("socket activation: profd serves the socket systemd-socket-activate passed, and leaves it in place")
    func socketActivation() throws {
        let activator = "/usr/bin/systemd-socket-activate"
        try #require(access(activator, X_OK) == 0, "\(activator) (Debian package systemd) is needed")
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let passed = root + "/activated.sock"
        let own = root + "/never-bound.sock"
        let profd = try ChildProcess(activator, ["-l", passed, "--fdname=profd", "-E", "PATH",
                                                 try TestExecutables.path(of: "profd"),
                                                 "--state-dir", root + "/state", "--socket", own])
        let deadline = Date().addingTimeInterval(10)
        while access(passed, F_OK) != 0 {
            guard Date() < deadline else { throw TestKitError("systemd-socket-activate did not create \(passed)") }
            usleep(20_000)
        }
        // The first connection starts profd (in place of the activator, same pid) with the socket as fd 3.
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["sleepy", "--requests", "3", "--profd-socket", passed])
        try client.waitUntilReady(timeoutMs: 20_000)
        let report = try client.reportDirectory(timeoutMs: 30_000)
        #expect(client.waitForExit().exitCode == 0)
        let directory = try #require(report, "the client got its report through the passed socket")
        #expect(directory.hasPrefix(root + "/state/sessions/"))
        #expect(access(own, F_OK) != 0, "profd did not bind a socket of its own")
        profd.signal(SIGTERM)
        #expect(profd.waitForExit().exitCode == 0)
        #expect(access(passed, F_OK) == 0, "a passed socket belongs to the service manager: profd never unlinks it")
    }

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("profd-sm-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The service manager's end of `sd_notify`: a bound datagram socket; each datagram is one notify
/// message of newline-separated `KEY=value` lines.
final class NotifySocket {
    let path: String
    private let fd: Int32

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("profd-notify-\(UUID().uuidString.prefix(8)).sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestKitError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestKitError("bind \(path): errno \(errno)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next message matching `predicate` within `timeoutMs`, skipping others; nil on timeout.
    func next(timeoutMs: Int32, where predicate: (String) -> Bool) throws -> String? {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        while true {
            let remaining = Int32(deadline.timeIntervalSinceNow * 1000)
            guard remaining > 0 else { return nil }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, remaining) > 0 else { continue }
            guard let message = receive() else { continue }
            if predicate(message) { return message }
        }
    }

    /// Discards the messages already queued.
    func drain() {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&descriptor, 1, 0) > 0, receive() != nil {}
    }

    private func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
