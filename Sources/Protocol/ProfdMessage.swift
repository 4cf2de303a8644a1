/// One protocol v1 message, in either direction.
public enum ProfdMessage: Sendable, Equatable {
    case hello(Hello)
    case startSession(StartSession)
    case spanBegin(SpanBegin)
    case spanEnd(SpanEnd)
    case stopSession
    case runSlices(RunSlices)
    case helloAck(HelloAck)
    case sessionStarted(SessionStarted)
    case sessionStopped(SessionStopped)
    case error(ErrorReply)
    case statusRequest
    case attachStart(AttachStart)
    case attachStop(AttachStop)
    case statusReply(StatusReply)
    case listRequest(ListRequest)
    case openRequest(OpenRequest)
    case fileReply(FileReply)

    /// The header type byte of this message.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .startSession: .startSession
        case .spanBegin: .spanBegin
        case .spanEnd: .spanEnd
        case .stopSession: .stopSession
        case .runSlices: .runSlices
        case .helloAck: .helloAck
        case .sessionStarted: .sessionStarted
        case .sessionStopped: .sessionStopped
        case .error: .error
        case .statusRequest: .statusRequest
        case .attachStart: .attachStart
        case .attachStop: .attachStop
        case .statusReply: .statusReply
        case .listRequest: .listRequest
        case .openRequest: .openRequest
        case .fileReply: .fileReply
        }
    }

    /// Appends this message as one complete frame (header + payload) to `buffer`.
    ///
    /// Never produces a frame a v1 decoder rejects: strings longer than their field limit are cut at the last
    /// UTF-8 character boundary within the limit, and `StartSession.frequencyHz` is clamped into range.
    /// Route lists longer than `SessionOptions.maximumPatterns` are cut.
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(ProtocolLimits.magic.0)
        buffer.append(ProtocolLimits.magic.1)
        buffer.append(ProfdProtocolVersion.current)
        buffer.append(type.rawValue)
        buffer.appendLittleEndian(UInt32(0))  // payload length, patched below
        switch self {
        case .hello(let m):
            buffer.appendLittleEndian(m.protocolVersion)
            buffer.appendString(m.service, limit: ProtocolLimits.serviceName)
        case .startSession(let m):
            let range = StartSession.frequencyRange
            buffer.appendLittleEndian(min(max(m.frequencyHz, range.lowerBound), range.upperBound))
            if let options = m.options {
                buffer.appendLittleEndian(StartSession.flagHasOptions)
                buffer.append(options.formats)
                buffer.appendLittleEndian(options.slowThresholdNs ?? .max)
                buffer.appendString(options.reportFileName, limit: SessionOptions.maximumFileNameTemplate)
                for list in [options.includedRoutes, options.excludedRoutes] {
                    let kept = list.prefix(SessionOptions.maximumPatterns)
                    buffer.appendLittleEndian(UInt16(kept.count))
                    for pattern in kept { buffer.appendString(pattern, limit: ProtocolLimits.route) }
                }
                buffer.append((options.keepServerErrors ? SessionOptions.keepServerErrorsFlag : 0)
                              | (options.logKeptRequests ? SessionOptions.logKeptRequestsFlag : 0))
                buffer.appendLittleEndian(min(options.keptBasisPoints, 10_000))
            } else {
                buffer.appendLittleEndian(UInt32(0))
            }
        case .spanBegin(let m):
            buffer.appendLittleEndian(m.spanId)
            buffer.appendLittleEndian(m.threadId)
            buffer.appendLittleEndian(m.timeNs)
            buffer.appendString(m.route, limit: ProtocolLimits.route)
        case .spanEnd(let m):
            buffer.appendLittleEndian(m.spanId)
            buffer.appendLittleEndian(m.threadId)
            buffer.appendLittleEndian(m.timeNs)
            buffer.appendLittleEndian(m.httpStatus)
            buffer.appendString(m.route, limit: ProtocolLimits.route)
        case .stopSession:
            break
        case .runSlices(let m):
            // Slices beyond the limit are not sent; clients split batches at `RunSlices.maximumCount`.
            let slices = m.slices.prefix(RunSlices.maximumCount)
            buffer.appendLittleEndian(UInt16(slices.count))
            for slice in slices {
                buffer.appendLittleEndian(slice.spanId)
                buffer.appendLittleEndian(slice.threadId)
                buffer.appendLittleEndian(slice.beginNs)
                buffer.appendLittleEndian(slice.endNs)
            }
        case .helloAck(let m):
            buffer.appendLittleEndian(m.protocolVersion)
            buffer.appendString(m.daemonVersion, limit: ProtocolLimits.daemonVersion)
        case .sessionStarted(let m):
            buffer.appendString(m.sessionId, limit: ProtocolLimits.sessionId)
            buffer.appendLittleEndian(m.frequencyHz)
        case .sessionStopped(let m):
            buffer.appendString(m.sessionId, limit: ProtocolLimits.sessionId)
            buffer.appendString(m.reportDirectory, limit: ProtocolLimits.path)
        case .error(let m):
            buffer.appendLittleEndian(m.code.rawValue)
            buffer.appendString(m.message, limit: ProtocolLimits.message)
        case .statusRequest:
            break
        case .attachStart(let m):
            let range = StartSession.frequencyRange
            buffer.appendLittleEndian(min(max(m.pid, 1), UInt32(Int32.max)))
            buffer.appendLittleEndian(min(m.durationMs, AttachStart.maximumDurationMs))
            buffer.appendLittleEndian(min(max(m.frequencyHz, range.lowerBound), range.upperBound))
            buffer.appendLittleEndian(UInt32(0))  // flags
        case .attachStop(let m):
            buffer.appendString(m.sessionId, limit: ProtocolLimits.sessionId)
        case .statusReply(let m):
            buffer.appendString(m.document, limit: ProtocolLimits.statusDocument)
        case .listRequest(let m):
            buffer.appendString(m.directory, limit: ProtocolLimits.path)
        case .openRequest(let m):
            buffer.appendString(m.path, limit: ProtocolLimits.path)
        case .fileReply(let m):
            buffer.appendLittleEndian(m.byteCount)
        }
        // Every v1 payload is below 64 KiB (runSlices: 2 + 2048 × 28 bytes; statusReply: 2 + 65 000), so the length fits in UInt32.
        let length = UInt32(buffer.count - start - ProtocolLimits.headerLength)
        buffer[start + 4] = UInt8(truncatingIfNeeded: length)
        buffer[start + 5] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[start + 6] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[start + 7] = UInt8(truncatingIfNeeded: length >> 24)
    }

    /// This message as one complete frame.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    /// Decodes the payload of a frame whose header announced `type`.
    ///
    /// Throws `unknownMessageType` for types v1 does not define, `truncated` if a field runs past the payload,
    /// and `malformed` for trailing bytes, over-long strings, or out-of-range values.
    static func decode(type: MessageType, payload: ArraySlice<UInt8>) throws(ProtocolError) -> ProfdMessage {
        var r = PayloadReader(payload)
        let message: ProfdMessage
        switch type {
        case .hello:
            let version = try r.uint16()
            message = .hello(Hello(protocolVersion: version, service: try r.string("service", limit: ProtocolLimits.serviceName)))
        case .startSession:
            let frequency = try r.uint32()
            let flags = try r.uint32()
            guard StartSession.frequencyRange.contains(frequency) else {
                throw .malformed(reason: "frequencyHz \(frequency) is outside 1...10000")
            }
            guard flags & ~StartSession.flagHasOptions == 0 else {
                throw .malformed(reason: "startSession flags \(flags) has unknown bits")
            }
            var options: SessionOptions?
            if flags & StartSession.flagHasOptions != 0 {
                let formats = try r.uint8()
                guard formats & ~(SessionOptions.formatText | SessionOptions.formatJSON | SessionOptions.formatHTML) == 0 else {
                    throw .malformed(reason: "startSession formats \(formats) has unknown bits")
                }
                let threshold = try r.uint64()
                let template = try r.string("reportFileName", limit: SessionOptions.maximumFileNameTemplate)
                var lists: [[String]] = []
                for name in ["includedRoutes", "excludedRoutes"] {
                    let count = Int(try r.uint16())
                    guard count <= SessionOptions.maximumPatterns else {
                        throw .malformed(reason: "\(name) holds \(count) patterns, limit is \(SessionOptions.maximumPatterns)")
                    }
                    var list: [String] = []
                    for _ in 0..<count { list.append(try r.string(name, limit: ProtocolLimits.route)) }
                    lists.append(list)
                }
                let keep = try r.uint8()
                guard keep & ~(SessionOptions.keepServerErrorsFlag | SessionOptions.logKeptRequestsFlag) == 0 else {
                    throw .malformed(reason: "startSession keep flags \(keep) has unknown bits")
                }
                let basisPoints = try r.uint16()
                guard basisPoints <= 10_000 else {
                    throw .malformed(reason: "startSession kept share \(basisPoints) is over 10000 basis points")
                }
                options = SessionOptions(formats: formats, slowThresholdNs: threshold == .max ? nil : threshold,
                                         reportFileName: template, includedRoutes: lists[0], excludedRoutes: lists[1],
                                         keepServerErrors: keep & SessionOptions.keepServerErrorsFlag != 0,
                                         keptBasisPoints: basisPoints,
                                         logKeptRequests: keep & SessionOptions.logKeptRequestsFlag != 0)
            }
            message = .startSession(StartSession(frequencyHz: frequency, options: options))
        case .spanBegin:
            let id = try r.uint64()
            let tid = try r.uint32()
            let time = try r.uint64()
            message = .spanBegin(SpanBegin(spanId: id, threadId: tid, timeNs: time,
                                           route: try r.string("route", limit: ProtocolLimits.route)))
        case .spanEnd:
            let id = try r.uint64()
            let tid = try r.uint32()
            let time = try r.uint64()
            let status = try r.uint16()
            message = .spanEnd(SpanEnd(spanId: id, threadId: tid, timeNs: time, httpStatus: status,
                                       route: try r.string("route", limit: ProtocolLimits.route)))
        case .stopSession:
            message = .stopSession
        case .runSlices:
            let count = Int(try r.uint16())
            guard count <= RunSlices.maximumCount else {
                throw .malformed(reason: "runSlices holds \(count) slices, limit is \(RunSlices.maximumCount)")
            }
            guard r.remaining == count * RunSlices.encodedSliceLength else {
                throw r.remaining < count * RunSlices.encodedSliceLength
                    ? .truncated : .malformed(reason: "runSlices has bytes after its \(count) slices")
            }
            var slices: [RunSlice] = []
            slices.reserveCapacity(count)
            for _ in 0..<count {
                let span = try r.uint64()
                let tid = try r.uint32()
                let begin = try r.uint64()
                let end = try r.uint64()
                guard end >= begin else { throw .malformed(reason: "a run slice ends before it begins") }
                slices.append(RunSlice(spanId: span, threadId: tid, beginNs: begin, endNs: end))
            }
            message = .runSlices(RunSlices(slices: slices))
        case .helloAck:
            let version = try r.uint16()
            message = .helloAck(HelloAck(protocolVersion: version,
                                         daemonVersion: try r.string("daemonVersion", limit: ProtocolLimits.daemonVersion)))
        case .sessionStarted:
            let id = try r.string("sessionId", limit: ProtocolLimits.sessionId)
            message = .sessionStarted(SessionStarted(sessionId: id, frequencyHz: try r.uint32()))
        case .sessionStopped:
            let id = try r.string("sessionId", limit: ProtocolLimits.sessionId)
            message = .sessionStopped(SessionStopped(sessionId: id,
                                                     reportDirectory: try r.string("reportDirectory", limit: ProtocolLimits.path)))
        case .error:
            let code = ErrorReply.Code(rawValue: try r.uint16())
            message = .error(ErrorReply(code: code, message: try r.string("message", limit: ProtocolLimits.message)))
        case .statusRequest:
            message = .statusRequest
        case .attachStart:
            let pid = try r.uint32()
            let duration = try r.uint32()
            let frequency = try r.uint32()
            let flags = try r.uint32()
            guard pid >= 1, pid <= UInt32(Int32.max) else {
                throw .malformed(reason: "attachStart pid \(pid) is outside 1...\(Int32.max)")
            }
            guard duration <= AttachStart.maximumDurationMs else {
                throw .malformed(reason: "attachStart durationMs \(duration) is over \(AttachStart.maximumDurationMs)")
            }
            guard StartSession.frequencyRange.contains(frequency) else {
                throw .malformed(reason: "frequencyHz \(frequency) is outside 1...10000")
            }
            guard flags == 0 else { throw .malformed(reason: "attachStart flags \(flags) has unknown bits") }
            message = .attachStart(AttachStart(pid: pid, durationMs: duration, frequencyHz: frequency))
        case .attachStop:
            message = .attachStop(AttachStop(sessionId: try r.string("sessionId", limit: ProtocolLimits.sessionId)))
        case .statusReply:
            message = .statusReply(StatusReply(document: try r.string("document", limit: ProtocolLimits.statusDocument)))
        case .listRequest:
            message = .listRequest(ListRequest(directory: try r.string("directory", limit: ProtocolLimits.path)))
        case .openRequest:
            message = .openRequest(OpenRequest(path: try r.string("path", limit: ProtocolLimits.path)))
        case .fileReply:
            message = .fileReply(FileReply(byteCount: try r.uint64()))
        default:
            throw .unknownMessageType(type.rawValue)
        }
        try r.expectEnd(type)
        return message
    }
}
