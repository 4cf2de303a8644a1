#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A test failure with a message that says what to do.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A real `profd` on its own socket and state directory in a fresh temporary directory: what the framework
/// integrations' end-to-end tests profile themselves through.
///
/// The binary is `$PROFD_BIN`, else this repository's `.build/debug/profd`. profd needs `perf_event_open`, so
/// the tests run as root (or with `CAP_PERFMON`). `stop()` sends SIGTERM and waits; releasing the object
/// kills a daemon still running and removes the directory.
public final class RunningProfd: @unchecked Sendable {
    public let directory: String
    public var stateDirectory: String { directory + "/state" }
    public var socketPath: String { directory + "/profd.sock" }
    public var logPath: String { directory + "/profd.log" }
    private let process = Process()

    /// The repository root: this file is `<root>/Sources/ProfdTestSupport/RunningProfd.swift`.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// `$PROFD_BIN`, else `<root>/.build/debug/profd`.
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["PROFD_BIN"], !path.isEmpty { return path }
        return repositoryRoot + "/.build/debug/profd"
    }

    /// Starts profd and waits (up to 15 s) for its socket.
    public init() throws {
        let binary = Self.binaryPath
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("no profd at \(binary): run `swift build` in \(Self.repositoryRoot), or set PROFD_BIN")
        }
        var template = Array("/tmp/profd-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp: errno \(errno)") }
        directory = String(cString: made)
        _ = FileManager.default.createFile(atPath: directory + "/profd.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/profd.log"))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--state-dir", directory + "/state", "--socket", directory + "/profd.sock"]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()

        let deadline = ContinuousClock.now + .seconds(15)
        while !socketIsUp {
            guard process.isRunning, ContinuousClock.now < deadline else {
                let why = process.isRunning ? "did not create \(socketPath) within 15 s" : "exited with status \(process.terminationStatus)"
                let output = log
                _ = stop()
                throw TestFailure("profd \(why) (it needs root or CAP_PERFMON for perf_event_open):\n\(output)")
            }
            usleep(20_000)
        }
    }

    private var socketIsUp: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// The daemon's log so far (its last 4 kB).
    public var log: String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(4096))
    }

    /// SIGTERM, then waits up to 20 s for the exit status; nil if it had to be killed.
    @discardableResult
    public func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(20)
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Polls `condition` every 20 ms until it holds; throws after `timeout`.
public func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
