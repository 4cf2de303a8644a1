#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// Burns CPU in a function the report must name; the test process itself is the profiled client.
///
/// The inner loops use only `@_transparent` integer operations: a call into a frameless leaf function
/// (a debug-build range iterator, the vDSO clock) would hide this frame from frame-pointer unwinding.
/// CPU time of the calling thread, so burns last a fixed amount of CPU however busy the machine is.
func threadCPUNs() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

@inline(never)
func integrationBurnAlpha(until deadline: UInt64) -> UInt64 {
    var x: UInt64 = 1
    while threadCPUNs() < deadline {
        var i = 0
        while i < 200_000 { x = x &* 6364136223846793005 &+ 1442695040888963407; i &+= 1 }
    }
    return x
}

@inline(never)
func integrationBurnBeta(until deadline: UInt64) -> UInt64 {
    var x: UInt64 = 7
    while threadCPUNs() < deadline {
        var i = 0
        while i < 200_000 { x = (x ^ (x &>> 3)) &* 0x9E3779B97F4A7C15; i &+= 1 }
    }
    return x
}

@Suite("profd daemon over its socket", .serialized)
struct DaemonProtocolTests {
    struct MalformedCase: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        /// The error code the daemon must answer with; nil means it may just close.
        var expected: ErrorReply.Code?
        var closeWrite: Bool = false
        var testDescription: String { name }
    }

    static let malformed: [MalformedCase] = [
        MalformedCase(name: "truncated frame, then end of stream", bytes: Array(ProfdMessage.hello(Hello(service: "x")).encoded.dropLast(2)), expected: nil, closeWrite: true),
        MalformedCase(name: "half a header, then end of stream", bytes: [0x50, 0x46, 0x01], expected: nil, closeWrite: true),
        MalformedCase(name: "oversized length", bytes: rawFrame(type: 0x01, length: 0xFFFF_FFFF), expected: .payloadTooLarge),
        MalformedCase(name: "unknown message type", bytes: rawFrame(type: 0x7E), expected: .unknownMessageType),
        MalformedCase(name: "unknown protocol version", bytes: rawFrame(version: 9, type: 0x01), expected: .unsupportedVersion),
        MalformedCase(name: "bad magic", bytes: rawFrame(magic: (0x47, 0x45), type: 0x01), expected: .badFrame),
        MalformedCase(name: "string longer than its payload", bytes: rawFrame(type: 0x01, payload: [1, 0, 0xFF, 0x00]), expected: .badFrame),
        MalformedCase(name: "span before hello", bytes: ProfdMessage.spanBegin(SpanBegin(spanId: 1, threadId: 1, timeNs: 1, route: "/x")).encoded, expected: .protocolViolation),
    ]

    @Test("each malformed frame gets a typed error or a closed connection, and a good client is still served", arguments: malformed)
    func malformedFrames(testCase: MalformedCase) throws {
        let daemon = try DaemonHarness()
        // A well-behaved client that is connected before the bad one and keeps going after it.
        let good = try RawConnection(path: daemon.socketPath)
        good.send(.hello(Hello(service: "good-client")))
        #expect(try good.receive() == .message(.helloAck(HelloAck(daemonVersion: "0.1.0"))))

        let bad = try RawConnection(path: daemon.socketPath)
        bad.send(testCase.bytes)
        if testCase.closeWrite { bad.shutdownWrite() }
        let reply = try bad.receive()
        if let expected = testCase.expected {
            guard case .message(.error(let error)) = reply else {
                Issue.record("expected an error reply \(expected), got \(reply)")
                return
            }
            #expect(error.code == expected)
            #expect(!error.message.isEmpty)
            #expect(try bad.receive() == .closed, "the daemon closes a connection after a fatal protocol error")
        } else {
            #expect(reply == .closed)
        }

        #expect(daemon.isRunning)
        good.send(.startSession(StartSession(frequencyHz: 1000)))
        guard case .message(.sessionStarted(let started)) = try good.receive() else {
            Issue.record("the good client's session did not start")
            return
        }
        good.send(.stopSession)
        #expect(try good.receive() == .message(.sessionStopped(SessionStopped(sessionId: started.sessionId, reportDirectory: daemon.stateDirectory + "/sessions/" + started.sessionId))))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a full session: two routes burned in this process are attributed to their own functions")
    func fullSession() throws {
        let daemon = try DaemonHarness()
        let client = try RawConnection(path: daemon.socketPath)
        client.send(.hello(Hello(service: "integration \u{1B}[31m")))
        _ = try client.receive()
        client.send(.startSession(StartSession(frequencyHz: 1000)))
        guard case .message(.sessionStarted(let started)) = try client.receive() else {
            Issue.record("session did not start")
            return
        }
        let tid = UInt32(bitPattern: profd_gettid())
        for (index, route) in ["/alpha", "/beta", "/alpha", "/beta"].enumerated() {
            let begin = profd_monotonic_ns()
            client.send(.spanBegin(SpanBegin(spanId: UInt64(index + 1), threadId: tid, timeNs: begin, route: route)))
            let deadline = threadCPUNs() + 300_000_000
            let result = route == "/alpha" ? integrationBurnAlpha(until: deadline) : integrationBurnBeta(until: deadline)
            #expect(result != 42)
            client.send(.spanEnd(SpanEnd(spanId: UInt64(index + 1), threadId: tid, timeNs: profd_monotonic_ns(), httpStatus: 200)))
        }
        client.send(.stopSession)
        guard case .message(.sessionStopped(let stopped)) = try client.receive() else {
            Issue.record("session did not stop")
            return
        }
        #expect(stopped.sessionId == started.sessionId)

        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let routes = try store.routes(session: started.sessionId)
        #expect(routes.map(\.route) == ["/alpha", "/beta"])
        for entry in routes {
            let json = try store.readFile(session: started.sessionId, relativePath: entry.files["json"]!)
            let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json))
            let own = entry.route == "/alpha" ? "integrationBurnAlpha(until:)" : "integrationBurnBeta(until:)"
            let other = entry.route == "/alpha" ? "integrationBurnBeta(until:)" : "integrationBurnAlpha(until:)"
            let ownSamples = document.functions.filter { $0.function.hasSuffix(own) }.map(\.totalSamples).reduce(0, +)
            let otherSamples = document.functions.filter { $0.function.hasSuffix(other) }.map(\.totalSamples).reduce(0, +)
            #expect(document.samples.count > 500, "600 ms of CPU at 1 kHz")
            #expect(Double(ownSamples) >= 0.9 * Double(document.samples.count), "\(entry.route): \(ownSamples) of \(document.samples.count) in \(own)")
            #expect(otherSamples == 0)
            #expect(document.requests.count == 2)
            #expect(document.session.pid == getpid(), "pid comes from SO_PEERCRED")
        }
        let text = String(decoding: try store.readFile(session: started.sessionId, relativePath: "session.txt"), as: UTF8.self)
        #expect(!text.contains("\u{1B}"), "the service name's escape sequence is neutralised")
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a client that disconnects mid-session still gets its report, marked as such")
    func disconnectMidSession() throws {
        let daemon = try DaemonHarness()
        var sessionId = ""
        do {
            let client = try RawConnection(path: daemon.socketPath)
            client.send(.hello(Hello(service: "vanishing")))
            _ = try client.receive()
            client.send(.startSession(StartSession()))
            guard case .message(.sessionStarted(let started)) = try client.receive() else {
                Issue.record("session did not start")
                return
            }
            sessionId = started.sessionId
            client.send(.spanBegin(SpanBegin(spanId: 1, threadId: UInt32(bitPattern: profd_gettid()), timeNs: profd_monotonic_ns(), route: "/never-ends")))
        }
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let deadline = Date().addingTimeInterval(20)
        while !store.sessionIds().contains(sessionId) && Date() < deadline { usleep(50_000) }
        let json = try store.readFile(session: sessionId, relativePath: "session.json")
        let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json))
        #expect(document.session.endReason == "client-disconnected")
        #expect(document.requests.unfinished == 1)
        #expect(daemon.isRunning)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a start that races the previous session's report writing gets an error, not a closed connection")
    func startWhileStopping() throws {
        let daemon = try DaemonHarness()
        let client = try RawConnection(path: daemon.socketPath)
        client.send(.hello(Hello(service: "quick")))
        _ = try client.receive()
        client.send(.startSession(StartSession()))
        guard case .message(.sessionStarted(let first)) = try client.receive() else {
            Issue.record("session did not start")
            return
        }
        // Stop and start in one write: the start is read while the first session is still being written.
        client.send(ProfdMessage.stopSession.encoded + ProfdMessage.startSession(StartSession()).encoded)
        guard case .message(.error(let error)) = try client.receive() else {
            Issue.record("expected an error for the early start")
            return
        }
        #expect(error.code == .protocolViolation)
        #expect(try client.receive() == .message(.sessionStopped(SessionStopped(sessionId: first.sessionId, reportDirectory: daemon.stateDirectory + "/sessions/" + first.sessionId))))
        client.send(.startSession(StartSession()))
        guard case .message(.sessionStarted(let second)) = try client.receive() else {
            Issue.record("the connection should still serve a new session")
            return
        }
        #expect(second.sessionId != first.sessionId)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a client that never reads its replies is disconnected with whole frames only, and profd serves on")
    func clientThatNeverReads() throws {
        let daemon = try DaemonHarness()
        let reader = try RawConnection(path: daemon.socketPath)
        // Each status request asks for a reply; none is read until the socket buffers are full.
        let requests = [UInt8]((0..<20_000).flatMap { _ in ProfdMessage.statusRequest.encoded })
        reader.send(requests)
        var frames = 0
        var ending: RawConnection.Reply = .message(.statusRequest)
        while true {
            let reply = try reader.receive()  // throws on a broken frame, or after 20 s without end of stream
            guard case .message(.statusReply) = reply else { ending = reply; break }
            frames += 1
        }
        print("a client that never reads: \(frames) whole replies of 20000 arrived, then \(ending)")
        #expect(ending == .closed, "profd closed the connection once a reply could not go out whole")
        #expect(frames > 0 && frames < 20_000)
        let next = try RawConnection(path: daemon.socketPath)
        next.send(.hello(Hello(service: "next")))
        #expect(try next.receive() == .message(.helloAck(HelloAck(daemonVersion: "0.1.0"))))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("fds a client passes that are not a procfs maps file are closed at once; none leak")
    func passedFdsDoNotLeak() throws {
        let daemon = try DaemonHarness()
        func openFds() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.process.pid)/fd").count) ?? -1
        }
        // One connection first, so that lazily opened descriptors (the writer's) exist in the baseline.
        do {
            let warmup = try RawConnection(path: daemon.socketPath)
            warmup.send(.hello(Hello(service: "warmup")))
            _ = try warmup.receive()
        }
        usleep(200_000)
        let baseline = openFds()
        let hello = ProfdMessage.hello(Hello(service: "fd-passer")).encoded
        for candidate in ["/etc/hostname", "/proc/self/status", "/dev/null", "/proc/self/maps"] {
            for _ in 0..<10 {
                let client = try RawConnection(path: daemon.socketPath)
                let passed = open(candidate, O_RDONLY | O_CLOEXEC)
                try #require(passed >= 0)
                let sent = hello.withUnsafeBytes { profd_send_with_fd(client.fd, $0.baseAddress!, $0.count, passed) }
                close(passed)
                #expect(sent == hello.count)
                #expect(try client.receive() == .message(.helloAck(HelloAck(daemonVersion: "0.1.0"))), "\(candidate) did not disturb the hello")
            }
        }
        usleep(300_000)
        #expect(openFds() == baseline, "profd holds no descriptor from closed connections (baseline \(baseline))")
        #expect(daemon.stop().exitCode == 0)
    }
}
