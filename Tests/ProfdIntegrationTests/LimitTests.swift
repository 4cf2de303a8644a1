#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// The daemon's configurable limits, against a real profd: each one refuses or suppresses what is
/// beyond it, says so, and keeps serving.
@Suite("profd limits", .serialized)
struct LimitTests {
    @Test("--max-spans-per-second: a flood is cut to the rate, and the suppressed spans are counted")
    func spansPerSecond() throws {
        let daemon = try DaemonHarness(arguments: ["--max-spans-per-second", "1000"])
        let client = try RawConnection(path: daemon.socketPath)
        client.send(.hello(Hello(service: "flood")))
        _ = try client.receive()
        client.send(.startSession(StartSession()))
        guard case .message(.sessionStarted) = try client.receive() else { Issue.record("no session"); return }
        var flood: [UInt8] = []
        for id in 1...5000 as ClosedRange<UInt64> {
            flood += ProfdMessage.spanBegin(SpanBegin(spanId: id, threadId: 1, timeNs: id * 1000, route: "/flood")).encoded
            flood += ProfdMessage.spanEnd(SpanEnd(spanId: id, threadId: 1, timeNs: id * 1000 + 500, httpStatus: 200)).encoded
        }
        let started = Date()
        client.send(flood)
        client.send(.stopSession)
        guard case .message(.sessionStopped(let stopped)) = try client.receive() else { Issue.record("no report"); return }
        let elapsed = Date().timeIntervalSince(started)
        let document = try JSONDecoder().decode(JSONRenderer.Document.self,
                                                from: Data(contentsOf: URL(fileURLWithPath: stopped.reportDirectory + "/session.json")))
        let kept = document.requests.count
        let suppressed = Int(document.session.suppressedSpans ?? 0)
        print("spans/s limit 1000: \(kept) kept, \(suppressed) suppressed of 5000 in \(String(format: "%.2f", elapsed)) s")
        #expect(kept + suppressed == 5000, "every span is either kept or counted")
        #expect(kept >= 1000 && Double(kept) <= 1000 + 1000 * elapsed + 10, "one second's burst plus the rate")
        #expect(suppressed > 0)
        let text = try String(contentsOfFile: stopped.reportDirectory + "/session.txt", encoding: .utf8)
        #expect(text.contains("suppressed spans \(suppressed)"))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("--max-capture-memory: one budget for every session; beyond it spans are dropped and counted, and a written session gives its memory back")
    func captureMemory() throws {
        let daemon = try DaemonHarness(arguments: ["--max-capture-memory", "1M"])
        let route = "/" + String(repeating: "r", count: 200)  // stored in a buffer of its own: ~370 bytes a span
        func session(_ service: String) throws -> RawConnection {
            let connection = try RawConnection(path: daemon.socketPath)
            connection.send(.hello(Hello(service: service)))
            _ = try connection.receive()
            connection.send(.startSession(StartSession()))
            guard case .message(.sessionStarted) = try connection.receive() else { throw TestKitError("no session for \(service)") }
            return connection
        }
        func flood(_ connection: RawConnection, _ count: UInt64) {
            var bytes: [UInt8] = []
            for id in 1...count {
                bytes += ProfdMessage.spanBegin(SpanBegin(spanId: id, threadId: 1, timeNs: id * 1000, route: route)).encoded
                bytes += ProfdMessage.spanEnd(SpanEnd(spanId: id, threadId: 1, timeNs: id * 1000 + 500, httpStatus: 200)).encoded
            }
            connection.send(bytes)
        }
        func stop(_ connection: RawConnection) throws -> JSONRenderer.Document {
            connection.send(.stopSession)
            guard case .message(.sessionStopped(let stopped)) = try connection.receive() else { throw TestKitError("no report") }
            return try JSONDecoder().decode(JSONRenderer.Document.self,
                                            from: Data(contentsOf: URL(fileURLWithPath: stopped.reportDirectory + "/session.json")))
        }
        let big = try session("big")
        flood(big, 10_000)  // ~3.7 MB of spans against a 1 MiB budget
        usleep(500_000)
        let small = try session("small")
        flood(small, 100)
        let smallReport = try stop(small)
        #expect(smallReport.requests.count == 0 && smallReport.session.droppedSpans == 100,
                "another session finds the budget taken: \(smallReport.requests.count) kept, \(smallReport.session.droppedSpans) dropped")
        let bigReport = try stop(big)
        let kept = bigReport.requests.count
        print("capture budget 1 MiB: \(kept) of 10000 spans with 201-byte routes kept, \(bigReport.session.droppedSpans) dropped")
        #expect(kept + Int(bigReport.session.droppedSpans) == 10_000, "every span is kept or counted")
        #expect(kept > 1_000 && kept < 4_000, "about 1 MiB of spans kept")
        // Both sessions are written: their memory is back, and a new session keeps everything.
        let after = try session("after")
        flood(after, 100)
        let afterReport = try stop(after)
        #expect(afterReport.requests.count == 100 && afterReport.session.droppedSpans == 0)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("--max-kept-requests-per-session: a client keeping every request gets 5 report sets, the slowest, and the rest counted")
    func keptRequestsPerSession() throws {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("profd-keptcap-\(UUID().uuidString.prefix(8)).log").path
        defer { try? FileManager.default.removeItem(atPath: logFile) }
        let daemon = try DaemonHarness(arguments: ["--max-kept-requests-per-session", "5"], logFile: logFile)
        // 20 sequential /halving requests of ~12 ms; a 0 ms threshold makes every one of them qualify.
        let qualifying = 20
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["halving", "--requests", String(qualifying), "--profd-socket", daemon.socketPath],
                                      environment: ["PROFD_TESTLOAD_SLOW_MS=0"])
        try client.waitUntilReady(timeoutMs: 20_000)
        let directory = try #require(try client.reportDirectory(timeoutMs: 30_000), "the client printed its report directory")
        #expect(client.waitForExit().exitCode == 0)

        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/requests")
        #expect(files.filter { $0.hasSuffix(".json") }.count == 5, "\(files)")
        #expect(files.filter { $0.hasSuffix(".txt") }.count == 5, "\(files)")
        let document = try JSONDecoder().decode(JSONRenderer.Document.self,
                                                from: Data(contentsOf: URL(fileURLWithPath: directory + "/session.json")))
        #expect(document.requests.count == qualifying, "the skipped requests are still in the session report")
        #expect(document.keptRequests?.count == 5)
        #expect(document.session.skippedKeptRequests == qualifying - 5)
        // No error among them, so the slowest five: the session's slowest request is one of them, and every
        // kept one is at least as slow as the session's median.
        let keptWalls = document.keptRequests?.map(\.wallNs) ?? []
        let stats = try #require(document.requests.wallNs)
        #expect(keptWalls.max() == stats.max, "kept \(keptWalls), session max \(stats.max)")
        #expect(keptWalls.allSatisfy { $0 >= stats.p50 }, "kept \(keptWalls), session p50 \(stats.p50)")
        let text = try String(contentsOfFile: directory + "/session.txt", encoding: .utf8)
        #expect(text.contains("kept requests: 5 with a report of their own, \(qualifying - 5) more qualified"), "\(text.prefix(800))")

        // The live copies for `profctl follow` stop at the same five.
        let session = (directory as NSString).lastPathComponent
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let live = (try? FileManager.default.contentsOfDirectory(atPath: store.liveDirectory(session: session))) ?? []
        #expect(live.filter { $0.hasSuffix(".json") && $0 != ReportStore.topFileName }.count == 5, "\(live)")

        #expect(daemon.stop().exitCode == 0)  // validates every report against docs/report-schema.json
        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        #expect(log.contains("profd.skipped_kept_requests=\(qualifying - 5)"), "the reports-written line counts them")
        print("kept-requests limit 5: \(keptWalls.count) kept of \(qualifying), skipped \(document.session.skippedKeptRequests ?? -1)")
    }

    @Test("--max-connections-per-uid: the next connection of that uid is refused with limitExceeded")
    func connectionsPerUid() throws {
        let daemon = try DaemonHarness(arguments: ["--max-connections-per-uid", "3"])
        var open: [RawConnection] = []
        for _ in 0..<3 {
            let connection = try RawConnection(path: daemon.socketPath)
            connection.send(.hello(Hello(service: "c")))
            #expect(try connection.receive() == .message(.helloAck(HelloAck(daemonVersion: ProfdVersionForTests.string))))
            open.append(connection)
        }
        let fourth = try RawConnection(path: daemon.socketPath)
        guard case .message(.error(let error)) = try fourth.receive() else { Issue.record("the fourth was served"); return }
        #expect(error.code == .limitExceeded && error.message.contains("per user"), "\(error)")
        #expect(try fourth.receive() == .closed)
        open.removeFirst()
        usleep(200_000)
        let again = try RawConnection(path: daemon.socketPath)
        again.send(.hello(Hello(service: "c")))
        #expect(try again.receive() == .message(.helloAck(HelloAck(daemonVersion: ProfdVersionForTests.string))), "a freed slot serves again")
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("--max-sessions: a start beyond it gets limitExceeded, and works once a session ends")
    func sessions() throws {
        let daemon = try DaemonHarness(arguments: ["--max-sessions", "1"])
        let first = try RawConnection(path: daemon.socketPath)
        let second = try RawConnection(path: daemon.socketPath)
        for connection in [first, second] {
            connection.send(.hello(Hello(service: "s")))
            _ = try connection.receive()
        }
        first.send(.startSession(StartSession()))
        guard case .message(.sessionStarted) = try first.receive() else { Issue.record("no first session"); return }
        second.send(.startSession(StartSession()))
        guard case .message(.error(let error)) = try second.receive() else { Issue.record("a second session started"); return }
        #expect(error.code == .limitExceeded)
        first.send(.stopSession)
        guard case .message(.sessionStopped) = try first.receive() else { Issue.record("no report"); return }
        second.send(.startSession(StartSession()))
        guard case .message(.sessionStarted) = try second.receive() else { Issue.record("the freed slot was not given"); return }
        #expect(daemon.stop().exitCode == 0)
    }
}

enum ProfdVersionForTests {
    static let string = "0.1.0"
}
