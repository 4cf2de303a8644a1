@testable import ProfdEngine
import Testing

/// `PERF_RECORD_SWITCH` (type 14): a header and the sample_id trailer, as laid out for the sampler's events.
@Suite("Context-switch records")
struct ContextSwitchRecordTests {
    static func switchRecord(pid: Int32, tid: Int32, timeNs: UInt64, misc: UInt16) -> [UInt8] {
        let body = SyntheticRecord.sampleID(pid, tid, timeNs)
        return SyntheticRecord.header(type: 14, misc: misc, size: 8 + body.count) + body
    }

    @Test("switch-out, preemption and switch-in decode from the misc bits, with pid, tid and time")
    func decodesKinds() {
        let records = [
            Self.switchRecord(pid: 7, tid: 8, timeNs: 1_000, misc: 0x2000),            // SWITCH_OUT
            Self.switchRecord(pid: 7, tid: 8, timeNs: 2_000, misc: 0),                 // switch-in
            Self.switchRecord(pid: 7, tid: 9, timeNs: 3_000, misc: 0x2000 | 0x4000),   // SWITCH_OUT | PREEMPT
            Self.switchRecord(pid: 7, tid: 9, timeNs: 4_000, misc: 2),                 // switch-in, user mode bits
        ]
        #expect(records.allSatisfy { $0.count == 32 })
        // Start near the end so one record wraps around the ring.
        let (decoded, tail) = decodeRing(records, size: 4096, start: 4096 - 48)
        #expect(tail == 4096 - 48 + 128)
        #expect(decoded == [
            .contextSwitch(pid: 7, ContextSwitch(tid: 8, timeNs: 1_000, kind: .switchOut)),
            .contextSwitch(pid: 7, ContextSwitch(tid: 8, timeNs: 2_000, kind: .switchIn)),
            .contextSwitch(pid: 7, ContextSwitch(tid: 9, timeNs: 3_000, kind: .preempted)),
            .contextSwitch(pid: 7, ContextSwitch(tid: 9, timeNs: 4_000, kind: .switchIn)),
        ])
    }

    @Test("a switch record too short for its trailer is malformed, not a trap")
    func shortRecord() {
        let record = SyntheticRecord.header(type: 14, misc: 0x2000, size: 16) + SyntheticRecord.bytes(UInt64(7))
        let (decoded, _) = decodeRing([record], size: 4096, start: 0)
        #expect(decoded == [.malformed])
    }

    @Test("a capture pairs each thread's switches into off-CPU intervals, whatever order the rings gave them")
    func pairsIntervals() {
        var capture = Capture()
        // Thread 1: out at 10 (on CPU 0's ring) and in at 20 (CPU 1's ring, drained first); preempted at 30, back at 35.
        // Thread 2: first seen switching in at 5 (off CPU since before the session), out at 50 and never back.
        // Thread 3: a lost switch-in between two switch-outs, and a lost switch-out between two switch-ins.
        let arrival: [ContextSwitch] = [
            .init(tid: 1, timeNs: 20, kind: .switchIn), .init(tid: 1, timeNs: 35, kind: .switchIn),
            .init(tid: 2, timeNs: 5, kind: .switchIn),
            .init(tid: 1, timeNs: 10, kind: .switchOut), .init(tid: 1, timeNs: 30, kind: .preempted),
            .init(tid: 2, timeNs: 50, kind: .switchOut),
            .init(tid: 3, timeNs: 100, kind: .switchOut), .init(tid: 3, timeNs: 110, kind: .switchOut),
            .init(tid: 3, timeNs: 120, kind: .switchIn), .init(tid: 3, timeNs: 130, kind: .switchIn),
        ]
        for record in arrival { capture.add(record, limit: 9) }
        #expect(capture.switches.count == 9)
        #expect(capture.droppedSwitches == 1)
        #expect(capture.switchesCompleteUntilNs == 130)
        let intervals = capture.offCPUIntervals()
        #expect(intervals[1] == [OffCPUInterval(beginNs: 10, endNs: 20), OffCPUInterval(beginNs: 30, endNs: 35, preempted: true)])
        #expect(intervals[2] == [OffCPUInterval(beginNs: 0, endNs: 5), OffCPUInterval(beginNs: 50, endNs: .max)])
        #expect(intervals[3] == [OffCPUInterval(beginNs: 110, endNs: 120)])
        #expect(intervals[1]?.overlap(beginNs: 15, endNs: 32) == 7)
        #expect(intervals[2]?.overlap(beginNs: 40, endNs: 1_000) == 950)
        #expect(intervals[2]?.overlap(beginNs: 6, endNs: 49) == 0)
    }
}
