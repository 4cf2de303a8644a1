#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import ProfClient
import ProfdHummingbird
import ServiceLifecycle
import Testing

/// End to end: a real Hummingbird server on an ephemeral port with `ProfdMiddleware`, a real profd daemon,
/// real HTTP requests, and the route reports profd wrote.
@Suite struct ProfdMiddlewareTests {
    @Test func routeNamesFromHummingbirdEndpointPaths() {
        typealias Middleware = ProfdMiddleware<BasicRequestContext>
        #expect(Middleware.route(endpointPath: "/users/{id}") == "/users/:id")
        #expect(Middleware.route(endpointPath: "/orders/{id}/items") == "/orders/:id/items")
        #expect(Middleware.route(endpointPath: "/files/{name}.jpg") == "/files/{name}.jpg")
        #expect(Middleware.route(endpointPath: "/static/**") == "/static/**")
        #expect(Middleware.route(endpointPath: "/") == "/")
        #expect(Middleware.route(endpointPath: nil) == "(unmatched)")
        #expect(Middleware.route(endpointPath: "NotFound") == "(unmatched)")
        #expect(Middleware.route(endpointPath: "FileMiddleware") == "(FileMiddleware)")
    }

    @Test func reportsAreNamedAfterRoutePatternsWithCountsAndStatuses() async throws {
        let daemon = try ProfdDaemon.launch()
        defer { daemon.terminate() }

        var configuration = ProfClient.Configuration(service: "profd-hummingbird-test")
        configuration.socketPath = daemon.socketPath
        configuration.executorThreads = 2
        let profiler = ProfClient(configuration: configuration)
        defer { profiler.shutdown() }
        profiler.start()
        // Requests sent before the session started would be counted but have no samples yet.
        try await waitUntil("profd started the session (log: \(daemon.logPath))") { profiler.statistics.lastSessionId != nil }

        let router = Router()
        router.add(middleware: ProfdMiddleware(profiler: profiler))
        router.get("/users/:id") { _, context -> String in
            "user \(lookUpUser(id: context.parameters.get("id", as: Int.self) ?? 0))\n"
        }
        router.get("/orders/:id/items") { _, context -> String in
            "items \(listOrderItems(orderId: context.parameters.get("id", as: Int.self) ?? 0))\n"
        }
        router.get("/items/:sku") { _, _ -> String in throw HTTPError(.notFound) }
        router.post("/orders") { _, _ -> HTTPResponse.Status in .created }
        router.get("/boom") { _, _ -> String in throw Boom() }

        try await withServer(router) { (port: Int) async throws -> Void in
            for id in 1...40 { #expect(try await http(port: port, "GET", "/users/\(id)") == 200) }
            for id in 1...24 { #expect(try await http(port: port, "GET", "/orders/\(1000 + id)/items") == 200) }
            for sku in 1...5 { #expect(try await http(port: port, "GET", "/items/sku-\(sku)") == 404) }
            for _ in 1...3 { #expect(try await http(port: port, "POST", "/orders") == 201) }
            for _ in 1...2 { #expect(try await http(port: port, "GET", "/boom") == 500) }
            for n in 1...3 { #expect(try await http(port: port, "GET", "/no/such/route/\(n)") == 404) }
        }

        let stopped = try #require(profiler.stop(timeout: .seconds(60)), "profd did not confirm the reports (log: \(daemon.logPath))")
        #expect(stopped.reportDirectory.hasPrefix(daemon.stateDir))
        let reports = try routeReports(in: stopped.reportDirectory)

        // Exactly one report per route pattern: none named after a raw URL such as /users/42.
        #expect(Set(reports.keys) == [
            "GET /users/:id", "GET /orders/:id/items", "GET /items/:sku", "POST /orders", "GET /boom", "GET (unmatched)",
        ])
        #expect(!reports.keys.contains { $0.range(of: #"/\d+"#, options: .regularExpression) != nil })

        // Every request counted under its route, with the status the client saw.
        let expected: [String: (count: Int, status: String)] = [
            "GET /users/:id": (40, "200"), "GET /orders/:id/items": (24, "200"), "GET /items/:sku": (5, "404"),
            "POST /orders": (3, "201"), "GET /boom": (2, "500"), "GET (unmatched)": (3, "404"),
        ]
        for (route, want) in expected {
            let requests = reports[route]?["requests"] as? [String: Any]
            #expect(requests?["count"] as? Int == want.count, "\(route): \(requests ?? [:])")
            #expect(requests?["statusCounts"] as? [String: Int] == [want.status: want.count], "\(route): \(requests ?? [:])")
        }

        // Each route's samples name its own work and not the other route's.
        let userFunctions = functionNames(reports["GET /users/:id"])
        let orderFunctions = functionNames(reports["GET /orders/:id/items"])
        #expect(userFunctions.contains { $0.contains("lookUpUser(id:)") }, "\(userFunctions.prefix(15))")
        #expect(!userFunctions.contains { $0.contains("listOrderItems") }, "\(userFunctions.prefix(15))")
        #expect(orderFunctions.contains { $0.contains("listOrderItems(orderId:)") }, "\(orderFunctions.prefix(15))")
        #expect(!orderFunctions.contains { $0.contains("lookUpUser") }, "\(orderFunctions.prefix(15))")
    }
}

// MARK: - The routes' CPU work, in functions the reports can name

struct Boom: Error {}

/// Burns about `duration` of CPU.
@inline(never)
func spin(for duration: Duration, seed: Int) -> UInt64 {
    let end = ContinuousClock.now + duration
    var x = UInt64(truncatingIfNeeded: seed) | 1
    repeat {
        for _ in 0..<2000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    } while ContinuousClock.now < end
    return x
}

@inline(never)
func lookUpUser(id: Int) -> UInt64 { spin(for: .milliseconds(3), seed: id) &+ 1 }

@inline(never)
func listOrderItems(orderId: Int) -> UInt64 { spin(for: .milliseconds(3), seed: orderId) &+ 2 }

// MARK: - The daemon

/// A profd process with its own state directory and socket, stopped with SIGTERM.
final class ProfdDaemon {
    let directory: String
    let process: Process
    var stateDir: String { directory + "/state" }
    var socketPath: String { directory + "/profd.sock" }
    var logPath: String { directory + "/profd.log" }

    /// `PROFD_BIN`, else the root package's debug build.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["PROFD_BIN"], !path.isEmpty { return path }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<6 { root.deleteLastPathComponent() } // Tests/ProfdHummingbirdTests → repo root
        return root.appendingPathComponent(".build/debug/profd").path
    }

    private init(directory: String, process: Process) {
        self.directory = directory
        self.process = process
    }

    static func launch() throws -> ProfdDaemon {
        let binary = binaryPath
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestFailure("""
                no profd binary at \(binary): build the root package first (`swift build` in the repo root) \
                or set PROFD_BIN
                """)
        }
        var template = Array("/tmp/profd-hb-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed: errno \(errno)") }
        let directory = String(cString: made)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let daemon = ProfdDaemon(directory: directory, process: process)
        process.arguments = ["--state-dir", daemon.stateDir, "--socket", daemon.socketPath]
        _ = FileManager.default.createFile(atPath: daemon.logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: daemon.logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = ContinuousClock.now + .seconds(15)
        while !daemon.socketIsUp {
            guard process.isRunning, ContinuousClock.now < deadline else {
                let output = (try? String(contentsOfFile: daemon.logPath, encoding: .utf8)) ?? ""
                daemon.terminate()
                throw TestFailure("profd did not open its socket \(daemon.socketPath) (it needs root for perf_event_open):\n\(output)")
            }
            usleep(20_000)
        }
        return daemon
    }

    private var socketIsUp: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// SIGTERM, wait, remove the directory.
    func terminate() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func waitUntil(_ what: String, timeout: Duration = .seconds(15), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

// MARK: - Reports

/// The session's route reports (`routes/*.json`), by their `route` field.
func routeReports(in sessionDirectory: String) throws -> [String: [String: Any]] {
    let folder = sessionDirectory + "/routes"
    var reports: [String: [String: Any]] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".json") {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name)")
        #expect(document["kind"] as? String == "route", "\(name)")
        let route = try #require(document["route"] as? String, "\(name) has no route")
        #expect(reports[route] == nil, "two reports for \(route)")
        reports[route] = document
    }
    return reports
}

func functionNames(_ report: [String: Any]?) -> [String] {
    ((report?["functions"] as? [[String: Any]]) ?? []).compactMap { $0["function"] as? String }
}

// MARK: - The server and a minimal HTTP client

/// Runs `router` on 127.0.0.1 at a port the kernel picks, hands the port to `body`, then shuts the server down.
func withServer(_ router: Router<BasicRequestContext>, _ body: (Int) async throws -> Void) async throws {
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "profd-hummingbird-test"),
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        })
    let services = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
    let server = Task {
        defer { portContinuation.finish() }
        try await services.run()
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next(), port > 0 else {
        await services.triggerGracefulShutdown()
        try await server.value
        throw TestFailure("the server did not start")
    }
    do {
        try await body(port)
    } catch {
        await services.triggerGracefulShutdown()
        try? await server.value
        throw error
    }
    await services.triggerGracefulShutdown()
    try await server.value
}

/// Sends one HTTP/1.1 request with `Connection: close` over a plain socket and returns the status code.
/// Blocking I/O runs on a Dispatch thread, off the Swift concurrency pool that the server shares.
func http(port: Int, _ method: String, _ path: String) async throws -> Int {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try blockingHTTP(port: port, method: method, path: path) })
        }
    }
}

private func blockingHTTP(port: Int, method: String, path: String) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestFailure("connect to port \(port): errno \(errno)") }
    let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    var sent = 0
    while sent < request.count {
        let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { throw TestFailure("send: errno \(errno)") }
        sent += n
    }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw TestFailure("recv: errno \(errno)") }
        if n == 0 { break }
        response += buffer[..<n]
    }
    // "HTTP/1.1 200 OK"
    let statusLine = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    let fields = statusLine.split(separator: " ")
    guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]) else {
        throw TestFailure("bad response to \(method) \(path): \(statusLine)")
    }
    return status
}
