import Foundation
import ProfClient
import ProfdTestSupport
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

/// What `ProfdLifecycle` handed to `onStop`: nil until it was called.
final class StopResultBox: Sendable {
    let value = Mutex<ProfClient.StopResult??>(nil)
}

// MARK: The test

@Suite("ProfdVapor against a real profd and a real Vapor server")
struct ProfdVaporTests {
    @Test func routeReportsAreNamedAfterPatternsWithCountsStatusesAndHandlerSamples() async throws {
        let daemon = try RunningProfd()
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
        let result = try #require(stopped, "stop() returned nil; profd said:\n\(daemon.log)")

        let reports = try RouteReport.routeReports(in: result.reportDirectory)

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
