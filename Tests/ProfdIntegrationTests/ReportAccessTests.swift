#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdProtocol
import ProfdTestKit
import Testing

/// Reports belong to their client's uid: two users profile themselves through one root profd, then read
/// through it with profctl as each other, as root, as a member of the admin group and as a non-member.
/// Users are made up uids (no passwd entry is needed), run with `setpriv`.
@Suite("report ownership through the daemon", .serialized)
struct ReportAccessTests {
    static let userA: UInt32 = 61_001
    static let userB: UInt32 = 61_002
    static let outsider: UInt32 = 61_003
    static let adminGroup: UInt32 = 61_100

    struct Run {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `program` as `uid` (its own gid, and `groups` as supplementary groups), or as root when nil.
    static func run(_ program: String, _ arguments: [String], as uid: UInt32?, groups: [UInt32] = []) throws -> Run {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("report-access-\(UUID().uuidString.prefix(8)).err").path
        defer { unlink(errors) }
        var argv = [program] + arguments
        if let uid {
            let groupArgument = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
            argv = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", groupArgument] + argv
        }
        let child = try ChildProcess("/bin/sh", ["-c", #"exec "$0" "$@" 2>"$ERRORS""#] + argv, environment: ["ERRORS=\(errors)"])
        var lines: [String] = []
        while let line = try child.readLine(timeoutMs: 60_000) { lines.append(line) }
        let code = child.waitForExit().exitCode
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        return Run(code: code, stdout: lines.joined(separator: "\n"), stderr: stderr)
    }

    /// Copies of the built binaries every made-up uid may execute (the build directory may not be).
    static func executable(_ name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-access-bin-\(getpid())").path
        return try ExecutableCopy.make(of: try TestExecutables.path(of: name), in: directory, name: name)
    }

    /// A client session of `uid` (profd-testload profiling itself) to its end; returns the session id.
    static func clientSession(of uid: UInt32, _ daemon: DaemonHarness) throws -> String {
        let run = try run(try executable("profd-testload"), ["split", "--seconds", "1", "--profd-socket", daemon.socketPath], as: uid)
        let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("report ") }, "\(run.stdout) \(run.stderr)")
        return String(line.split(separator: "/").last!)
    }

    /// profctl with the daemon's `--socket` (and `--state-dir`, for the commands that read reports).
    static func profctl(_ arguments: [String], _ daemon: DaemonHarness, as uid: UInt32?, groups: [UInt32] = []) throws -> Run {
        let stateDir = arguments.first == "start" ? [] : ["--state-dir", daemon.stateDirectory]
        return try run(try executable("profctl"), stateDir + arguments + ["--socket", daemon.socketPath], as: uid, groups: groups)
    }

    /// One `openRequest` over a raw socket as `uid` (a Python client under setpriv): "fileReply fd" when the
    /// answer is a fileReply carrying a descriptor, "error CODE" for an error reply.
    static func rawOpen(_ path: String, _ daemon: DaemonHarness, as uid: UInt32) throws -> String {
        let script = #"""
        import array, socket, struct, sys
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        path = sys.argv[2].encode()
        payload = struct.pack("<H", len(path)) + path
        s.sendall(bytes([0x50, 0x46, 1, 0x14]) + struct.pack("<I", len(payload)) + payload)
        fds = array.array("i")
        data, ancillary, _, _ = s.recvmsg(64, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, item in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(item[:len(item) - len(item) % fds.itemsize])
        if data[3] == 0x91 and len(fds) == 1: print("fileReply fd")
        elif data[3] == 0x8F: print("error %d" % struct.unpack("<H", data[8:10])[0])
        else: print("type %d with %d fds" % (data[3], len(fds)))
        """#
        return try run("/usr/bin/python3", ["-c", script, daemon.socketPath, path], as: uid).stdout
    }

    static func listedIds(_ run: Run) throws -> Set<String> {
        guard run.code == 0 else { return [] }
        let array = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], "\(run.stdout)")
        return Set(array.compactMap { $0["id"] as? String })
    }

    @Test("list and dump through profd: each uid sees its own sessions; root and the admin group see all; nothing leaks; files 0640, directories 0750, state 0700")
    func ownership() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "root and setpriv are needed")
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("report-access-\(UUID().uuidString.prefix(8)).log").path
        defer { unlink(logFile) }
        let daemon = try DaemonHarness(arguments: ["--socket-mode", "666", "--admin-group", String(Self.adminGroup)], logFile: logFile)
        let sessionA = try Self.clientSession(of: Self.userA, daemon)
        let sessionB = try Self.clientSession(of: Self.userB, daemon)

        // The state directory is profd's alone: every read below by a non-root uid went through the daemon.
        var info = stat()
        #expect(stat(daemon.stateDirectory, &info) == 0 && info.st_mode & 0o777 == 0o700)

        let listA = try Self.profctl(["list", "--json"], daemon, as: Self.userA)
        #expect(listA.code == 0, "\(listA.stderr)")
        #expect(try Self.listedIds(listA) == [sessionA])
        let listB = try Self.profctl(["list", "--json"], daemon, as: Self.userB)
        #expect(try Self.listedIds(listB) == [sessionB])

        // A's own dump works; B's is "not found" (exit 3) and prints nothing of B's report.
        let ownDump = try Self.profctl(["dump", "--session", sessionA], daemon, as: Self.userA)
        #expect(ownDump.code == 0 && ownDump.stdout.contains("/split"), "\(ownDump.stderr)")
        for arguments in [["dump", "--session", sessionB], ["dump", "--session", sessionB, "--format", "json"],
                          ["dump", "--session", sessionB, "--from-capture"]] {
            let denied = try Self.profctl(arguments, daemon, as: Self.userA)
            #expect(denied.code == 3, "\(arguments): \(denied.stderr)")
            #expect(denied.stdout.isEmpty, "\(arguments) printed: \(denied.stdout.prefix(200))")
            #expect(!denied.stderr.contains("/split"))
        }
        // diff of B's session as A is refused the same way.
        let diff = try Self.profctl(["diff", sessionA, sessionB], daemon, as: Self.userA)
        #expect(diff.code == 3 && diff.stdout.isEmpty, "\(diff.stderr)")

        // profctl never asks for B's files (B is not in A's list); a raw openRequest as A gets the same
        // answer as a missing session, and is logged with A's uid.
        #expect(try Self.rawOpen("sessions/\(sessionB)/session.json", daemon, as: Self.userA) == "error 9")
        #expect(try Self.rawOpen("sessions/\(sessionB)x/session.json", daemon, as: Self.userA) == "error 9")
        #expect(try Self.rawOpen("sessions/\(sessionA)/session.json", daemon, as: Self.userA) == "fileReply fd")
        let refusals = (TestFiles.text(logFile) ?? "").split(separator: "\n").filter { $0.contains("report read refused") }
        #expect(refusals.contains { $0.contains("profd.client_uid=\(Self.userA)") && $0.contains("profd.path=sessions/\(sessionB)/") }, "\(refusals)")

        // Root reads the directory directly; the admin group through profd; a non-member sees nothing.
        #expect(try Self.listedIds(Self.profctl(["list", "--json"], daemon, as: nil)) == [sessionA, sessionB])
        let admin = try Self.profctl(["list", "--json"], daemon, as: Self.outsider, groups: [Self.adminGroup])
        #expect(try Self.listedIds(admin) == [sessionA, sessionB], "\(admin.stderr)")
        // More supplementary groups than profd's first SO_PEERGROUPS buffer (32): the ERANGE retry finds the last.
        let manyGroups = Array(62_000..<62_040).map(UInt32.init) + [Self.adminGroup]
        let adminOfMany = try Self.profctl(["list", "--json"], daemon, as: Self.outsider, groups: manyGroups)
        #expect(try Self.listedIds(adminOfMany) == [sessionA, sessionB], "\(adminOfMany.stderr)")
        let adminDump = try Self.profctl(["dump", "--session", sessionB], daemon, as: Self.outsider, groups: [Self.adminGroup])
        #expect(adminDump.code == 0 && adminDump.stdout.contains("/split"), "\(adminDump.stderr)")
        let outsider = try Self.profctl(["list", "--json"], daemon, as: Self.outsider, groups: [Self.adminGroup + 1])
        let outsiderIds = try Self.listedIds(outsider)
        #expect(outsider.code == 3 || outsiderIds.isEmpty, "\(outsider.stdout) \(outsider.stderr)")
        #expect(!outsider.stdout.contains(sessionA) && !outsider.stdout.contains(sessionB))

        // Every file profd wrote is 0640 or stricter, every directory 0750 or stricter.
        let enumerator = try #require(FileManager.default.enumerator(atPath: daemon.stateDirectory))
        var checked = 0
        for case let relative as String in enumerator {
            var entry = stat()
            #expect(lstat(daemon.stateDirectory + "/" + relative, &entry) == 0)
            let isDirectory = (entry.st_mode & S_IFMT) == S_IFDIR
            let allowed: mode_t = isDirectory ? 0o750 : 0o640
            #expect(entry.st_mode & 0o7777 & ~allowed == 0, "\(relative): mode \(String(entry.st_mode & 0o7777, radix: 8))")
            checked += 1
        }
        #expect(checked > 8)

        // After a restart the owners come from the sessions' session.json: still A's alone.
        #expect(daemon.stop().exitCode == 0)
        let restarted = try DaemonHarness(reusing: daemon, arguments: ["--socket-mode", "666"])
        #expect(try Self.listedIds(Self.profctl(["list", "--json"], restarted, as: Self.userA)) == [sessionA])
        let deniedAfterRestart = try Self.profctl(["dump", "--session", sessionB], restarted, as: Self.userA)
        #expect(deniedAfterRestart.code == 3 && deniedAfterRestart.stdout.isEmpty)
    }

    @Test("openRequest refuses .., absolute paths, hidden names and symlinks planted inside a session (even for root)")
    func traversal() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "root and setpriv are needed")
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("report-access-\(UUID().uuidString.prefix(8)).log").path
        defer { unlink(logFile) }
        let daemon = try DaemonHarness(arguments: ["--socket-mode", "666"], logFile: logFile)
        let session = try Self.clientSession(of: Self.userA, daemon)
        let directory = daemon.stateDirectory + "/sessions/" + session
        #expect(symlink("/etc/passwd", directory + "/planted.json") == 0)
        #expect(symlink("/etc", directory + "/planted-dir") == 0)
        let connection = try RawConnection(path: daemon.socketPath)
        func answer(_ message: ProfdMessage) throws -> RawConnection.Reply {
            connection.send(message)
            return try connection.receive()
        }
        guard case .message(.fileReply(let reply)) = try answer(.openRequest(OpenRequest(path: "sessions/\(session)/session.json"))) else {
            Issue.record("a valid open was not answered with fileReply")
            return
        }
        #expect(reply.byteCount > 100)
        for path in ["sessions/\(session)/../\(session)/session.json", "/etc/passwd", "sessions/../../../../etc/passwd",
                     "sessions/\(session)/planted.json", "sessions/\(session)/planted-dir/passwd", "sessions/\(session)/./session.json",
                     "sessions/\(session)//session.json", "sessions/.tmp-\(session)/session.json", "live/../sessions/\(session)/session.json",
                     "etc/\(session)/passwd", "sessions/\(session)", "sessions/\(session)/routes"] {
            let reply = try answer(.openRequest(OpenRequest(path: path)))
            guard case .message(.error(let error)) = reply else {
                Issue.record("\(path) was answered with \(reply)")
                continue
            }
            #expect(error.code == .notFound, "\(path): \(error)")
        }
        for directoryName in ["..", "/", "sessions/..", "live/..", "sessions/x/y"] {
            guard case .message(.error) = try answer(.listRequest(ListRequest(directory: directoryName))) else {
                Issue.record("listRequest \(directoryName) was not refused")
                continue
            }
        }
        #expect(daemon.isRunning)
        // Every refusal is logged with who asked (here root, uid 0) and what.
        let refusals = (TestFiles.text(logFile) ?? "").split(separator: "\n").filter { $0.contains("report read refused") }
        #expect(refusals.count == 17, "\(refusals.count) refusals logged")
        #expect(refusals.contains { $0.contains("profd.client_uid=0") && $0.contains("planted.json is a symlink (not followed)") })
    }

    @Test("attach: an admin-group member may attach to another uid's process; a non-member may not (exit 4)")
    func adminAttach() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "root and setpriv are needed")
        let daemon = try DaemonHarness(arguments: ["--socket-mode", "666", "--admin-group", String(Self.adminGroup)])
        let target = try ChildProcess("/usr/bin/setpriv", ["--reuid=\(Self.userA)", "--regid=\(Self.userA)", "--clear-groups",
                                                           try Self.executable("profd-testload"), "spin", "--seconds", "30"])
        try target.waitUntilReady(timeoutMs: 20_000)
        defer { target.signal(SIGKILL); _ = target.waitForExit() }
        let refused = try Self.profctl(["start", "--pid", String(target.pid), "--duration", "1s"], daemon,
                                       as: Self.outsider, groups: [Self.adminGroup + 1])
        #expect(refused.code == 4, "\(refused.stdout) \(refused.stderr)")
        let allowed = try Self.profctl(["start", "--pid", String(target.pid), "--duration", "1s", "--wait"], daemon,
                                       as: Self.outsider, groups: [Self.adminGroup])
        #expect(allowed.code == 0, "\(allowed.stdout) \(allowed.stderr)")
        // The session belongs to the target's uid: A lists it, the admin too.
        let listA = try Self.profctl(["list", "--json"], daemon, as: Self.userA)
        #expect(try Self.listedIds(listA).count == 1, "\(listA.stderr)")
    }

    @Test("follow and top through profd: each uid sees only its own running sessions")
    func liveThroughDaemon() throws {
        try #require(getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "root and setpriv are needed")
        let daemon = try DaemonHarness(arguments: ["--socket-mode", "666"])
        // ~6 s of /sleepy requests (210 ms each, all kept as slow) per user.
        let clients = try [Self.userA, Self.userB].map { uid in
            try ChildProcess("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", try Self.executable("profd-testload"),
                                                  "sleepy", "--requests", "30", "--profd-socket", daemon.socketPath],
                             environment: ["PROFD_TESTLOAD_SLOW_MS=100"])
        }
        defer { for client in clients { client.signal(SIGKILL); _ = client.waitForExit() } }
        for client in clients { try client.waitUntilReady(timeoutMs: 20_000) }
        usleep(1_500_000)
        let (pidA, pidB) = (clients[0].pid, clients[1].pid)

        let follow = try Self.profctl(["follow", "--once", "-n", "50"], daemon, as: Self.userA)
        #expect(follow.code == 0, "\(follow.stderr)")
        let headers = follow.stdout.split(separator: "\n").filter { $0.hasPrefix("── ") }
        #expect(!headers.isEmpty, "A follows its own kept requests: \(follow.stdout.prefix(500)) \(follow.stderr)")
        #expect(headers.allSatisfy { $0.contains("-\(pidA)-") && !$0.contains("-\(pidB)-") }, "\(headers)")

        let top = try Self.profctl(["top", "--once"], daemon, as: Self.userB)
        #expect(top.code == 0, "\(top.stderr)")
        #expect(top.stdout.contains("pid \(pidB)") && !top.stdout.contains("pid \(pidA)"), "\(top.stdout)")
        #expect(top.stdout.contains("1 running session"), "\(top.stdout)")
    }
}
