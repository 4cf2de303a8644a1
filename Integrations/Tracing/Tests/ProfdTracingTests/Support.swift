#if canImport(Glibc)
import Glibc
#endif
import Foundation

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real profd daemon on a private socket and state directory, under a temporary directory.
///
/// The binary is `$PROFD_BIN`, else `<repo root>/.build/debug/profd`. Stopped with SIGTERM by `stop()`;
/// killed and its directory removed when released.
final class ProfdDaemon {
    let directory: URL
    let stateDirectory: String
    let socketPath: String
    let logPath: String
    private let process = Process()

    /// The repository root: this file is `<root>/Integrations/Tracing/Tests/ProfdTracingTests/Support.swift`.
    static let repositoryRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url
    }()

    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["PROFD_BIN"], !path.isEmpty { return path }
        return repositoryRoot.appendingPathComponent(".build/debug/profd").path
    }

    init() throws {
        let binary = Self.binaryPath
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("""
                profd not found at \(binary): build it first (`swift build` in \(Self.repositoryRoot.path)) \
                or set PROFD_BIN to a built profd
                """)
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("profd-tracing-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stateDirectory = directory.appendingPathComponent("state").path
        socketPath = directory.appendingPathComponent("profd.sock").path
        logPath = directory.appendingPathComponent("profd.log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)

        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--state-dir", stateDirectory, "--socket", socketPath, "--log-level", "debug"]
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()

        let deadline = Date().addingTimeInterval(10)
        while access(socketPath, F_OK) != 0 {
            guard process.isRunning else { throw TestFailure("profd exited at startup:\n\(self.log)") }
            guard Date() < deadline else { throw TestFailure("profd did not create \(socketPath) in 10 s:\n\(self.log)") }
            usleep(20_000)
        }
    }

    /// The daemon's log so far (its last 4 kB).
    var log: String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(4096))
    }

    /// SIGTERM, then waits (at most 20 s) for the exit status; nil if it had to be killed.
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
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
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The fields of a route report (`routes/*.json`) that the tests read.
struct RouteReport: Decodable {
    struct Requests: Decodable {
        var count: Int
        var unfinished: Int
        var statusCounts: [String: Int]
    }
    struct Samples: Decodable {
        var count: Int
    }
    struct Function: Decodable {
        var function: String
        var totalSamples: Int
    }
    var kind: String
    var route: String
    var requests: Requests
    var samples: Samples
    var functions: [Function]

    /// Samples of the stacks through a function whose name ends with `suffix`.
    func samples(through suffix: String) -> Int {
        functions.filter { $0.function.hasSuffix(suffix) }.map(\.totalSamples).max() ?? 0
    }

    /// Every route report of a session, by route.
    static func all(in reportDirectory: String) throws -> [String: RouteReport] {
        let folder = URL(fileURLWithPath: reportDirectory).appendingPathComponent("routes")
        var reports: [String: RouteReport] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".json") {
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            let report = try JSONDecoder().decode(RouteReport.self, from: data)
            reports[report.route] = report
        }
        return reports
    }
}

/// Burns about `milliseconds` of CPU in this function's own frame.
@inline(never)
func burnCPUForUser(milliseconds: Int) -> UInt64 {
    burn(milliseconds: milliseconds, seed: 0x9E37_79B9_7F4A_7C15)
}

/// Burns about `milliseconds` of CPU, for the order items route.
@inline(never)
func burnCPUForOrderItems(milliseconds: Int) -> UInt64 {
    burn(milliseconds: milliseconds, seed: 0xC2B2_AE3D_27D4_EB4F)
}

@inline(__always)
private func burn(milliseconds: Int, seed: UInt64) -> UInt64 {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
    var state = seed
    repeat {
        for _ in 0..<2_000 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
        }
    } while ContinuousClock.now < deadline
    return state
}
