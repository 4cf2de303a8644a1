import ProfdEngine
import Testing

@Suite("Where request time went")
struct TimeBreakdownTests {
    static let metadata = SessionMetadata(
        id: "s", service: "svc", pid: 1, uid: 0, executable: "/app", startedAt: "2026-11-26T00:00:00.000Z",
        endedAt: "2026-11-26T00:00:01.000Z", durationNs: 1_000_000_000, frequencyHz: 1000, endReason: "stopped",
        daemonVersion: "0.1.0")

    @Test("wall = CPU + off CPU on a thread + suspended, and nothing exceeds wall")
    func add() {
        var time = TimeBreakdown()
        time.add(wallNs: 210, cpuNs: 10, onThreadNs: 12)
        time.add(wallNs: 100, cpuNs: 500, onThreadNs: 900)  // inconsistent input is clamped, not trusted
        #expect(time == TimeBreakdown(requests: 2, wallNs: 310, cpuNs: 110, offCPUNs: 2, suspendedNs: 198))
    }

    @Test("a sliced span's samples come only from its slices, and its gaps count as suspended")
    func slicedSpan() throws {
        var capture = Capture()
        // One request from 0 to 210 ms; its task ran on thread 1 for 0–2 ms and on thread 2 for 200–210 ms.
        capture.spans = [SpanRecord(spanId: 1, route: "/sleepy", threadId: 1, beginNs: 0, endNs: 210_000_000, status: 200)]
        capture.slices = [
            RunSliceRecord(span: 0, threadId: 1, beginNs: 0, endNs: 2_000_000),
            RunSliceRecord(span: 0, threadId: 2, beginNs: 200_000_000, endNs: 210_000_000),
        ]
        for ms in 0..<2 { capture.add(tid: 1, timeNs: UInt64(ms) * 1_000_000 + 500_000, addresses: [0x1], inKernel: false) }
        for ms in 200..<209 { capture.add(tid: 2, timeNs: UInt64(ms) * 1_000_000 + 500_000, addresses: [0x2], inKernel: false) }
        // Thread 1 at 100 ms runs another request's work: not this one's, though inside its begin…end.
        capture.add(tid: 1, timeNs: 100_000_000, addresses: [0x3], inKernel: false)
        let reports = ReportBuilder(metadata: Self.metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: "f\($0)", binary: "/app") }
        }
        let (session, routes) = (reports.session, reports.routes)
        let time = try #require(routes.first?.requests.time)
        #expect(routes.first?.samples == 11)
        #expect(time == TimeBreakdown(requests: 1, wallNs: 210_000_000, cpuNs: 11_000_000, offCPUNs: 1_000_000, suspendedNs: 198_000_000))
        #expect(session.tree.inclusiveSamples(ofFunction: "(unattributed)") == 1)
    }
}
