#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// The built `profctl` binary talking to a real profd: status, attach sessions (start/stop) and their
/// authorization, and what it says when it cannot.
@Suite("profctl controls the running daemon")
struct ProfctlControlTests {
    struct Run {
        var code: Int32
        var stdout: String
    }

    /// Runs profctl (as `user` via setpriv when given) and returns its exit code and stdout.
    private func profctl(_ arguments: [String], asNobody: Bool = false) throws -> Run {
        let (path, argv) = try command(arguments, asNobody: asNobody)
        let child = try ChildProcess(path, argv)
        var lines: [String] = []
        while let line = try child.readLine(timeoutMs: 60_000) { lines.append(line) }
        return Run(code: child.waitForExit().exitCode, stdout: lines.joined(separator: "\n"))
    }

    /// Runs profctl and returns only its stderr (stdout discarded).
    private func profctlStderr(_ arguments: [String], asNobody: Bool = false) throws -> Run {
        let (path, argv) = try command(arguments, asNobody: asNobody)
        let child = try ChildProcess("/bin/sh", ["-c", #""$0" "$@" 2>&1 1>/dev/null"#, path] + argv)
        var lines: [String] = []
        while let line = try child.readLine(timeoutMs: 60_000) { lines.append(line) }
        return Run(code: child.waitForExit().exitCode, stdout: lines.joined(separator: "\n"))
    }

    private func command(_ arguments: [String], asNobody: Bool) throws -> (String, [String]) {
        guard asNobody else { return (try TestExecutables.path(of: "profctl"), arguments) }
        return ("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", try Self.nobodysProfctl()] + arguments)
    }

    /// A copy of profctl that user nobody can execute, whatever the build directory's permissions. Made
    /// once (a static let is initialized exactly once, however many tests ask at the same time); see
    /// `ExecutableCopy` for why a child process writes it.
    private static func nobodysProfctl() throws -> String { try nobodysCopy.get() }

    private static let nobodysCopy: Result<String, any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profctl-nobody-\(getpid())").path
        return try ExecutableCopy.make(of: try TestExecutables.path(of: "profctl"), in: directory, name: "profctl")
    }

    private func sessionDocument(_ daemon: DaemonHarness, _ id: String) throws -> JSONRenderer.Document {
        let bytes = try ReportStore(stateDirectory: daemon.stateDirectory).readFile(session: id, relativePath: "session.json")
        return try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(bytes))
    }

    @Test("status shows a client's session (pid, samples, spans); --json is the daemon's document")
    func statusWithClient() throws {
        let daemon = try DaemonHarness()
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["requests", "--seconds", "8", "--profd-socket", daemon.socketPath])
        try client.waitUntilReady(timeoutMs: 20_000)

        // The per-session rate is measured about once a second: wait for one that shows the work.
        var document: StatusDocument?
        var raw = ""
        let deadline = Date().addingTimeInterval(6)
        while Date() < deadline {
            let run = try profctl(["status", "--json", "--socket", daemon.socketPath])
            #expect(run.code == 0)
            raw = run.stdout
            document = try JSONDecoder().decode(StatusDocument.self, from: Data(raw.utf8))
            if let session = document?.sessions.first, session.samplesPerSecond > 0, session.spans > 0 { break }
            usleep(300_000)
        }
        let status = try #require(document)
        print("status document: \(raw)")
        #expect(status.version == 1)
        #expect(status.daemon.pid == daemon.process.pid)
        #expect(status.daemon.stateDirectory == daemon.stateDirectory)
        // profd's default --retention-max-bytes 1G.
        #expect(status.disk.retentionLimitBytes == 1 << 30 && raw.contains(#""retentionLimitBytes":1073741824"#))
        let session = try #require(status.sessions.first { $0.pid == client.pid }, "the client's session is listed")
        #expect(session.kind == "client")
        #expect(session.service == "profd-testload")
        #expect(session.samples > 0 && session.samplesPerSecond > 0 && session.spans > 0)

        let human = try profctl(["status", "--socket", daemon.socketPath])
        print(human.stdout)
        #expect(human.code == 0)
        #expect(human.stdout.contains("● profd \(status.daemon.version) - running, pid \(daemon.process.pid)"))
        #expect(human.stdout.contains("pid \(client.pid)") && human.stdout.contains("samples/s"))
        #expect(human.stdout.contains("(limit 1.0 GiB)"), "profd's default --retention-max-bytes")

        _ = try client.reportDirectory(timeoutMs: 60_000)
        #expect(client.waitForExit().exitCode == 0)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("attach: start --pid --duration --wait profiles a process without ProfClient; the whole-process report names its hot function")
    func attachWholeProcess() throws {
        let daemon = try DaemonHarness()
        let target = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "60"])
        try target.waitUntilReady()
        let start = try ChildProcess(TestExecutables.path(of: "profctl"),
                                     ["start", "--pid", "\(target.pid)", "--duration", "2s", "--wait", "--socket", daemon.socketPath])
        let id = try #require(try start.readLine(timeoutMs: 20_000), "the session id, printed at once")
        let directory = try #require(try start.readLine(timeoutMs: 60_000), "the report directory, once written")
        #expect(start.waitForExit().exitCode == 0)
        #expect(directory == daemon.stateDirectory + "/sessions/" + id)
        #expect(target.reapIfExited() == nil, "profiling did not disturb the target")

        let document = try sessionDocument(daemon, id)
        #expect(document.session.mode == "attach")
        #expect(document.session.pid == target.pid && document.session.uid == getuid())
        #expect(document.session.endReason == "duration-elapsed" && document.session.complete == true)
        #expect(document.session.service == "profd-testload")
        #expect(document.requests.count == 0 && (document.routes ?? []).isEmpty)
        #expect(document.samples.count > 200, "about 2 s at 1000 Hz, less on a busy machine: \(document.samples.count)")
        // A whole-process tree: no route frame (not even "(unattributed)") between the root and the stacks.
        #expect(document.tree.children.allSatisfy { $0.binary != ReportBuilder.routeBinary })
        let hot = try #require(document.functions.first { $0.function.contains("attachTargetHotSpin") }, "the hot function")
        #expect(Double(hot.totalSamples) > 0.8 * Double(document.samples.count), "\(hot.totalSamples) of \(document.samples.count)")
        let text = String(decoding: try ReportStore(stateDirectory: daemon.stateDirectory)
            .readFile(session: id, relativePath: "session.txt"), as: UTF8.self)
        print(text.split(separator: "\n").prefix(12).joined(separator: "\n"))
        #expect(text.contains("attached: the whole process, no requests") && text.contains("attachTargetHotSpin"))

        target.signal(SIGKILL)
        _ = target.waitForExit()
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("attach: start returns at once with a duration; status lists it; stop --pid ends it; a target that exits ends its session")
    func attachStartStatusStop() throws {
        let daemon = try DaemonHarness()
        let target = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "60"])
        try target.waitUntilReady()
        let started = try profctl(["start", "--pid", "\(target.pid)", "--duration", "60s", "--socket", daemon.socketPath])
        #expect(started.code == 0)
        let id = started.stdout
        #expect(!id.isEmpty && !id.contains("\n"), "only the session id on stdout: \(id)")

        usleep(300_000)
        let status = try JSONDecoder().decode(StatusDocument.self, from: Data(
            try profctl(["status", "--json", "--socket", daemon.socketPath]).stdout.utf8))
        let session = try #require(status.sessions.first { $0.id == id }, "the attach session outlives profctl start's connection")
        #expect(session.kind == "attach" && session.pid == target.pid && session.requesterUid == getuid())
        #expect(session.durationNs == 60_000_000_000)

        let stopped = try profctl(["stop", "--pid", "\(target.pid)", "--socket", daemon.socketPath])
        #expect(stopped.code == 0)
        #expect(stopped.stdout == daemon.stateDirectory + "/sessions/" + id)
        let document = try sessionDocument(daemon, id)
        #expect(document.session.endReason == "stopped" && document.session.complete == true)

        // Stopping it again, or a session that never was: not found.
        #expect(try profctl(["stop", id, "--socket", daemon.socketPath]).code == 3)
        #expect(try profctl(["stop", "--pid", "\(target.pid)", "--socket", daemon.socketPath]).code == 3)
        #expect(try profctl(["start", "--pid", "\(Int32.max)", "--duration", "1s", "--socket", daemon.socketPath]).code == 3)

        // The target exits mid-session: the session ends with it, and --wait still gets the report.
        let shortLived = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "1.5"])
        try shortLived.waitUntilReady()
        let waited = try profctl(["start", "--pid", "\(shortLived.pid)", "--duration", "60s", "--wait", "--socket", daemon.socketPath])
        #expect(waited.code == 0)
        let lines = waited.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        if let exitedId = lines.first {
            let exited = try sessionDocument(daemon, exitedId)
            #expect(exited.session.endReason == "target-exited" && exited.session.complete == false)
            #expect(exited.samples.count > 0)
        }
        _ = shortLived.waitForExit()

        target.signal(SIGKILL)
        _ = target.waitForExit()
        #expect(daemon.isRunning)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("attach without --duration: Ctrl-C stops the session and prints the report; a killed profctl ends it too")
    func attachUntilInterrupted() throws {
        let daemon = try DaemonHarness()
        let target = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "60"])
        try target.waitUntilReady()
        let start = try ChildProcess(TestExecutables.path(of: "profctl"), ["start", "--pid", "\(target.pid)", "--socket", daemon.socketPath])
        let id = try #require(try start.readLine(timeoutMs: 20_000))
        usleep(800_000)
        start.signal(SIGINT)
        let directory = try #require(try start.readLine(timeoutMs: 60_000), "Ctrl-C stops the session and waits for its report")
        #expect(start.waitForExit().exitCode == 0)
        #expect(directory == daemon.stateDirectory + "/sessions/" + id)
        let stopped = try sessionDocument(daemon, id)
        #expect(stopped.session.endReason == "stopped" && stopped.session.complete == true && stopped.samples.count > 0)

        let killed = try ChildProcess(TestExecutables.path(of: "profctl"), ["start", "--pid", "\(target.pid)", "--socket", daemon.socketPath])
        let second = try #require(try killed.readLine(timeoutMs: 20_000))
        usleep(300_000)
        killed.signal(SIGKILL)
        _ = killed.waitForExit()
        let deadline = Date().addingTimeInterval(30)
        while !ReportStore(stateDirectory: daemon.stateDirectory).sessionIds().contains(second), Date() < deadline { usleep(100_000) }
        let cut = try sessionDocument(daemon, second)
        #expect(cut.session.endReason == "client-disconnected" && cut.session.complete == false)

        target.signal(SIGKILL)
        _ = target.waitForExit()
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("authorization: nobody may not attach to root's process (exit 4), sees only a count of root's sessions, and profd keeps running")
    func attachAuthorization() throws {
        try #require(access("/usr/bin/setpriv", X_OK) == 0, "setpriv (util-linux) is needed")
        try #require(getuid() == 0, "the test runs as root to act as another user")
        let daemon = try DaemonHarness(arguments: ["--socket-mode", "666"])
        let target = try ChildProcess(TestExecutables.path(of: "profd-testload"), ["spin", "--seconds", "60"])
        try target.waitUntilReady()

        let refused = try profctlStderr(["start", "--pid", "\(target.pid)", "--duration", "2s", "--socket", daemon.socketPath],
                                        asNobody: true)
        print("refused: \(refused.stdout)")
        #expect(refused.code == 4)
        #expect(refused.stdout.contains("permission denied") && refused.stdout.contains("belongs to uid 0"))
        #expect(try profctl(["start", "--pid", "\(target.pid)", "--duration", "2s", "--socket", daemon.socketPath],
                            asNobody: true).stdout.isEmpty, "no session id on stdout")
        #expect(daemon.isRunning)

        // Root's own attach session: root stops it, nobody neither sees nor stops it.
        let started = try profctl(["start", "--pid", "\(target.pid)", "--duration", "60s", "--socket", daemon.socketPath])
        #expect(started.code == 0)
        let asNobody = try JSONDecoder().decode(StatusDocument.self, from: Data(
            try profctl(["status", "--json", "--socket", daemon.socketPath], asNobody: true).stdout.utf8))
        #expect(asNobody.sessions.isEmpty && asNobody.otherUsersSessions == 1)
        #expect(try profctl(["stop", started.stdout, "--socket", daemon.socketPath], asNobody: true).code == 3)
        #expect(try profctl(["stop", started.stdout, "--socket", daemon.socketPath]).code == 0)

        target.signal(SIGKILL)
        _ = target.waitForExit()
        #expect(daemon.isRunning)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a refused attach never reaches perf_event_open (strace on profd) and is logged; root's attach does reach it")
    func refusedAttachNeverOpensEvents() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "root and setpriv are needed")
        try #require(access("/usr/bin/strace", X_OK) == 0, "strace (Debian package strace) is needed")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-refusal-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let socket = root + "/profd.sock"
        // profd with its log in a file, so the test can read what it said.
        let profd = try ChildProcess("/bin/sh", ["-c", #"exec "$0" "$@" 2>"$PROFD_LOG""#, try TestExecutables.path(of: "profd"),
                                                 "--state-dir", root + "/state", "--socket", socket, "--socket-mode", "666",
                                                 "--log-target", "stderr"],
                                     environment: ["PROFD_LOG=\(root)/profd.log"])
        let deadline = Date().addingTimeInterval(10)
        while access(socket, F_OK) != 0 {
            guard Date() < deadline, profd.reapIfExited() == nil else { throw TestKitError("profd did not start") }
            usleep(20_000)
        }
        let target = try ChildProcess("/bin/sleep", ["60"])
        // Every perf_event_open profd makes from now on, with its arguments, in a file.
        let trace = root + "/perf_event_open.trace"
        let strace = try ChildProcess("/usr/bin/strace", ["-f", "-qq", "-e", "trace=perf_event_open", "-o", trace, "-p", "\(profd.pid)"])
        let traced = Date().addingTimeInterval(10)
        while !(TestFiles.text("/proc/\(profd.pid)/status") ?? "").contains("TracerPid:\t\(strace.pid)") {
            guard Date() < traced else { throw TestKitError("strace did not attach") }
            usleep(20_000)
        }

        let refused = try profctl(["start", "--pid", "\(target.pid)", "--duration", "1s", "--socket", socket], asNobody: true)
        #expect(refused.code == 4)
        usleep(300_000)
        let afterRefusal = TestFiles.text(trace) ?? ""
        #expect(!afterRefusal.contains("perf_event_open("), "no perf_event_open at all for the refused request:\n\(afterRefusal)")
        let log = TestFiles.text(root + "/profd.log") ?? ""
        let refusal = log.split(separator: "\n").first { $0.contains("attach refused") }
        #expect(refusal?.contains("profd.client_uid=65534") == true, "the refusal is logged with who asked: \(log.suffix(2000))")

        // The control: root may attach, and then the trace does show perf_event_open on the target.
        let allowed = try profctl(["start", "--pid", "\(target.pid)", "--duration", "1s", "--wait", "--socket", socket])
        #expect(allowed.code == 0)
        usleep(200_000)
        let afterAllowed = TestFiles.text(trace) ?? ""
        #expect(afterAllowed.contains("perf_event_open("), "the trace sees profd's perf_event_open calls")
        print("refused attach: 0 perf_event_open; allowed attach: \(afterAllowed.components(separatedBy: "perf_event_open(").count - 1)")

        strace.signal(SIGINT)
        _ = strace.waitForExit()
        target.signal(SIGKILL)
        _ = target.waitForExit()
        profd.signal(SIGTERM)
        #expect(profd.waitForExit().exitCode == 0)
    }

    @Test("a socket nobody may not open: exit 4 and the group hint")
    func socketPermission() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0)
        let daemon = try DaemonHarness()  // profd's default mode, 0660
        let run = try profctlStderr(["status", "--socket", daemon.socketPath], asNobody: true)
        #expect(run.code == 4)
        #expect(run.stdout.contains("usermod -aG profd") && run.stdout.contains("SupplementaryGroups=profd"))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("no daemon: status exits 1 with the hint on stderr, nothing on stdout")
    func noDaemon() throws {
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("no-profd-\(UUID().uuidString.prefix(8)).sock").path
        let messages = try profctlStderr(["status", "--socket", socket])
        #expect(messages.code == 1)
        #expect(messages.stdout.contains("profd is not running") && messages.stdout.contains("systemctl start profd.socket"))
        #expect(try profctl(["status", "--socket", socket]).stdout.isEmpty)
        // A socket file nobody listens on (a dead daemon's) is ECONNREFUSED: the same answer.
        let fd = socket_unix_bound(socket)
        defer { close(fd); unlink(socket) }
        #expect(try profctlStderr(["status", "--socket", socket]).code == 1)
    }

    @Test("--unit: a unit with no main process (or no systemd to ask) is an error that suggests --pid")
    func unknownUnit() throws {
        let daemon = try DaemonHarness()
        let run = try profctlStderr(["start", "--unit", "profd-no-such-unit.service", "--duration", "1s", "--socket", daemon.socketPath])
        print("--unit: \(run.stdout)")
        // 3 under systemd (MainPID=0); 1 where systemctl cannot ask systemd (this container).
        #expect(run.code == 3 || run.code == 1)
        #expect(run.stdout.contains("profd-no-such-unit.service") && run.stdout.contains("--pid N"))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("usage errors exit 2", arguments: [
        ["start"], ["start", "--pid", "1", "--unit", "x.service"], ["start", "--pid", "1", "--duration", "soon"],
        ["start", "--pid", "1", "--frequency", "0"], ["start", "--pid", "1", "--duration", "25h"],
        ["stop"], ["stop", "some-id", "--pid", "4"],
    ])
    func usage(arguments: [String]) throws {
        #expect(try profctl(arguments + ["--socket", "/nonexistent/profd.sock"]).code == 2)
    }
}

/// A Unix socket bound at `path` that never listens: connecting to it is ECONNREFUSED.
private func socket_unix_bound(_ path: String) -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
        for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
    }
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    return fd
}
