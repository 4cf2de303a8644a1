import Foundation
import ProfClient
import ProfdVapor
import Synchronization
import Testing
import Vapor

// End to end: a real profd daemon samples this test process (perf_event_open, so run as root), a real Vapor
// server on 127.0.0.1 answers real HTTP requests through ProfdMiddleware, and the route reports profd writes
// are read back from disk.

// MARK: Handlers' CPU work, in named functions that must show up in their route's call tree

/// Spins for `milliseconds` of this thread's CPU time (not wall time, so that a loaded machine still gets the
/// same number of samples) doing arithmetic; never inlined, so it is a frame of its own.
@inline(never)
func spin(milliseconds: Int, seed: Int) -> Int {
    func threadCPUNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
    let deadline = threadCPUNanoseconds() + milliseconds * 1_000_000
    var x = UInt64(truncatingIfNeeded: seed) | 1
    while threadCPUNanoseconds() < deadline {
        for _ in 0..<2_000 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
    }
    return Int(truncatingIfNeeded: x >> 33)
}

@inline(never)
func loadUser(id: Int) -> Int { spin(milliseconds: 5, seed: id) }

@inline(never)
func listOrderItems(orderId: Int) -> Int { spin(milliseconds: 5, seed: orderId &* 31) }

// MARK: The parts of a route report the test reads (docs/report-schema.json)

struct RouteReport: Decodable {
    struct Requests: Decodable {
        var count: Int
        var unfinished: Int
        var statusCounts: [String: Int]
    }
    struct Function: Decodable {
        var function: String
        var totalSamples: Int
    }
    var kind: String
    var route: String?
    var requests: Requests
    var functions: [Function]

    func samples(inFunctionContaining name: String) -> Int {
        functions.filter { $0.function.contains(name) }.map(\.totalSamples).max() ?? 0
    }
}

// MARK: A real profd daemon

/// `profd` started on a socket in a fresh temporary directory; `stop()` sends SIGTERM and removes the directory.
final class Daemon {
    let directory: URL
    let socketPath: String
    let process: Process
    let logPath: URL

    /// `$PROFD_BIN`, else `<repo root>/.build/debug/profd` (this file is `<root>/Integrations/Vapor/profd-vapor/Tests/ProfdVaporTests/…`).
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PROFD_BIN"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<6 { root.deleteLastPathComponent() }
        return root.appendingPathComponent(".build/debug/profd")
    }

    init() throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestFailure("profd binary not found at \(binary.path): build it with `swift build` at the repository root, or set PROFD_BIN")
        }
        directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("profd-vapor-\(UInt32.random(in: .min ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("profd.sock").path
        logPath = directory.appendingPathComponent("profd.log")
        _ = FileManager.default.createFile(atPath: logPath.path, contents: nil)
        let log = try FileHandle(forWritingTo: logPath)
        process = Process()
        process.executableURL = binary
        process.arguments = ["--state-dir", directory.appendingPathComponent("state").path, "--socket", socketPath]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()

        let deadline = ContinuousClock.now + .seconds(15)
        while !FileManager.default.fileExists(atPath: socketPath) {
            guard process.isRunning else {
                let status = process.terminationStatus
                let printed = output()
                stop()
                throw TestFailure("profd exited with status \(status) before creating its socket:\n\(printed)")
            }
            guard ContinuousClock.now < deadline else {
                let printed = output()
                stop()
                throw TestFailure("profd did not create \(socketPath) within 15 s:\n\(printed)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// What profd printed so far.
    func output() -> String {
        (try? String(contentsOf: logPath, encoding: .utf8)) ?? ""
    }

    /// SIGTERM, wait up to 10 s (then SIGKILL), and remove the temporary directory.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// What `ProfdLifecycle` handed to `onStop`: nil until it was called.
final class StopResultBox: Sendable {
    let value = Mutex<ProfClient.StopResult??>(nil)
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: The test

@Suite("ProfdVapor against a real profd and a real Vapor server")
struct ProfdVaporTests {
    @Test func routeReportsAreNamedAfterPatternsWithCountsStatusesAndHandlerSamples() async throws {
        let daemon = try Daemon()
        defer { daemon.stop() }

        var configuration = ProfClient.Configuration(service: "profd-vapor-test")
        configuration.socketPath = daemon.socketPath
        configuration.formats = [.json, .text]
        let profiler = ProfClient(configuration: configuration)
        defer { profiler.shutdown() }
        let stopResult = StopResultBox()

        let app = try await Application.make(.testing)
        app.logger.logLevel = .error  // Vapor logs every request at info, and every Abort at warning
        app.useProfd(profiler) { result in stopResult.value.withLock { $0 = .some(result) } }
        app.get("users", ":id") { request async throws -> String in
            let id = try request.parameters.require("id", as: Int.self)
            return "user \(id): \(loadUser(id: id))"
        }
        app.get("orders", ":id", "items") { request async throws -> String in
            let id = try request.parameters.require("id", as: Int.self)
            return "order \(id): \(listOrderItems(orderId: id))"
        }
        app.get("missing", ":id") { _ async throws -> String in
            throw Abort(.notFound)
        }

        let sent: [(path: String, status: UInt)]
        do {
            try await app.asyncBoot()  // ProfdLifecycle starts the session
            try await app.server.start(address: .hostname("127.0.0.1", port: 0))
            let port = try #require(app.http.server.shared.localAddress?.port, "the server has no bound port")

            sent = (1...20).map { ("/users/\($0)", 200) }
                + (1...20).map { ("/orders/\(100 + $0)/items", 200) }
                + (1...4).map { ("/missing/\($0)", 404) }
                + [("/no/such/page", 404), ("/users/1/extra", 404)]
            for (path, expected) in sent {
                let response = try await app.client.get(URI(string: "http://127.0.0.1:\(port)\(path)"))
                #expect(response.status.code == expected, "GET \(path)")
            }
            await app.server.shutdown()  // no request may still run when the session stops
        } catch {
            await app.server.shutdown()
            try await app.asyncShutdown()
            throw error
        }
        try await app.asyncShutdown()  // ProfdLifecycle stops the session: profd writes the reports

        let stopped = try #require(stopResult.value.withLock { $0 }, "ProfdLifecycle did not stop the session")
        let result = try #require(stopped, "stop() returned nil; profd said:\n\(daemon.output())")

        let routesDirectory = URL(fileURLWithPath: result.reportDirectory).appendingPathComponent("routes")
        let files = try FileManager.default.contentsOfDirectory(atPath: routesDirectory.path).filter { $0.hasSuffix(".json") }
        var reports: [String: RouteReport] = [:]
        for file in files {
            let data = try Data(contentsOf: routesDirectory.appendingPathComponent(file))
            let report = try JSONDecoder().decode(RouteReport.self, from: data)
            #expect(report.kind == "route")
            let route = try #require(report.route, "\(file) has no route")
            reports[route] = report
        }

        // Named after the matched patterns; unmatched requests under one stable name, never a raw URL.
        #expect(Set(reports.keys) == ["GET /users/:id", "GET /orders/:id/items", "GET /missing/:id", "GET (unmatched)"])
        for route in reports.keys {
            #expect(route.rangeOfCharacter(from: .decimalDigits) == nil, "a report is named after a raw URL: \(route)")
        }

        let users = try #require(reports["GET /users/:id"])
        #expect(users.requests.count == 20)
        #expect(users.requests.unfinished == 0)
        #expect(users.requests.statusCounts == ["200": 20])

        let orders = try #require(reports["GET /orders/:id/items"])
        #expect(orders.requests.count == 20)
        #expect(orders.requests.statusCounts == ["200": 20])

        // The handler threw Abort(.notFound): the status comes from AbortError.status, not a default 500.
        let missing = try #require(reports["GET /missing/:id"])
        #expect(missing.requests.count == 4)
        #expect(missing.requests.statusCounts == ["404": 4])

        let unmatched = try #require(reports["GET (unmatched)"])
        #expect(unmatched.requests.count == 2)
        #expect(unmatched.requests.statusCounts == ["404": 2])

        // The async handlers ran on the profiled task (ProfdMiddleware is the innermost middleware), so their
        // CPU samples are in their own route's tree: 5 ms of CPU × 20 requests at 1000 Hz, about 100 samples each.
        #expect(users.samples(inFunctionContaining: "loadUser(id:)") >= 20, "\(users.functions.prefix(15))")
        #expect(orders.samples(inFunctionContaining: "listOrderItems(orderId:)") >= 20, "\(orders.functions.prefix(15))")
        #expect(users.samples(inFunctionContaining: "listOrderItems(orderId:)") == 0)
        #expect(orders.samples(inFunctionContaining: "loadUser(id:)") == 0)
    }

    @Test func routePatterns() {
        #expect(ProfdMiddleware.routePattern(["users", ":id"]) == "/users/:id")
        #expect(ProfdMiddleware.routePattern(["files", "**"]) == "/files/**")
        #expect(ProfdMiddleware.routePattern(["a", "*", "b"]) == "/a/*/b")
        #expect(ProfdMiddleware.routePattern([]) == "/")
        #expect(ProfdMiddleware.routePattern(["", "health"]) == "/health")
        #expect(ProfdMiddleware.status(of: Abort(.forbidden)) == 403)
        #expect(ProfdMiddleware.status(of: TestFailure("x")) == 500)
    }
}
