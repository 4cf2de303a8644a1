import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import ProfClient
import ProfdTestSupport
import ProfdTracing
import ServiceLifecycle
import Synchronization
import Testing
import Tracing

/// `InstrumentationSystem.bootstrap` may run once per process.
private let bootstrapped = Mutex(false)

/// End to end: a real Hummingbird server with its `TracingMiddleware`, `ProfdTracer` bootstrapped as the
/// process's tracer, real HTTP requests, and a real profd daemon sampling this test process with perf.
@Suite(.serialized) struct HummingbirdTracingTests {
    static let usersRequests = 20
    static let ordersRequests = 20
    static let missingRequests = 2

    @Test(.timeLimit(.minutes(2)))
    func serverSpansAreProfiledPerRoutePattern() async throws {
        let daemon = try RunningProfd()
        defer { _ = daemon.stop() }

        var configuration = ProfClient.Configuration(service: "profd-tracing-test")
        configuration.socketPath = daemon.socketPath
        let profiler = ProfClient(configuration: configuration)
        defer { profiler.shutdown() }

        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        try #require(first, "InstrumentationSystem can be bootstrapped once per process; only this test may do it")
        InstrumentationSystem.bootstrap(ProfdTracer(profiler))

        profiler.start()
        try await waitForSession(profiler, daemon: daemon)

        let router = Router()
        router.middlewares.add(TracingMiddleware())  // applies to the routes added after it
        router.get("/users/:id") { _, context -> String in
            let id = try context.parameters.require("id")
            return "user \(id) \(burnCPUForUser(milliseconds: 4))\n"
        }
        router.get("/orders/:id/items") { _, context -> String in
            let id = try context.parameters.require("id")
            return "items of order \(id) \(burnCPUForOrderItems(milliseconds: 4))\n"
        }

        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "profd-tracing-test"),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: Logger(label: "profd-tracing-test"))
        let serviceGroup = ServiceGroup(configuration: .init(
            services: [app], gracefulShutdownSignals: [], logger: Logger(label: "profd-tracing-test")))

        let result: ProfClient.StopResult? = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try #require(port > 0, "the server did not report its port")

            let session = URLSession(configuration: .ephemeral)
            defer { session.finishTasksAndInvalidate() }
            for index in 0..<max(Self.usersRequests, Self.ordersRequests) {
                if index < Self.usersRequests {
                    try await expectStatus(200, session, "http://127.0.0.1:\(port)/users/\(index + 1)")
                }
                if index < Self.ordersRequests {
                    try await expectStatus(200, session, "http://127.0.0.1:\(port)/orders/\(1000 + index)/items")
                }
            }
            for index in 0..<Self.missingRequests {
                try await expectStatus(404, session, "http://127.0.0.1:\(port)/missing/\(index)")
            }

            await serviceGroup.triggerGracefulShutdown()
            try await group.next()
            // Every span has ended once the server has shut down; stop() flushes them and waits for the reports.
            return profiler.stop(timeout: .seconds(60))
        }

        let stopped = try #require(result, "profd did not confirm the session's reports; its log:\n\(daemon.log)")
        let statistics = profiler.statistics
        #expect(statistics.spansDropped == 0, "\(statistics)")
        let reports = try RouteReport.routeReports(in: stopped.reportDirectory)
        #expect(Set(reports.keys) == ["GET /users/:id", "GET /orders/:id/items", "GET (unmatched)"],
                "routes are named by pattern, never by path: \(reports.keys.sorted())")

        let users = try #require(reports["GET /users/:id"])
        #expect(users.kind == "route")
        #expect(users.requests.count == Self.usersRequests)
        #expect(users.requests.unfinished == 0)
        #expect(users.requests.statusCounts == ["200": Self.usersRequests])

        let orders = try #require(reports["GET /orders/:id/items"])
        #expect(orders.requests.count == Self.ordersRequests)
        #expect(orders.requests.unfinished == 0)
        #expect(orders.requests.statusCounts == ["200": Self.ordersRequests])

        let missing = try #require(reports["GET (unmatched)"])
        #expect(missing.requests.statusCounts == ["404": Self.missingRequests])

        // Sequential requests: each route's own CPU burner dominates its tree.
        let usersOwn = users.samples(inFunctionContaining: "burnCPUForUser(milliseconds:)")
        let usersOther = users.samples(inFunctionContaining: "burnCPUForOrderItems(milliseconds:)")
        let ordersOwn = orders.samples(inFunctionContaining: "burnCPUForOrderItems(milliseconds:)")
        let ordersOther = orders.samples(inFunctionContaining: "burnCPUForUser(milliseconds:)")
        print("profd-tracing: users route \(users.samples.count) samples (own burner \(usersOwn), other \(usersOther)); "
              + "orders route \(orders.samples.count) samples (own burner \(ordersOwn), other \(ordersOther)); "
              + "reports in \(stopped.reportDirectory)")
        #expect(usersOwn > 0 && usersOwn > usersOther)
        #expect(ordersOwn > 0 && ordersOwn > ordersOther)

        #expect(daemon.stop() == 0, "profd should exit cleanly on SIGTERM; its log:\n\(daemon.log)")
    }

    /// Waits until the client is connected and the daemon has started the session.
    private func waitForSession(_ profiler: ProfClient, daemon: RunningProfd) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while ContinuousClock.now < deadline {
            let statistics = profiler.statistics
            if statistics.isConnected, statistics.lastSessionId != nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("ProfClient did not start a session with profd: \(profiler.statistics)\n\(daemon.log)")
    }

    private func expectStatus(_ status: Int, _ session: URLSession, _ address: String) async throws {
        let (_, response) = try await session.data(from: try #require(URL(string: address)))
        let code = (response as? HTTPURLResponse)?.statusCode
        #expect(code == status, "\(address)")
    }
}
