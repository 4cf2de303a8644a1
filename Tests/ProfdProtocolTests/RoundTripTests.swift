import ProfdProtocol
import Testing

@Suite("Protocol v1 encoding and round trips")
struct RoundTripTests {
    @Test("every message type decodes to itself", arguments: sampleMessages)
    func roundTrip(_ message: ProfdMessage) throws {
        let frame = message.encoded
        #expect(frame.count >= ProtocolLimits.headerLength)
        #expect(Array(frame.prefix(4)) == [0x50, 0x46, 1, message.type.rawValue])
        let length = Int(frame[4]) | Int(frame[5]) << 8 | Int(frame[6]) << 16 | Int(frame[7]) << 24
        #expect(length == frame.count - ProtocolLimits.headerLength)
        #expect(try decodeAll(frame) == [message])
    }

    @Test("a frame fed one byte at a time decodes only on its last byte", arguments: sampleMessages)
    func byteAtATime(_ message: ProfdMessage) throws {
        let frame = message.encoded
        var decoder = FrameDecoder()
        for (index, byte) in frame.enumerated() {
            decoder.append(CollectionOfOne(byte))
            let decoded = try decoder.decodeNext()
            if index < frame.count - 1 {
                #expect(decoded == nil, "decoded early at byte \(index) of \(frame.count)")
            } else {
                #expect(decoded == message)
            }
        }
        #expect(try decoder.decodeNext() == nil)
        try decoder.finish()
    }

    @Test("many frames in one buffer decode in order")
    func manyFramesInOneBuffer() throws {
        var bytes: [UInt8] = []
        var expected: [ProfdMessage] = []
        for round in 0..<50 {
            for message in sampleMessages {
                message.encode(into: &bytes)
                expected.append(message)
            }
            let span = ProfdMessage.spanBegin(SpanBegin(spanId: UInt64(round), threadId: 7, timeNs: 9, route: "/r"))
            span.encode(into: &bytes)
            expected.append(span)
        }
        #expect(try decodeAll(bytes) == expected)
    }

    @Test("frames split at arbitrary chunk boundaries decode the same")
    func arbitraryChunks() throws {
        var bytes: [UInt8] = []
        for message in sampleMessages { message.encode(into: &bytes) }
        let largestFrame = sampleMessages.map(\.encoded.count).max() ?? 0
        for chunk in [2, 3, 7, 8, 9, 64, 1000] {
            var decoder = FrameDecoder()
            var decoded: [ProfdMessage] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                decoder.append(bytes[offset..<end])
                offset = end
                while let message = try decoder.decodeNext() { decoded.append(message) }
                #expect(decoder.bufferedByteCount <= largestFrame + chunk)
            }
            try decoder.finish()
            #expect(decoded == sampleMessages, "chunk size \(chunk)")
        }
    }

    @Test("the wire layout is little-endian in field order")
    func goldenSpanEnd() {
        let message = ProfdMessage.spanEnd(SpanEnd(spanId: 0x0102_0304_0506_0708, threadId: 0x0A0B_0C0D,
                                                   timeNs: 0x1112_1314_1516_1718, httpStatus: 0x01F4, route: "/a"))
        let expected: [UInt8] = [
            0x50, 0x46, 0x01, 0x04, 0x1A, 0x00, 0x00, 0x00,  // header: PF, v1, spanEnd, 26-byte payload
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // spanId
            0x0D, 0x0C, 0x0B, 0x0A,  // threadId
            0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,  // timeNs
            0xF4, 0x01,  // httpStatus 500
            0x02, 0x00, 0x2F, 0x61,  // route "/a"
        ]
        #expect(message.encoded == expected)
        #expect(ProfdMessage.stopSession.encoded == [0x50, 0x46, 0x01, 0x05, 0, 0, 0, 0])
    }

    @Test("encode(into:) appends to existing bytes")
    func encodeAppends() throws {
        var bytes: [UInt8] = [0xAA]
        ProfdMessage.stopSession.encode(into: &bytes)
        #expect(bytes == [0xAA, 0x50, 0x46, 0x01, 0x05, 0, 0, 0, 0])
    }

    @Test("over-long strings are cut at a UTF-8 boundary within the limit",
          arguments: ["a", "é", "€", "🚀"])
    func truncation(_ unit: String) throws {
        let service = String(repeating: unit, count: 2000)
        let route = String(repeating: unit, count: 3000)
        let messages: [ProfdMessage] = [
            .hello(Hello(service: service)),
            .spanBegin(SpanBegin(spanId: 1, threadId: 1, timeNs: 1, route: route)),
            .spanEnd(SpanEnd(spanId: 1, threadId: 1, timeNs: 1, route: route)),
            .sessionStopped(SessionStopped(sessionId: service, reportDirectory: route + route)),
        ]
        let limits = [ProtocolLimits.serviceName, ProtocolLimits.route, ProtocolLimits.route, ProtocolLimits.sessionId]
        let decoded = try decodeAll(messages.flatMap(\.encoded))
        #expect(decoded.count == messages.count)
        let unitBytes = unit.utf8.count
        let strings: [String] = decoded.map {
            switch $0 {
            case .hello(let m): m.service
            case .spanBegin(let m): m.route
            case .spanEnd(let m): m.route
            case .sessionStopped(let m): m.sessionId
            default: ""
            }
        }
        for (string, limit) in zip(strings, limits) {
            #expect(string.utf8.count == limit - limit % unitBytes)
            #expect(string == String(repeating: unit, count: limit / unitBytes))
        }
        if case .sessionStopped(let m) = decoded[3] {
            #expect(m.reportDirectory.utf8.count == ProtocolLimits.path - ProtocolLimits.path % unitBytes)
        }
    }

    @Test("encoding clamps the sampling frequency into 1...10000")
    func frequencyClamp() throws {
        let low = try decodeAll(ProfdMessage.startSession(StartSession(frequencyHz: 0)).encoded)
        let high = try decodeAll(ProfdMessage.startSession(StartSession(frequencyHz: 50_000)).encoded)
        #expect(low == [.startSession(StartSession(frequencyHz: 1))])
        #expect(high == [.startSession(StartSession(frequencyHz: 10_000))])
    }

    @Test("invalid UTF-8 decodes with replacement characters")
    func lossyUTF8() throws {
        let payload: [UInt8] = [0x01, 0x00, 0x05, 0x00, 0x61, 0xFF, 0x62, 0xE2, 0x82]  // "a", bad, "b", cut "€"
        let decoded = try decodeAll(rawFrame(type: 0x01, payload: payload))
        #expect(decoded == [.hello(Hello(protocolVersion: 1, service: "a\u{FFFD}b\u{FFFD}"))])
    }

    @Test("message types are an open set with known names")
    func messageTypes() {
        #expect(MessageType.v1.count == 17)
        #expect(sampleMessages.allSatisfy { MessageType.v1.contains($0.type) })
        #expect(MessageType.hello.isClientToDaemon && !MessageType.helloAck.isClientToDaemon)
        #expect(MessageType(rawValue: 0x7E).description == "unknown(0x7E)")
        #expect(MessageType.error.description == "error(0x8F)")
        #expect(ErrorReply.Code.limitExceeded.rawValue == 8 && ErrorReply.Code.badFrame.rawValue == 1)
    }
}
