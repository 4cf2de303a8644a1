import ProfdEngine

/// A deterministic capture and a fake symbolizer: what the golden tests render byte for byte.
///
/// The fake symbolizer is a test double for address → name lookup only; the real symbolizer has its own
/// tests against real ELF files.
enum ReportFixtures {
    static let executable = "/srv/app/.build/release/demo-app"

    /// Address → frame. Addresses 0x1000… are in the app, 0x7f… in libraries.
    static let symbols: [UInt64: Frame] = [
        0x7f00_0001: Frame(function: "start_thread", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        0x7f00_0002: Frame(function: "NIOPosix.SelectableEventLoop.run()", binary: executable),
        0x7f00_0003: Frame(function: "Hummingbird.Router.respond(to:context:)", binary: executable),
        0x1001: Frame(function: "closure #1 in DemoApp.buildRouter()", binary: executable),
        0x1002: Frame(function: "DemoApp.randomNumber()", binary: executable),
        0x1003: Frame(function: "DemoApp.addNumbers(_:_:)", binary: executable),
        0x1004: Frame(function: "DemoApp.hashPayload(rounds:)", binary: executable),
        0x7f00_0010: Frame(function: "Swift.Int.random<A>(in:using:)", binary: executable),
        0x7f00_0011: Frame(function: "getrandom", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        0x7f00_0020: Frame(function: "epoll_wait", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
    ]

    static func symbolize(_ stack: StackTable.Stack) -> [Frame] {
        stack.addresses.map { symbols[$0] ?? Frame(function: "0x" + String($0, radix: 16), binary: "[unknown]") }
    }

    static let base: [UInt64] = [0x7f00_0003, 0x7f00_0002, 0x7f00_0001]

    /// Two routes on two threads, some idle time, one request still running at the end.
    static func capture() -> Capture {
        var capture = Capture()
        // Thread 11 serves /compute from t=1000 to 2000, thread 12 serves /hash from 1500 to 2500.
        capture.spans = [
            SpanRecord(spanId: 1, route: "/compute", threadId: 11, beginNs: 1_000, endNs: 2_000, endThreadId: 11, status: 200),
            SpanRecord(spanId: 2, route: "/hash", threadId: 12, beginNs: 1_500, endNs: 2_500, endThreadId: 12, status: 200),
            SpanRecord(spanId: 3, route: "/compute", threadId: 11, beginNs: 3_000, endNs: nil, status: 0),
        ]
        func add(_ tid: Int32, _ time: UInt64, _ leafFirst: [UInt64], kernel: Bool = false, times: Int = 1) {
            for offset in 0..<times {
                capture.add(tid: tid, timeNs: time + UInt64(offset), addresses: leafFirst + [0x1001] + base, inKernel: kernel)
            }
        }
        add(11, 1_100, [0x7f00_0011, 0x7f00_0010, 0x1002], kernel: true, times: 6)   // randomNumber → getrandom → kernel
        add(11, 1_200, [0x7f00_0010, 0x1002], times: 2)                               // randomNumber → Int.random
        add(11, 1_300, [0x1003], times: 2)                                            // addNumbers
        add(12, 1_600, [0x1004], times: 5)                                            // hashPayload
        add(11, 3_100, [0x1003], times: 1)                                            // the unfinished /compute
        // Idle event loop between requests: no span owns it.
        for offset in 0..<4 {
            capture.add(tid: 11, timeNs: 2_100 + UInt64(offset), addresses: [0x7f00_0020] + base, inKernel: true)
        }
        capture.lostSamples = 3
        return capture
    }

    static let metadata = SessionMetadata(
        id: "20261126T111755.123Z-4242-1", service: "demo-app", pid: 4242, uid: 1000, executable: executable,
        startedAt: "2026-11-26T11:17:55.123Z", endedAt: "2026-11-26T11:18:05.123Z", durationNs: 10_000_000_000,
        frequencyHz: 1000, endReason: "stopped", lostSamples: 3, daemonVersion: "0.1.0")

    static func reports() -> ReportBuilder.Reports {
        ReportBuilder(metadata: metadata, capture: capture()).build(symbolize: symbolize)
    }
}
