import ProfdEngine
import Testing

@Suite("Off-CPU time from context switches")
struct OffCPUTimeTests {
    static func build(_ capture: Capture) throws -> TimeBreakdown {
        let reports = ReportBuilder(metadata: TimeBreakdownTests.metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: "f\($0)", binary: "/app") }
        }
        return try #require(reports.routes.first?.requests.time)
    }

    static let ms: UInt64 = 1_000_000

    /// A sync request on thread 7 from 0 to 110 ms: blocked from 0.5 to 100.5 ms, runs the rest. Thread 8 runs
    /// other work; its own switches must not count.
    static func blockingCapture(cpuSamples: Int) -> Capture {
        var capture = Capture()
        capture.spans = [SpanRecord(spanId: 1, route: "/blocking", threadId: 7, beginNs: 0, endNs: 110 * ms, status: 200)]
        for record: ContextSwitch in [
            .init(tid: 7, timeNs: ms / 2, kind: .switchOut), .init(tid: 7, timeNs: 100 * ms + ms / 2, kind: .switchIn),
            .init(tid: 8, timeNs: 20 * ms, kind: .switchOut), .init(tid: 8, timeNs: 60 * ms, kind: .switchIn),
            // After the request: not its time.
            .init(tid: 7, timeNs: 115 * ms, kind: .switchOut),
        ] { capture.add(record) }
        for index in 0..<cpuSamples {
            capture.add(tid: 7, timeNs: 101 * ms + UInt64(index) * ms / 2, addresses: [0x1], inKernel: false)
        }
        return capture
    }

    @Test("a sync request's off-CPU time is the overlap of its thread's switch-out intervals with the request")
    func syncRequest() throws {
        // 12 samples (12 ms) overstate the 9.5 ms it ran; 7 understate it: both give the exact split.
        for samples in [12, 7] {
            let time = try Self.build(Self.blockingCapture(cpuSamples: samples))
            #expect(time == TimeBreakdown(requests: 1, wallNs: 110 * Self.ms, cpuNs: 10 * Self.ms,
                                          offCPUNs: 100 * Self.ms, suspendedNs: 0))
        }
    }

    @Test("a sliced request counts off-CPU time only inside its slices; its gaps are suspended")
    func slicedRequest() throws {
        var capture = Capture()
        capture.spans = [SpanRecord(spanId: 1, route: "/mixed", threadId: 1, beginNs: 0, endNs: 300 * Self.ms, status: 200)]
        capture.slices = [
            RunSliceRecord(span: 0, threadId: 1, beginNs: 0, endNs: 50 * Self.ms),
            RunSliceRecord(span: 0, threadId: 2, beginNs: 200 * Self.ms, endNs: 300 * Self.ms),
        ]
        for record: ContextSwitch in [
            // Thread 1 blocks 10–40 ms inside the first slice, and 60–190 ms outside any slice of the request.
            .init(tid: 1, timeNs: 10 * Self.ms, kind: .switchOut), .init(tid: 1, timeNs: 40 * Self.ms, kind: .switchIn),
            .init(tid: 1, timeNs: 60 * Self.ms, kind: .switchOut), .init(tid: 1, timeNs: 190 * Self.ms, kind: .switchIn),
            // Thread 2 is preempted 250–270 ms, and blocks from 290 ms to after the request ended.
            .init(tid: 2, timeNs: 250 * Self.ms, kind: .preempted), .init(tid: 2, timeNs: 270 * Self.ms, kind: .switchIn),
            .init(tid: 2, timeNs: 290 * Self.ms, kind: .switchOut), .init(tid: 2, timeNs: 400 * Self.ms, kind: .switchIn),
        ] { capture.add(record) }
        capture.add(tid: 1, timeNs: 5 * Self.ms, addresses: [0x1], inKernel: false)
        let time = try Self.build(capture)
        // On a thread 150 ms, off CPU 30 + 20 + 10 ms, suspended the 150 ms between slices.
        #expect(time == TimeBreakdown(requests: 1, wallNs: 300 * Self.ms, cpuNs: 90 * Self.ms,
                                      offCPUNs: 60 * Self.ms, suspendedNs: 150 * Self.ms))
    }

    @Test("without switch records (an older capture) off CPU is estimated from samples as before")
    func fallback() throws {
        var capture = Self.blockingCapture(cpuSamples: 12)
        capture.switches = []
        let time = try Self.build(capture)
        #expect(time == TimeBreakdown(requests: 1, wallNs: 110 * Self.ms, cpuNs: 12 * Self.ms,
                                      offCPUNs: 98 * Self.ms, suspendedNs: 0))
    }

    @Test("a request that ended after switch records began to be dropped falls back to the estimate")
    func droppedSwitches() throws {
        var capture = Self.blockingCapture(cpuSamples: 12)
        capture.switchesCompleteUntilNs = 105 * Self.ms
        let time = try Self.build(capture)
        #expect(time.cpuNs == 12 * Self.ms)
        #expect(time.offCPUNs == 98 * Self.ms)
    }
}
