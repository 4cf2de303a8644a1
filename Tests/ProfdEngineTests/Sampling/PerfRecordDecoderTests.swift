#if canImport(Glibc)
import Glibc
#endif
@testable import ProfdEngine
import Testing

/// Builds perf records the way the kernel lays them out for the sampler's `sample_type`.
enum SyntheticRecord {
    static func header(type: UInt32, misc: UInt16, size: Int) -> [UInt8] {
        bytes(type) + bytes(misc) + bytes(UInt16(size))
    }

    static func sample(
        pid: Int32, tid: Int32, timeNs: UInt64, cpu: UInt32, misc: UInt16 = 2 /* USER */, chain: [UInt64]
    ) -> [UInt8] {
        let body = bytes(chain.first { $0 < PerfRecordDecoder.contextMax } ?? 0xffff_ffff_8100_0000)
            + bytes(pid) + bytes(tid) + bytes(timeNs) + bytes(cpu) + bytes(UInt32(0))
            + bytes(UInt64(chain.count)) + chain.flatMap(bytes)
        return header(type: 9, misc: misc, size: 8 + body.count) + body
    }

    static func task(type: UInt32, pid: Int32, tid: Int32, timeNs: UInt64) -> [UInt8] {
        let body = bytes(pid) + bytes(pid) + bytes(tid) + bytes(pid) + bytes(timeNs) + sampleID(pid, tid, timeNs)
        return header(type: type, misc: 0, size: 8 + body.count) + body
    }

    static func comm(pid: Int32, tid: Int32, name: String) -> [UInt8] {
        var nameBytes = Array(name.utf8) + [0]
        while nameBytes.count % 8 != 0 { nameBytes.append(0) }
        let body = bytes(pid) + bytes(tid) + nameBytes + sampleID(pid, tid, 1)
        return header(type: 3, misc: 0, size: 8 + body.count) + body
    }

    static func lost(_ count: UInt64) -> [UInt8] {
        let body = bytes(UInt64(77)) + bytes(count) + sampleID(1, 1, 1)
        return header(type: 2, misc: 0, size: 8 + body.count) + body
    }

    static func sampleID(_ pid: Int32, _ tid: Int32, _ time: UInt64) -> [UInt8] {
        bytes(pid) + bytes(tid) + bytes(time) + bytes(UInt32(0)) + bytes(UInt32(0))
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// Writes `records` into a ring of `size` bytes starting at `start` (wrapping), then walks and decodes them.
func decodeRing(_ records: [[UInt8]], size: Int, start: UInt64) -> (records: [PerfRecordDecoder.Record], tail: UInt64) {
    let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: PerfRecordDecoder.maxRecordSize, alignment: 8)
    defer {
        data.deallocate()
        scratch.deallocate()
    }
    data.initializeMemory(as: UInt8.self, repeating: 0xAA, count: size)
    var head = start
    for record in records {
        for byte in record {
            data.storeBytes(of: byte, toByteOffset: Int(head % UInt64(size)), as: UInt8.self)
            head += 1
        }
    }
    var decoded: [PerfRecordDecoder.Record] = []
    let tail = PerfRecordDecoder.walk(data: data, size: size, tail: start, head: head, scratch: scratch) { type, misc, record in
        decoded.append(PerfRecordDecoder.decode(type: type, misc: misc, record: record))
    }
    return (decoded, tail)
}

@Suite struct PerfRecordDecoderTests {
    static let userMarker = UInt64(bitPattern: -512) // PERF_CONTEXT_USER

    @Test func sampleStripsContextMarkersAndKeepsLeafFirst() {
        let record = SyntheticRecord.sample(
            pid: 10, tid: 11, timeNs: 123_456, cpu: 1, chain: [Self.userMarker, 0x401000, 0x402000, 0x403000])
        let (records, _) = decodeRing([record], size: 4096, start: 0)
        #expect(records == [.sample(RawSample(
            pid: 10, tid: 11, timeNs: 123_456, cpu: 1, inKernel: false, callchain: [0x401000, 0x402000, 0x403000]))])
    }

    @Test func kernelModeSampleIsMarkedAndKeepsUserStack() {
        let record = SyntheticRecord.sample(
            pid: 10, tid: 12, timeNs: 5, cpu: 0, misc: 1 /* KERNEL */, chain: [Self.userMarker, 0x7f00_0000_1000, 0x401000])
        let (records, _) = decodeRing([record], size: 4096, start: 0)
        guard case .sample(let sample) = records.first else {
            Issue.record("expected a sample, got \(records)")
            return
        }
        #expect(sample.inKernel)
        #expect(sample.callchain == [0x7f00_0000_1000, 0x401000])
    }

    @Test(arguments: [4096 - 8, 4096 - 16, 4096 - 40, 4096 - 96])
    func recordsWrappingTheRingEndDecodeIntact(start: Int) {
        let chain: [UInt64] = [Self.userMarker] + (1...20).map { 0x500000 + UInt64($0) * 16 }
        let records = [
            SyntheticRecord.sample(pid: 7, tid: 8, timeNs: 1, cpu: 1, chain: chain),
            SyntheticRecord.task(type: 7, pid: 7, tid: 9, timeNs: 2),
            SyntheticRecord.comm(pid: 7, tid: 9, name: "worker-9"),
            SyntheticRecord.task(type: 4, pid: 7, tid: 9, timeNs: 3),
            SyntheticRecord.lost(42),
        ]
        let ringStart = UInt64(4096 * 3 + start) // positions are free-running, not ring offsets
        let (decoded, tail) = decodeRing(records, size: 4096, start: ringStart)
        #expect(tail == ringStart + UInt64(records.reduce(0) { $0 + $1.count }))
        #expect(decoded == [
            .sample(RawSample(pid: 7, tid: 8, timeNs: 1, cpu: 1, inKernel: false, callchain: Array(chain.dropFirst()))),
            .fork(pid: 7, tid: 9, timeNs: 2),
            .comm(pid: 7, tid: 9, name: "worker-9"),
            .exit(pid: 7, tid: 9, timeNs: 3),
            .lost(count: 42),
        ])
    }

    @Test func truncatedOrCorruptRecordsDoNotTrap() {
        // A sample whose callchain count claims more entries than the record holds.
        var lying = SyntheticRecord.sample(pid: 1, tid: 1, timeNs: 1, cpu: 0, chain: [0x1000])
        lying.replaceSubrange(40..<48, with: SyntheticRecord.bytes(UInt64(1000)))
        let short = SyntheticRecord.header(type: 9, misc: 0, size: 16) + [UInt8](repeating: 0, count: 8)
        let (records, _) = decodeRing([lying, short], size: 4096, start: 0)
        #expect(records == [.malformed, .malformed])

        // A zero-size header stops the walk at head instead of looping forever.
        let zero = SyntheticRecord.header(type: 9, misc: 0, size: 0) + [UInt8](repeating: 0, count: 8)
        let (afterZero, tail) = decodeRing([zero], size: 4096, start: 0)
        #expect(afterZero.isEmpty)
        #expect(tail == 16)
    }

    @Test func cpuListParsing() {
        #expect(PerfSys.parseCPUList("0-1\n") == [0, 1])
        #expect(PerfSys.parseCPUList("0,2-4,7\n") == [0, 2, 3, 4, 7])
        #expect(PerfSys.parseCPUList("3-1") == nil)
        #expect(PerfSys.parseCPUList("x") == nil)
    }

    /// Decode throughput on a synthetic ring; prints ns per sample. Run with PROFD_BENCH=1.
    @Test(.enabled(if: getenv("PROFD_BENCH") != nil))
    func decodeThroughput() {
        let size = 1 << 22
        let chain: [UInt64] = [Self.userMarker] + (1...16).map { 0x500000 + UInt64($0) * 64 }
        let record = SyntheticRecord.sample(pid: 7, tid: 8, timeNs: 1, cpu: 1, chain: chain)
        let count = size / record.count
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: PerfRecordDecoder.maxRecordSize, alignment: 8)
        defer {
            data.deallocate()
            scratch.deallocate()
        }
        for index in 0..<count {
            record.withUnsafeBytes { (data + index * record.count).copyMemory(from: $0.baseAddress!, byteCount: record.count) }
        }
        var samples = 0
        var frames = 0
        let rounds = 20
        let start = profdBenchClock()
        for _ in 0..<rounds {
            _ = PerfRecordDecoder.walk(data: data, size: size, tail: 0, head: UInt64(count * record.count), scratch: scratch) {
                type, misc, bytes in
                if case .sample(let sample) = PerfRecordDecoder.decode(type: type, misc: misc, record: bytes) {
                    samples += 1
                    frames += sample.callchain.count
                }
            }
        }
        let elapsed = profdBenchClock() - start
        print("decode: \(Double(elapsed) / Double(samples)) ns/sample (\(samples) samples, 16 frames each)")
        #expect(samples == count * rounds)
        #expect(frames == samples * 16)
    }
}

func profdBenchClock() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
