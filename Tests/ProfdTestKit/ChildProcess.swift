#if canImport(Glibc)
import Glibc
#endif

/// Test-helper failures: spawning, reading or locating things.
public struct TestKitError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Locates executables that `swift build` / `swift test` put next to the running test binary.
public enum TestExecutables {
    /// The build products directory: the directory of `/proc/self/exe` (the test bundle runs from there).
    public static var binDirectory: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = count > 0
            ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            : CommandLine.arguments[0]
        guard let slash = exe.lastIndex(of: "/") else { return "." }
        return String(exe[..<slash])
    }

    /// Absolute path of the built executable `name`; throws when it is missing or not executable.
    public static func path(of name: String) throws -> String {
        let path = binDirectory + "/" + name
        guard access(path, X_OK) == 0 else {
            throw TestKitError("\(name) not found in \(binDirectory); build it first (swift build)")
        }
        return path
    }
}

/// How a reaped child ended, with the CPU time it used (from `wait4(2)`'s rusage).
public struct ChildExit: Sendable {
    /// The raw wait status.
    public var status: Int32
    public var userNs: UInt64
    public var systemNs: UInt64
    public var cpuNs: UInt64 { userNs + systemNs }
    public var exitedNormally: Bool { status & 0x7f == 0 }
    public var exitCode: Int32 { (status >> 8) & 0xff }
}

/// A spawned child process with its stdout on a pipe. Killed and reaped on deinit if still running.
/// Not thread-safe.
public final class ChildProcess {
    public let pid: Int32
    private var stdoutFD: Int32
    private var pending: [UInt8] = []
    private var exit: ChildExit?

    /// Spawns `path` with `arguments` and a minimal environment (PATH, plus `environment`'s
    /// `NAME=value` entries). Wraps `posix_spawn(3)`.
    public init(_ path: String, _ arguments: [String], environment: [String] = []) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TestKitError("pipe failed: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        // The test runner blocks signals on its threads; give the child a clean mask and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        var defaultSet = sigset_t()
        sigemptyset(&defaultSet)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGUSR1, SIGUSR2] { sigaddset(&defaultSet, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        posix_spawnattr_setsigdefault(&attributes, &defaultSet)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = (["PATH=/usr/bin:/bin"] + environment).map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, envp)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw TestKitError("posix_spawn \(path) failed: errno \(result)")
        }
        pid = child
        stdoutFD = fds[0]
    }

    deinit {
        if exit == nil {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
        if stdoutFD >= 0 { close(stdoutFD) }
    }

    /// The next stdout line without its newline; nil at end of file. Throws after `timeoutMs` without a line.
    public func readLine(timeoutMs: Int32 = 10_000) throws -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            var descriptor = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, timeoutMs)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw TestKitError("no line from child \(pid) within \(timeoutMs) ms") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                guard !pending.isEmpty else { return nil }
                defer { pending.removeAll() }
                return String(decoding: pending, as: UTF8.self)
            }
            pending.append(contentsOf: chunk[0..<count])
        }
    }

    /// Reads the `ready <pid>` line the fixtures print at startup; throws if it is missing or names another pid.
    public func waitUntilReady(timeoutMs: Int32 = 10_000) throws {
        let line = try readLine(timeoutMs: timeoutMs)
        guard line == "ready \(pid)" else { throw TestKitError("expected 'ready \(pid)', got \(line ?? "EOF")") }
    }

    /// Reaps the child if it has exited; nil while it runs. Wraps `wait4(2)` with `WNOHANG`.
    public func reapIfExited() -> ChildExit? {
        if let exit { return exit }
        return reap(options: WNOHANG)
    }

    /// Blocks until the child exits and reaps it. Wraps `wait4(2)`.
    @discardableResult
    public func waitForExit() -> ChildExit {
        if let exit { return exit }
        while true {
            if let result = reap(options: 0) { return result }
        }
    }

    /// Sends `signal` unless the child has already been reaped.
    public func signal(_ signal: Int32) {
        if exit == nil { kill(pid, signal) }
    }

    private func reap(options: Int32) -> ChildExit? {
        var status: Int32 = 0
        var usage = rusage()
        let result = wait4(pid, &status, options, &usage)
        guard result == pid else { return nil }
        let done = ChildExit(
            status: status,
            userNs: UInt64(usage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec) * 1000,
            systemNs: UInt64(usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_stime.tv_usec) * 1000)
        exit = done
        return done
    }
}

/// CPU facts of a running process from /proc.
public enum ProcessCPU {
    /// Sum of the on-CPU nanoseconds of the process's current threads (`/proc/<pid>/task/*/schedstat`).
    public static func threadsCPUNs(pid: Int32) -> UInt64 {
        guard let dir = opendir("/proc/\(pid)/task") else { return 0 }
        defer { closedir(dir) }
        var total: UInt64 = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let tid = Int32(name),
                  let text = TestFiles.text("/proc/\(pid)/task/\(tid)/schedstat"),
                  let first = text.split(separator: " ").first, let ns = UInt64(first)
            else { continue }
            total += ns
        }
        return total
    }

    /// The thread ids in `/proc/<pid>/task`.
    public static func threads(pid: Int32) -> Set<Int32> {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var tids: Set<Int32> = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let tid = Int32(name) { tids.insert(tid) }
        }
        return tids
    }
}

/// Whole-file reads for tests.
public enum TestFiles {
    /// The whole content of a file as bytes, or nil when it cannot be read.
    public static func bytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// The whole content of a text file, or nil when it cannot be read.
    public static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
