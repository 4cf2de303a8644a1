import Foundation
import ProfdProtocol
import Testing

/// The control messages (status, attach): wire layout, limits and the exact errors.
@Suite("Control messages")
struct ControlMessageTests {
    func error(decoding bytes: [UInt8]) -> ProtocolError? {
        do {
            _ = try decodeAll(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// An attachStart payload with every field chosen by the test.
    func attachPayload(pid: UInt32, durationMs: UInt32 = 0, frequencyHz: UInt32 = 1000, flags: UInt32 = 0) -> [UInt8] {
        var payload: [UInt8] = []
        for value in [pid, durationMs, frequencyHz, flags] {
            for i in 0..<4 { payload.append(UInt8(truncatingIfNeeded: value >> (i * 8))) }
        }
        return payload
    }

    @Test("type numbers, directions and names")
    func types() {
        #expect(MessageType.statusRequest.rawValue == 0x10 && MessageType.attachStart.rawValue == 0x11)
        #expect(MessageType.attachStop.rawValue == 0x12 && MessageType.statusReply.rawValue == 0x90)
        #expect(MessageType.attachStart.isClientToDaemon && !MessageType.statusReply.isClientToDaemon)
        #expect(MessageType.statusReply.description == "statusReply(0x90)")
        #expect(ErrorReply.Code.notFound.rawValue == 9 && ErrorReply.Code.notFound.description == "notFound")
    }

    @Test("attachStart's wire layout: pid, durationMs, frequencyHz, flags, little-endian")
    func attachLayout() throws {
        let frame = ProfdMessage.attachStart(AttachStart(pid: 0x0102_0304, durationMs: 2_000, frequencyHz: 999)).encoded
        #expect(Array(frame.prefix(8)) == [0x50, 0x46, 1, 0x11, 16, 0, 0, 0])
        #expect(Array(frame.dropFirst(8)) == attachPayload(pid: 0x0102_0304, durationMs: 2_000, frequencyHz: 999))
        #expect(ProfdMessage.statusRequest.encoded == [0x50, 0x46, 1, 0x10, 0, 0, 0, 0])
    }

    struct OutOfRange: Sendable, CustomTestStringConvertible {
        var pid: UInt32, durationMs: UInt32 = 0, frequencyHz: UInt32 = 1000, flags: UInt32 = 0
        var reason: String
        var testDescription: String { reason }
    }

    @Test("attachStart fields out of range are malformed", arguments: [
        OutOfRange(pid: 0, reason: "attachStart pid 0 is outside 1...2147483647"),
        OutOfRange(pid: 1 << 31, reason: "attachStart pid 2147483648 is outside 1...2147483647"),
        OutOfRange(pid: 42, durationMs: AttachStart.maximumDurationMs + 1, reason: "attachStart durationMs 86400001 is over 86400000"),
        OutOfRange(pid: 42, frequencyHz: 0, reason: "frequencyHz 0 is outside 1...10000"),
        OutOfRange(pid: 42, frequencyHz: 10_001, reason: "frequencyHz 10001 is outside 1...10000"),
        OutOfRange(pid: 42, flags: 1, reason: "attachStart flags 1 has unknown bits"),
    ])
    func attachOutOfRange(_ c: OutOfRange) {
        let failure = error(decoding: rawFrame(type: 0x11, payload: attachPayload(pid: c.pid, durationMs: c.durationMs,
                                                                                  frequencyHz: c.frequencyHz, flags: c.flags)))
        #expect(failure?.code == .malformed)
        #expect(failure?.reason == c.reason)
        #expect(failure?.replyCode == .badFrame)
    }

    @Test("the encoder never sends an attachStart the decoder rejects")
    func encoderClamps() throws {
        let decoded = try decodeAll(ProfdMessage.attachStart(AttachStart(pid: 0, durationMs: .max, frequencyHz: 0)).encoded)
        #expect(decoded == [.attachStart(AttachStart(pid: 1, durationMs: AttachStart.maximumDurationMs, frequencyHz: 1))])
        let high = try decodeAll(ProfdMessage.attachStart(AttachStart(pid: .max, frequencyHz: .max)).encoded)
        #expect(high == [.attachStart(AttachStart(pid: UInt32(Int32.max), frequencyHz: 10_000))])
    }

    @Test("short or long control payloads are truncated or malformed")
    func shortAndLong() {
        #expect(error(decoding: rawFrame(type: 0x11, payload: Array(attachPayload(pid: 42).dropLast()))) == .truncated)
        #expect(error(decoding: rawFrame(type: 0x11, payload: attachPayload(pid: 42) + [0]))?.code == .malformed)
        #expect(error(decoding: rawFrame(type: 0x10, payload: [0]))?.reason == "1 trailing bytes after the fields of statusRequest(0x10)")
        #expect(error(decoding: rawFrame(type: 0x12, payload: [0x01])) == .truncated)
        #expect(error(decoding: rawFrame(type: 0x90, payload: [0x05, 0x00, 0x7B])) == .truncated)
    }

    @Test("a session id or status document over its limit is malformed; the encoder cuts them")
    func stringLimits() throws {
        let longId = [UInt8](repeating: 0x61, count: ProtocolLimits.sessionId + 1)
        let idFailure = error(decoding: rawFrame(type: 0x12, payload: [UInt8(longId.count), 0] + longId))
        #expect(idFailure?.reason == "sessionId is 129 bytes, limit is 128")

        let count = ProtocolLimits.statusDocument + 1
        let document = [UInt8](repeating: 0x20, count: count)
        let failure = error(decoding: rawFrame(type: 0x90, payload: [UInt8(count & 0xFF), UInt8(count >> 8)] + document))
        #expect(failure?.reason == "document is 65001 bytes, limit is 65000")

        let cut = try decodeAll(ProfdMessage.statusReply(StatusReply(document: String(repeating: "é", count: 40_000))).encoded)
        guard case .statusReply(let reply) = cut.first else { Issue.record("no statusReply"); return }
        #expect(reply.document.utf8.count == ProtocolLimits.statusDocument)
        #expect(ProfdMessage.statusReply(reply).encoded.count <= ProtocolLimits.headerLength + ProtocolLimits.defaultMaximumPayloadLength)
    }

    @Test("the status document round-trips through JSON; retentionLimitBytes is written as null")
    func statusDocument() throws {
        let document = StatusDocument(
            daemon: .init(version: "0.1.0", pid: 812, startedAt: "2026-11-26T16:52:57.407Z", uptimeNs: 5_000_000_000,
                          stateDirectory: "/var/lib/profd", samplesPerSecond: 998, writingSessions: 0),
            disk: .init(sessions: 14, bytes: 3_400_000, retentionLimitBytes: nil),
            sessions: [.init(id: "20261126T165257.407Z-812-1", kind: "client", pid: 812, uid: 1000, unit: "demo.service",
                             service: "demo", executable: "/usr/bin/demo", startedAt: "2026-11-26T16:52:57.407Z",
                             elapsedNs: 1_000_000_000, frequencyHz: 1000, state: "profiling", samples: 998,
                             samplesPerSecond: 998, lostSamples: 0, droppedSamples: 0, spans: 12, droppedSpans: 0)],
            otherUsersSessions: 2)
        let data = try JSONEncoder().encode(document)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""retentionLimitBytes":null"#))
        #expect(text.contains(#""version":1"#))
        #expect(try JSONDecoder().decode(StatusDocument.self, from: data) == document)
    }
}

/// The report-access messages (listRequest, openRequest, fileReply): numbers, layout, round trip.
@Suite("Report access messages")
struct ReportAccessMessageTests {
    @Test("type numbers, directions and names")
    func types() {
        #expect(MessageType.listRequest.rawValue == 0x13 && MessageType.openRequest.rawValue == 0x14)
        #expect(MessageType.fileReply.rawValue == 0x91)
        #expect(MessageType.listRequest.isClientToDaemon && MessageType.openRequest.isClientToDaemon && !MessageType.fileReply.isClientToDaemon)
        #expect(MessageType.openRequest.description == "openRequest(0x14)" && MessageType.fileReply.description == "fileReply(0x91)")
        #expect(MessageType.v1.isSuperset(of: [.listRequest, .openRequest, .fileReply]))
    }

    @Test("encode then decode gives the same message", arguments: [
        ProfdMessage.listRequest(ListRequest(directory: "sessions")),
        .listRequest(ListRequest(directory: "live/20261126T101500.000Z-4242-1")),
        .openRequest(OpenRequest(path: "sessions/20261126T101500.000Z-4242-1/routes/GET%20%2Fcompute.json")),
        .openRequest(OpenRequest(path: "")),
        .fileReply(FileReply(byteCount: 0)),
        .fileReply(FileReply(byteCount: UInt64.max)),
    ])
    func roundTrip(message: ProfdMessage) throws {
        var decoder = FrameDecoder()
        decoder.append(message.encoded)
        #expect(try decoder.decodeNext() == message)
        #expect(try decoder.decodeNext() == nil)
    }

    @Test("wire layout: a length-prefixed string; fileReply a little-endian UInt64")
    func layout() {
        #expect(ProfdMessage.openRequest(OpenRequest(path: "ab")).encoded == [0x50, 0x46, 1, 0x14, 4, 0, 0, 0, 2, 0, 0x61, 0x62])
        #expect(ProfdMessage.fileReply(FileReply(byteCount: 0x0102)).encoded == [0x50, 0x46, 1, 0x91, 8, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0])
    }

    @Test("a fileReply with a short or long payload is truncated or malformed")
    func badPayloads() {
        var short = FrameDecoder()
        short.append([0x50, 0x46, 1, 0x91, 4, 0, 0, 0, 1, 2, 3, 4])
        #expect(throws: ProtocolError.self) { try short.decodeNext() }
        var long = FrameDecoder()
        long.append([0x50, 0x46, 1, 0x91, 9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        #expect(throws: ProtocolError.self) { try long.decodeNext() }
    }
}
