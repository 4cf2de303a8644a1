#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import ProfClient
import ProfdHummingbird
import ProfdTestSupport
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
        let daemon = try RunningProfd()
        defer { daemon.stop() }

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
            for id in 1...40 { #expect(try await httpStatus(port: port, "GET", "/users/\(id)") == 200) }
            for id in 1...24 { #expect(try await httpStatus(port: port, "GET", "/orders/\(1000 + id)/items") == 200) }
            for sku in 1...5 { #expect(try await httpStatus(port: port, "GET", "/items/sku-\(sku)") == 404) }
            for _ in 1...3 { #expect(try await httpStatus(port: port, "POST", "/orders") == 201) }
            for _ in 1...2 { #expect(try await httpStatus(port: port, "GET", "/boom") == 500) }
            for n in 1...3 { #expect(try await httpStatus(port: port, "GET", "/no/such/route/\(n)") == 404) }
        }

        let stopped = try #require(profiler.stop(timeout: .seconds(60)), "profd did not confirm the reports (log: \(daemon.logPath))")
        #expect(stopped.reportDirectory.hasPrefix(daemon.stateDirectory))
        let reports = try RouteReport.routeReports(in: stopped.reportDirectory)

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
            let requests = reports[route]?.requests
            #expect(requests?.count == want.count, "\(route): \(String(describing: requests))")
            #expect(requests?.statusCounts == [want.status: want.count], "\(route): \(String(describing: requests))")
        }

        // Each route's samples name its own work and not the other route's.
        let userFunctions = reports["GET /users/:id"]?.functionNames ?? []
        let orderFunctions = reports["GET /orders/:id/items"]?.functionNames ?? []
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

// MARK: - The server

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
