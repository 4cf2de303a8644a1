import ProfdProtocol
import Testing

@Suite("runSlices payload")
struct RunSlicesTests {
    /// count (UInt16 LE) + slices of 28 bytes.
    private func payload(count: UInt16, slices: [(UInt64, UInt32, UInt64, UInt64)], extra: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(count & 0xFF), UInt8(count >> 8)]
        for (span, tid, begin, end) in slices {
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: span >> UInt64(shift))) }
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: tid >> UInt32(shift))) }
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: begin >> UInt64(shift))) }
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: end >> UInt64(shift))) }
        }
        return bytes + extra
    }

    @Test("a count larger than the slices present is truncated, not an allocation")
    func countBeyondPayload() {
        #expect(throws: ProtocolError.truncated) {
            try decodeAll(rawFrame(type: 0x06, payload: payload(count: 2, slices: [(1, 1, 1, 2)])))
        }
    }

    @Test("more slices than the limit are rejected from the count alone")
    func overLimit() {
        #expect(throws: ProtocolError.self) {
            try decodeAll(rawFrame(type: 0x06, payload: payload(count: UInt16(RunSlices.maximumCount + 1), slices: [])))
        }
    }

    @Test("bytes after the slices are malformed")
    func trailing() {
        #expect(throws: ProtocolError.self) {
            try decodeAll(rawFrame(type: 0x06, payload: payload(count: 1, slices: [(1, 1, 1, 2)], extra: [0])))
        }
    }

    @Test("a slice that ends before it begins is malformed")
    func backwards() {
        #expect(throws: ProtocolError.self) {
            try decodeAll(rawFrame(type: 0x06, payload: payload(count: 1, slices: [(1, 1, 5, 4)])))
        }
    }

    @Test("a full batch round-trips")
    func fullBatch() throws {
        let slices = (0..<RunSlices.maximumCount).map {
            RunSlice(spanId: UInt64($0), threadId: UInt32($0), beginNs: UInt64($0), endNs: UInt64($0) + 1)
        }
        let message = ProfdMessage.runSlices(RunSlices(slices: slices))
        #expect(message.encoded.count <= ProtocolLimits.headerLength + ProtocolLimits.defaultMaximumPayloadLength)
        #expect(try decodeAll(message.encoded) == [message])
    }

    @Test("the encoder never exceeds the limit")
    func encoderCaps() throws {
        let many = (0..<(RunSlices.maximumCount + 10)).map { RunSlice(spanId: UInt64($0), threadId: 1, beginNs: 0, endNs: 1) }
        let decoded = try decodeAll(ProfdMessage.runSlices(RunSlices(slices: many)).encoded)
        guard case .runSlices(let batch) = decoded.first else {
            Issue.record("expected runSlices, got \(decoded)")
            return
        }
        #expect(batch.slices.count == RunSlices.maximumCount)
    }
}
