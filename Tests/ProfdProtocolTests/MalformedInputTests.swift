import ProfdProtocol
import Testing

@Suite("Protocol v1 rejects malformed input with the exact error")
struct MalformedInputTests {
    /// Runs `bytes` through a fresh decoder and returns the error it throws, if any.
    func error(decoding bytes: [UInt8], maximumPayloadLength: Int = 65_536) -> ProtocolError? {
        do {
            _ = try decodeAll(bytes, maximumPayloadLength: maximumPayloadLength)
            return nil
        } catch {
            return error
        }
    }

    @Test("every proper prefix of a frame is truncated at finish()", arguments: sampleMessages)
    func truncatedPrefixes(_ message: ProfdMessage) throws {
        let frame = message.encoded
        for length in 0..<frame.count {
            var decoder = FrameDecoder()
            decoder.append(frame.prefix(length))
            #expect(try decoder.decodeNext() == nil, "prefix \(length)")
            if length == 0 {
                #expect(throws: Never.self) { try decoder.finish() }
            } else {
                #expect(throws: ProtocolError.truncated, "prefix \(length)") { try decoder.finish() }
            }
        }
    }

    @Test("bad magic is rejected on the first wrong byte", arguments: [[0x51], [0x50, 0x47], [0x00, 0x46]] as [[UInt8]])
    func badMagic(_ prefix: [UInt8]) {
        var decoder = FrameDecoder()
        decoder.append(prefix)
        #expect(throws: ProtocolError.badMagic) { try decoder.decodeNext() }
    }

    @Test("versions other than 1 are rejected", arguments: [0, 2, 0xFF] as [UInt8])
    func unsupportedVersion(_ version: UInt8) {
        var decoder = FrameDecoder()
        decoder.append([0x50, 0x46, version])
        #expect(throws: ProtocolError.unsupportedVersion(version)) { try decoder.decodeNext() }
        #expect(error(decoding: rawFrame(version: version, type: 0x05, payload: [])) == .unsupportedVersion(version))
    }

    @Test("unknown message types are rejected from the header", arguments: [0x00, 0x07, 0x7E, 0x80, 0x84, 0xFF] as [UInt8])
    func unknownType(_ type: UInt8) {
        var decoder = FrameDecoder()
        decoder.append([0x50, 0x46, 0x01, type])
        #expect(throws: ProtocolError.unknownMessageType(type)) { try decoder.decodeNext() }
        #expect(ProtocolError.unknownMessageType(type).replyCode == .unknownMessageType)
    }

    @Test("a 4 GiB length is rejected as soon as the 8 header bytes arrive")
    func hugeLength() throws {
        let header: [UInt8] = [0x50, 0x46, 0x01, 0x03, 0xFF, 0xFF, 0xFF, 0xFF]
        var decoder = FrameDecoder()
        decoder.append(header.prefix(7))
        #expect(try decoder.decodeNext() == nil)
        decoder.append(header.suffix(1))
        #expect(throws: ProtocolError.payloadTooLarge(length: 0xFFFF_FFFF, limit: 65_536)) { try decoder.decodeNext() }
    }

    @Test("the payload limit is configurable and inclusive")
    func configurableLimit() {
        let frame = ProfdMessage.spanBegin(SpanBegin(spanId: 1, threadId: 2, timeNs: 3, route: "/abc")).encoded
        let payload = frame.count - ProtocolLimits.headerLength
        #expect(error(decoding: frame, maximumPayloadLength: payload) == nil)
        #expect(error(decoding: frame, maximumPayloadLength: payload - 1)
                == .payloadTooLarge(length: payload, limit: payload - 1))
        #expect(FrameDecoder(maximumPayloadLength: -5).maximumPayloadLength == 0)
    }

    @Test("a string length beyond the payload is truncated")
    func stringLongerThanPayload() {
        // spanBegin: id, tid, time, then route length 10 with only 3 bytes present.
        let payload = [UInt8](repeating: 0, count: 20) + [0x0A, 0x00, 0x2F, 0x61, 0x62]
        #expect(error(decoding: rawFrame(type: 0x03, payload: payload)) == .truncated)
        // hello with a string length but no bytes at all.
        #expect(error(decoding: rawFrame(type: 0x01, payload: [0x01, 0x00, 0xFF, 0x00])) == .truncated)
    }

    @Test("payloads shorter than their fixed fields are truncated", arguments: [0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x8F] as [UInt8])
    func shortFixedFields(_ type: UInt8) {
        #expect(error(decoding: rawFrame(type: type, payload: [0x01])) == .truncated)
    }

    @Test("a string over its field limit is malformed")
    func stringOverLimit() {
        let service = [UInt8](repeating: 0x61, count: 257)
        let frame = rawFrame(type: 0x01, payload: [0x01, 0x00, 0x01, 0x01] + service)
        let failure = error(decoding: frame)
        #expect(failure?.code == .malformed)
        #expect(failure?.reason == "service is 257 bytes, limit is 256")
        #expect(failure?.replyCode == .badFrame)
    }

    @Test("trailing bytes after the fields are malformed")
    func trailingBytes() {
        #expect(error(decoding: rawFrame(type: 0x05, payload: [0x00]))?.code == .malformed)
        var hello = ProfdMessage.hello(Hello(service: "svc")).encoded
        hello[4] += 1
        hello.append(0x00)
        let failure = error(decoding: hello)
        #expect(failure?.code == .malformed)
        #expect(failure?.reason == "1 trailing bytes after the fields of hello(0x01)")
    }

    @Test("startSession frequencies outside 1...10000 are malformed", arguments: [0, 10_001, UInt32.max])
    func frequencyOutOfRange(_ frequency: UInt32) {
        var payload: [UInt8] = []
        for i in 0..<4 { payload.append(UInt8(truncatingIfNeeded: frequency >> (i * 8))) }
        payload += [0, 0, 0, 0]
        let failure = error(decoding: rawFrame(type: 0x02, payload: payload))
        #expect(failure?.code == .malformed)
        #expect(failure?.reason == "frequencyHz \(frequency) is outside 1...10000")
    }

    @Test("unknown startSession flag bits are malformed")
    func unknownFlags() {
        let frame = rawFrame(type: 0x02, payload: [0xE8, 0x03, 0, 0, 0x02, 0, 0, 0])
        #expect(error(decoding: frame) == .malformed(reason: "startSession flags 2 has unknown bits"))
    }

    @Test("startSession options: unknown format bits, too many patterns, and a cut-off block are rejected")
    func malformedOptions() {
        let header: [UInt8] = [0xE8, 0x03, 0, 0, 0x01, 0, 0, 0]
        let noThreshold = [UInt8](repeating: 0xFF, count: 8)
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x08] + noThreshold + [0, 0, 0, 0, 0, 0]))
                == .malformed(reason: "startSession formats 8 has unknown bits"))
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x01] + noThreshold + [0, 0, 65, 0]))
                == .malformed(reason: "includedRoutes holds 65 patterns, limit is 64"))
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x01] + noThreshold)) == .truncated)
        let emptyLists: [UInt8] = [0, 0, 0, 0, 0, 0]
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x01] + noThreshold + emptyLists + [0x01, 0, 0, 9]))
                == .malformed(reason: "1 trailing bytes after the fields of startSession(0x02)"))
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x01] + noThreshold + emptyLists + [0x04, 0, 0]))
                == .malformed(reason: "startSession keep flags 4 has unknown bits"))
        #expect(error(decoding: rawFrame(type: 0x02, payload: header + [0x01] + noThreshold + emptyLists + [0x01, 0x11, 0x27]))
                == .malformed(reason: "startSession kept share 10001 is over 10000 basis points"))
    }

    @Test("the encoder cuts route lists to the limit, so it never sends what a decoder rejects")
    func encoderCutsPatternLists() throws {
        let patterns = (0..<100).map { "GET /r\($0)" }
        let frame = ProfdMessage.startSession(StartSession(frequencyHz: 10, options: SessionOptions(includedRoutes: patterns))).encoded
        var decoder = FrameDecoder()
        decoder.append(frame)
        guard case .startSession(let start)? = try decoder.decodeNext() else { Issue.record("no startSession"); return }
        #expect(start.options?.includedRoutes == Array(patterns.prefix(64)))
    }

    @Test("after an error the decoder stays failed and drops input")
    func stickyFailure() throws {
        var decoder = FrameDecoder()
        decoder.append([0x50, 0x46, 0x02])
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try decoder.decodeNext() }
        decoder.append(ProfdMessage.stopSession.encoded)
        #expect(decoder.bufferedByteCount == 0)
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try decoder.decodeNext() }
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try decoder.finish() }
    }

    @Test("errors describe themselves and map to wire codes")
    func descriptions() {
        #expect(ProtocolError.payloadTooLarge(length: 70_000, limit: 65_536).description
                == "payload too large: 70000 bytes announced, limit is 65536")
        #expect(ProtocolError.unknownMessageType(0x7E).description == "unknown message type 0x7E")
        #expect(ProtocolError.unsupportedVersion(2).reply
                == ErrorReply(code: .unsupportedVersion, message: "unsupported protocol version 2 (this side speaks 1)"))
        #expect(ProtocolError.payloadTooLarge(length: 1, limit: 0).replyCode == .payloadTooLarge)
        #expect(ProtocolError.truncated.replyCode == .badFrame && ProtocolError.badMagic.replyCode == .badFrame)
        #expect(ProtocolError.unsupportedVersion(3).version == 3 && ProtocolError.truncated.version == nil)
        #expect(ProtocolError.truncated != ProtocolError.badMagic)
    }
}

@Suite("Strings repaired from invalid UTF-8 (found by Fuzz/, docs/fuzzing.md)")
struct RepairedStringTests {
    /// 43 bytes of 0xFF under a 128-byte session id: 43 U+FFFD are 129 bytes, one over the limit. The decoder
    /// used to return that 129-byte string, which the encoder cut to 126 bytes, so decode → encode → decode
    /// changed the message (libFuzzer's round-trip property; crash input reduced to this).
    @Test("a string whose U+FFFD repair outgrows its limit is cut, fits, and round-trips")
    func repairedStringIsCutToItsLimit() throws {
        let payload: [UInt8] = [43, 0] + [UInt8](repeating: 0xFF, count: 43) + [0, 0]
        let messages = try decodeAll(rawFrame(type: MessageType.sessionStopped.rawValue, payload: payload))
        guard case .sessionStopped(let stopped)? = messages.first, messages.count == 1 else {
            Issue.record("decoded \(messages)")
            return
        }
        #expect(stopped.sessionId.utf8.count <= ProtocolLimits.sessionId)
        #expect(stopped.sessionId == String(repeating: "\u{FFFD}", count: 42))
        #expect(try decodeAll(messages[0].encoded) == messages)
    }

    @Test("a route of invalid bytes at its limit decodes within the limit and round-trips")
    func repairedRouteAtLimit() throws {
        let route = [UInt8](repeating: 0x80, count: ProtocolLimits.route)
        var payload: [UInt8] = [UInt8](repeating: 1, count: 20)
        payload += [UInt8(ProtocolLimits.route & 0xFF), UInt8(ProtocolLimits.route >> 8)] + route
        let messages = try decodeAll(rawFrame(type: MessageType.spanBegin.rawValue, payload: payload))
        guard case .spanBegin(let begin)? = messages.first else {
            Issue.record("decoded \(messages)")
            return
        }
        #expect(begin.route.utf8.count == 1023)  // 341 whole U+FFFD
        #expect(try decodeAll(messages[0].encoded) == messages)
    }
}
