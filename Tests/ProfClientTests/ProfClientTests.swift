import Foundation
import ProfClient
import ProfdProtocol
import ProfdTestKit
import Testing

@Suite("ProfClient against a real Unix socket", .serialized, .timeLimit(.minutes(1)))
struct ProfClientTests {
    @Test("spans arrive in order with route, thread, monotonic times and status")
    func spansInOrder() async throws {
        let daemon = try TestDaemon(path: try freshSocketPath())
        let client = ProfClient(configuration: testConfiguration(socketPath: daemon.path))
        defer { client.shutdown() }
        client.start(frequencyHz: 997)
        #expect(await daemon.waitUntil { $0.connection(0).count >= 2 })

        let thread = TestProbe.threadId()
        let before = TestProbe.monotonicNs()
        var spans: [ProfClient.Span] = []
        for i in 0..<100 {
            let span = client.beginSpan(route: "/items/\(i)")
            spans.append(span)
            client.endSpan(span, status: 200 + i % 3, route: i % 2 == 0 ? nil : "/items/:id")
        }
        let after = TestProbe.monotonicNs()
        let result = client.stop(timeout: .seconds(5))
        #expect(result == ProfClient.StopResult(sessionId: "test-session-1",
                                                reportDirectory: "/var/lib/profd/reports/test/test-session-1"))

        let messages = daemon.snapshot.connection(0)
        #expect(messages.startsSession(frequencyHz: 997))
        #expect(messages.count == 2 + 200 + 1)
        #expect(messages.last == .stopSession)
        var lastTime = before
        for (i, span) in spans.enumerated() where messages.count == 203 {
            #expect(span.isRecorded && span.beginThreadId == thread && span.route == "/items/\(i)")
            guard case .spanBegin(let begin) = messages[2 + 2 * i], case .spanEnd(let end) = messages[3 + 2 * i] else {
                Issue.record("message \(2 + 2 * i) is not a begin/end pair")
                continue
            }
            #expect(begin == SpanBegin(spanId: span.id, threadId: thread, timeNs: span.beginTimeNs, route: "/items/\(i)"))
            #expect(end.spanId == span.id && end.threadId == thread)
            #expect(end.httpStatus == UInt16(200 + i % 3))
            #expect(end.route == (i % 2 == 0 ? "" : "/items/:id"))
            #expect(lastTime <= begin.timeNs && begin.timeNs <= end.timeNs && end.timeNs <= after)
            lastTime = end.timeNs
        }
        #expect(Set(spans.map(\.id)).count == 100)

        let statistics = client.statistics
        #expect(statistics.spansRecorded == 100)
        #expect(statistics.spansSent == 100)
        #expect(statistics.spansDropped == 0 && statistics.messagesDropped == 0)
        #expect(statistics.connects == 1 && statistics.reconnects == 0 && statistics.isConnected)
        #expect(statistics.lastSessionId == "test-session-1")
        #expect(statistics.daemonVersion == "profd-test-daemon 1")
        #expect(daemon.snapshot.errors.isEmpty)
    }

    @Test("stop() returns the sessionId and reportDirectory the daemon sends")
    func stopReturnsDaemonResult() async throws {
        var options = TestDaemon.Options()
        options.sessionId = "20261126T120000Z-777"
        options.reportDirectory = "/srv/reports/checkout/20261126T120000Z-777"
        let daemon = try TestDaemon(path: try freshSocketPath(), options: options)
        let client = ProfClient(configuration: testConfiguration(socketPath: daemon.path))
        defer { client.shutdown() }
        client.start()
        client.endSpan(client.beginSpan(route: "/"), status: 204)
        let result = client.stop(timeout: .seconds(5))
        #expect(result?.sessionId == "20261126T120000Z-777")
        #expect(result?.reportDirectory == "/srv/reports/checkout/20261126T120000Z-777")
        #expect(daemon.snapshot.messages.filter { $0 == .stopSession }.count == 1)
        #expect(client.stop(timeout: .seconds(1)) == nil, "a second stop has nothing to stop")
    }

    @Test("with no daemon, start + 10k spans return fast and every span is counted as dropped")
    func noDaemon() async throws {
        let client = ProfClient(configuration: testConfiguration(socketPath: try freshSocketPath()))
        defer { client.shutdown() }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            client.start()
            for i in 0..<10_000 {
                client.endSpan(client.beginSpan(route: "/work"), status: i % 2 == 0 ? 200 : 500)
            }
        }
        #expect(elapsed < .seconds(1))
        #expect(await eventually { client.statistics.spansDropped == 10_000 })
        let statistics = client.statistics
        #expect(statistics.spansSent == 0 && statistics.connects == 0 && !statistics.isConnected)
        #expect(statistics.spansRecorded <= 10_000 && statistics.spansRecorded > 0)
        #expect(statistics.messagesDropped >= 10_000)
        #expect(statistics.lastError?.contains("No such file or directory") == true)
    }

    @Test("stop() with no daemon returns nil within its timeout")
    func stopWithoutDaemon() throws {
        let client = ProfClient(configuration: testConfiguration(socketPath: try freshSocketPath()))
        defer { client.shutdown() }
        client.start()
        let clock = ContinuousClock()
        var result: ProfClient.StopResult? = ProfClient.StopResult(sessionId: "sentinel", reportDirectory: "")
        let elapsed = clock.measure { result = client.stop(timeout: .milliseconds(500)) }
        #expect(result == nil)
        #expect(elapsed < .seconds(2))
    }

    @Test("a daemon that appears later is connected within 2 s and gets hello + startSession")
    func daemonAppearsLater() async throws {
        let path = try freshSocketPath()
        var configuration = testConfiguration(socketPath: path, flushInterval: .milliseconds(10))
        configuration.reconnectInterval = .seconds(1)  // the default
        let client = ProfClient(configuration: configuration)
        defer { client.shutdown() }
        client.start(frequencyHz: 250)
        try await Task.sleep(for: .milliseconds(100))
        #expect(!client.statistics.isConnected)

        let daemon = try TestDaemon(path: path)
        let clock = ContinuousClock()
        let appeared = clock.now
        #expect(await daemon.waitUntil(timeout: .seconds(3)) { $0.connection(0).startsSession(frequencyHz: 250) })
        #expect(clock.now - appeared < .milliseconds(2200))

        let span = client.beginSpan(route: "/late")
        client.endSpan(span, status: 201)
        #expect(await daemon.waitUntil { $0.spanEnds.contains { $0.spanId == span.id && $0.httpStatus == 201 } })
        #expect(client.statistics.connects == 1 && client.statistics.reconnects == 0)
    }

    @Test("a daemon killed mid-run: no crash, drops counted, reconnect re-sends hello + startSession")
    func daemonKilledMidRun() async throws {
        let path = try freshSocketPath()
        var options = TestDaemon.Options()
        options.sessionId = "first"
        let first = try TestDaemon(path: path, options: options)
        let client = ProfClient(configuration: testConfiguration(socketPath: path, reconnectInterval: .milliseconds(100)))
        defer { client.shutdown() }
        client.start()
        #expect(await first.waitUntil { $0.connection(0).startsSession() })

        func burst(_ route: String) async {
            for _ in 0..<20 {
                for _ in 0..<50 { client.endSpan(client.beginSpan(route: route), status: 200) }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        await burst("/before")
        #expect(await first.waitUntil { $0.spanEnds.count == 1000 })
        first.close()
        await burst("/gap")
        #expect(await eventually { !client.statistics.isConnected && client.statistics.spansDropped > 0 })
        let droppedInGap = client.statistics.spansDropped

        options.sessionId = "second"
        let second = try TestDaemon(path: path, options: options)
        #expect(await second.waitUntil { $0.connection(0).startsSession() })
        await burst("/after")
        #expect(await second.waitUntil { $0.spanEnds.filter { $0.route == "" }.count >= 1 })
        #expect(await eventually { client.statistics.lastSessionId == "second" })

        let statistics = client.statistics
        #expect(statistics.connects == 2 && statistics.reconnects == 1 && statistics.isConnected)
        #expect(statistics.spansDropped >= droppedInGap && droppedInGap > 0)
        #expect(statistics.spansSent + statistics.spansDropped <= 3000)
        #expect(second.snapshot.errors.isEmpty && second.snapshot.spanBegins.allSatisfy { $0.route != "/before" })
        #expect(client.stop(timeout: .seconds(5))?.sessionId == "second")
    }

    @Test("a daemon that never reads: span calls never block, drops are counted, the stream stays decodable")
    func daemonNeverReads() async throws {
        var options = TestDaemon.Options()
        options.reading = false
        options.receiveBufferSize = 1024
        let daemon = try TestDaemon(path: try freshSocketPath(), options: options)
        var configuration = testConfiguration(socketPath: daemon.path, flushInterval: .milliseconds(1))
        configuration.sendBufferSize = 4096
        let client = ProfClient(configuration: configuration)
        defer { client.shutdown() }
        client.start()
        #expect(await eventually { client.statistics.isConnected })

        let route = "/a/rather/long/route/" + String(repeating: "segment/", count: 12)
        let clock = ContinuousClock()
        var slowest = Duration.zero
        let total = clock.measure {
            for i in 0..<60_000 {
                let start = clock.now
                client.endSpan(client.beginSpan(route: route), status: i % 600)
                slowest = max(slowest, clock.now - start)
            }
        }
        #expect(total < .seconds(5))
        #expect(slowest < .milliseconds(500), "a blocking send would stall here for as long as the daemon does not read")
        #expect(await eventually { client.statistics.spansDropped > 0 })

        daemon.setReading(true)
        let result = client.stop(timeout: .seconds(10))
        #expect(result?.sessionId == "test-session-1")
        let snapshot = daemon.snapshot
        #expect(snapshot.errors.isEmpty)
        #expect(snapshot.connections.count == 1)
        #expect(snapshot.connection(0).startsSession())
        #expect(snapshot.connection(0).last == .stopSession)
        let statistics = client.statistics
        #expect(statistics.spansSent == snapshot.spanEnds.count)
        #expect(statistics.spansSent + statistics.spansDropped == 60_000)
        #expect(statistics.spansDropped > 0 && statistics.isConnected)
    }

    @Test("spans before start() and after stop() are not recorded")
    func notRecordedOutsideSession() async throws {
        let daemon = try TestDaemon(path: try freshSocketPath())
        let client = ProfClient(configuration: testConfiguration(socketPath: daemon.path))
        defer { client.shutdown() }
        let early = client.beginSpan(route: "/early")
        #expect(!early.isRecorded && early.id == 0)
        client.endSpan(early, status: 200)
        client.start()
        let inside = client.beginSpan(route: "/inside")
        #expect(inside.isRecorded)
        client.endSpan(inside, status: 200)
        #expect(client.stop(timeout: .seconds(5)) != nil)
        let late = client.beginSpan(route: "/late")
        #expect(!late.isRecorded)
        try await Task.sleep(for: .milliseconds(30))
        let statistics = client.statistics
        #expect(statistics.spansNotRecorded == 2 && statistics.spansRecorded == 1 && statistics.spansSent == 1)
        #expect(daemon.snapshot.spanBegins.map(\.route) == ["/inside"])
    }

    @Test("withSpan records sync and async bodies with their status")
    func withSpan() async throws {
        struct Failure: Error {}
        let daemon = try TestDaemon(path: try freshSocketPath())
        let client = ProfClient(configuration: testConfiguration(socketPath: daemon.path))
        defer { client.shutdown() }
        client.start()

        let thread = TestProbe.threadId()
        let sync = client.withSpan(route: "/sync") { 41 + 1 }
        #expect(sync == 42)
        #expect(throws: Failure.self) { try client.withSpan(route: "/sync-throws") { () throws -> Int in throw Failure() } }
        let custom = client.withSpan(route: "/sync-status", status: { $0 }) { 418 }
        #expect(custom == 418)
        let value = await client.withSpan(route: "/async") { () async -> String in
            try? await Task.sleep(for: .milliseconds(5))
            return "done"
        }
        #expect(value == "done")
        await #expect(throws: Failure.self) {
            try await client.withSpan(route: "/async-throws") { () async throws -> Int in
                await Task.yield()
                throw Failure()
            }
        }
        let created = await client.withSpan(route: "/async-status", status: { $0 ? 201 : 409 }) { () async -> Bool in true }
        #expect(created)
        #expect(client.stop(timeout: .seconds(5)) != nil)

        let snapshot = daemon.snapshot
        let routes = Dictionary(uniqueKeysWithValues: snapshot.spanBegins.map { ($0.spanId, $0.route) })
        let statuses = Dictionary(uniqueKeysWithValues: snapshot.spanEnds.map { (routes[$0.spanId] ?? "?", $0.httpStatus) })
        #expect(statuses == ["/sync": 200, "/sync-throws": 500, "/sync-status": 418,
                             "/async": 200, "/async-throws": 500, "/async-status": 201])
        #expect(snapshot.spanBegins.filter { $0.route.hasPrefix("/sync") }.allSatisfy { $0.threadId == thread })
        #expect(snapshot.spanEnds.allSatisfy { $0.threadId != 0 })
    }

    @Test("extreme configuration values are clamped, not trapped on")
    func extremeConfiguration() async throws {
        let daemon = try TestDaemon(path: try freshSocketPath())
        var configuration = testConfiguration(socketPath: daemon.path)
        configuration.bufferCapacity = .max
        configuration.flushInterval = .seconds(-1)
        configuration.reconnectInterval = .seconds(-5)
        configuration.sendBufferSize = -1
        let client = ProfClient(configuration: configuration)
        defer { client.shutdown() }
        client.start(frequencyHz: -3)
        #expect(await daemon.waitUntil { $0.connection(0).startsSession(frequencyHz: 1) })
        let span = client.beginSpan(route: String(repeating: "/x", count: 5000))
        client.endSpan(span, status: 70_000)
        #expect(await daemon.waitUntil { $0.spanEnds.count == 1 })
        #expect(daemon.snapshot.spanEnds.first?.httpStatus == 65_535)
        #expect(daemon.snapshot.spanBegins.first?.route.utf8.count == ProtocolLimits.route)

        let bad = ProfClient(configuration: testConfiguration(socketPath: "/tmp/" + String(repeating: "p", count: 200)))
        bad.start(frequencyHz: 1_000_000)
        bad.endSpan(bad.beginSpan(route: "/"))
        #expect(await eventually { bad.statistics.lastError?.contains("File name too long") == true })
        #expect(bad.stop(timeout: .seconds(1)) == nil)
        bad.shutdown()
    }

    @Test("shutdown stops the flusher thread, is idempotent, and deinit does it too")
    func shutdownStopsThread() async throws {
        // Other suites may create clients concurrently, so track thread ids, not a global count.
        func flushers() -> Set<Int32> {
            let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            return Set(tids.compactMap { tid -> Int32? in
                let name = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? ""
                return name.trimmingCharacters(in: .whitespacesAndNewlines) == "profd-client" ? Int32(tid) : nil
            })
        }
        let before = flushers()
        let client = ProfClient(configuration: testConfiguration(socketPath: try freshSocketPath()))
        client.start()
        var mine: Set<Int32> = []
        #expect(await eventually { mine = flushers().subtracting(before); return mine.count == 1 })
        client.shutdown()
        client.shutdown()
        #expect(flushers().isDisjoint(with: mine), "shutdown joins the thread before returning")
        #expect(!client.beginSpan(route: "/after-shutdown").isRecorded)
        client.start()
        #expect(!client.beginSpan(route: "/after-shutdown").isRecorded, "start() after shutdown does nothing")

        var scopedThreads: Set<Int32> = []
        do {
            let baseline = flushers()
            let scoped = ProfClient(configuration: testConfiguration(socketPath: try freshSocketPath()))
            scoped.start()
            #expect(await eventually { scopedThreads = flushers().subtracting(baseline); return scopedThreads.count == 1 })
        }
        #expect(flushers().isDisjoint(with: scopedThreads), "deinit joins the thread")
    }
}

@Suite("ProfClient.Configuration")
struct ConfigurationTests {
    @Test("PROFD_SOCKET overrides the default socket path unless empty",
          arguments: [(nil, "/run/profd/profd.sock"), ("", "/run/profd/profd.sock"), ("/tmp/x.sock", "/tmp/x.sock")] as [(String?, String)])
    func socketPath(value: String?, expected: String) {
        #expect(ProfClient.Configuration.socketPath(environmentValue: value) == expected)
    }

    @Test("defaults match the documented values")
    func defaults() {
        let configuration = ProfClient.Configuration(service: "svc")
        #expect(configuration.service == "svc")
        #expect(configuration.bufferCapacity == 8192)
        #expect(configuration.flushInterval == .milliseconds(10))
        #expect(configuration.reconnectInterval == .seconds(1))
        #expect(configuration.sendBufferSize == nil)
        #expect(configuration.frequencyHz == 1000)
        #expect(configuration.formats == [.text, .json])
        #expect(!configuration.printEachRequest)
        #expect(configuration.reportFileName == "{time}-{route}-{id}")
        #expect(configuration.includedRoutes.isEmpty && configuration.excludedRoutes.isEmpty)
        #expect(configuration.sampledPercentage == 100)
        #expect(configuration.slowRequestThreshold == nil)
        #expect(configuration.executorThreads == nil)
    }

    @Test("the options travel in startSession")
    func optionsOnTheWire() async throws {
        let daemon = try TestDaemon(path: try freshSocketPath())
        var configuration = testConfiguration(socketPath: daemon.path)
        configuration.frequencyHz = 250
        configuration.formats = [.html, .json]
        configuration.slowRequestThreshold = .milliseconds(50)
        configuration.reportFileName = "{route}-{ms}ms"
        configuration.includedRoutes = ["GET /api/*"]
        configuration.excludedRoutes = ["GET /api/health"]
        let client = ProfClient(configuration: configuration)
        defer { client.shutdown() }
        client.start()
        #expect(await daemon.waitUntil { $0.messages.count >= 2 })
        guard case .startSession(let start)? = daemon.snapshot.messages.dropFirst().first else {
            Issue.record("no startSession"); return
        }
        #expect(start.frequencyHz == 250)
        #expect(start.options == SessionOptions(formats: SessionOptions.formatJSON | SessionOptions.formatHTML,
                                                slowThresholdNs: 50_000_000, reportFileName: "{route}-{ms}ms",
                                                includedRoutes: ["GET /api/*"], excludedRoutes: ["GET /api/health"]))
    }

    @Test("profileRequest: the route and status set by the body end the span; a throw keeps the status it set")
    func profileRequest() async throws {
        struct NotFound: Error {}
        let daemon = try TestDaemon(path: try freshSocketPath())
        let client = ProfClient(configuration: testConfiguration(socketPath: daemon.path))
        defer { client.shutdown() }
        client.start()
        let value = try await client.profileRequest(method: "GET", path: "/users/42") { span in
            #expect(span.isProfiled)
            try await Task.sleep(for: .milliseconds(2))
            span.route = "/users/:id"
            span.status = 201
            return 7
        }
        #expect(value == 7)
        await #expect(throws: NotFound.self) {
            try await client.profileRequest(method: "POST", path: "/missing") { span in
                span.status = 404
                throw NotFound()
            }
        }
        await #expect(throws: NotFound.self) {
            try await client.profileRequest(method: "GET", path: "/boom") { _ in throw NotFound() }
        }
        #expect(client.stop(timeout: .seconds(5)) != nil)
        let snapshot = daemon.snapshot
        #expect(snapshot.spanBegins.map(\.route) == ["GET /users/42", "POST /missing", "GET /boom"])
        #expect(snapshot.spanEnds.map(\.route) == ["GET /users/:id", "", ""])
        #expect(snapshot.spanEnds.map(\.httpStatus) == [201, 404, 500])
        // The request ran on the attribution pool: its jobs arrive as run slices of its span.
        let slices = snapshot.messages.flatMap { message -> [RunSlice] in
            if case .runSlices(let batch) = message { batch.slices } else { [] }
        }
        #expect(slices.contains { $0.spanId == snapshot.spanBegins[0].spanId })
    }

    @Test("sampledPercentage picks exactly that share of requests, evenly", arguments: [0.0, 10.0, 25.0, 100.0])
    func sampledPercentage(percentage: Double) async throws {
        let daemon = try TestDaemon(path: try freshSocketPath())
        var configuration = testConfiguration(socketPath: daemon.path)
        configuration.sampledPercentage = percentage
        let client = ProfClient(configuration: configuration)
        defer { client.shutdown() }
        client.start()
        var picked: [Int] = []
        for index in 0..<200 {
            let profiled = await client.profileRequest(method: "GET", path: "/r") { span in span.isProfiled }
            if profiled { picked.append(index) }
        }
        #expect(picked.count == Int(200 * percentage / 100))
        if percentage == 10 { #expect(picked == Array(stride(from: 9, to: 200, by: 10))) }
        #expect(client.stop(timeout: .seconds(5)) != nil)
        #expect(daemon.snapshot.spanBegins.count == picked.count)
    }

    @Test("printable() shows control characters instead of sending them to the terminal")
    func printable() {
        #expect(ProfClient.printableForTests("GET /a\u{1B}[31m\n") == "GET /a\\u{1b}[31m\\u{a}")
    }
}
