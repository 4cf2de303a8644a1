import ProfdProtocol

/// One message of every v1 type, with values that exercise every byte of every field.
let sampleMessages: [ProfdMessage] = [
    .hello(Hello(protocolVersion: 1, service: "checkout-api")),
    .hello(Hello(protocolVersion: 0xBEEF, service: "")),
    .startSession(StartSession(frequencyHz: 1000)),
    .startSession(StartSession(frequencyHz: 99, options: SessionOptions())),
    .startSession(StartSession(frequencyHz: 500, options: SessionOptions(
        formats: SessionOptions.formatText | SessionOptions.formatHTML, slowThresholdNs: 250_000_000,
        reportFileName: "{time}-{route}", includedRoutes: ["GET /api/*", "/ü/*"], excludedRoutes: ["GET /health"],
        keepServerErrors: false, keptBasisPoints: 2_500, logKeptRequests: true))),
    .startSession(StartSession(frequencyHz: 10_000)),
    .startSession(StartSession(frequencyHz: 1)),
    .spanBegin(SpanBegin(spanId: 0x0102_0304_0506_0708, threadId: 0xA1B2_C3D4, timeNs: .max, route: "/users/:id")),
    .spanEnd(SpanEnd(spanId: 1, threadId: 4242, timeNs: 123_456_789, httpStatus: 404, route: "")),
    .spanEnd(SpanEnd(spanId: .max, threadId: 0, timeNs: 0, httpStatus: .max, route: "/ünïcödé/€/🚀")),
    .stopSession,
    .runSlices(RunSlices(slices: [])),
    .runSlices(RunSlices(slices: [
        RunSlice(spanId: 7, threadId: 4242, beginNs: 1_000, endNs: 1_500),
        RunSlice(spanId: .max, threadId: .max, beginNs: 0, endNs: .max),
    ])),
    .helloAck(HelloAck(protocolVersion: 1, daemonVersion: "profd 0.1.0")),
    .sessionStarted(SessionStarted(sessionId: "20261126T112008Z-4242", frequencyHz: 997)),
    .sessionStopped(SessionStopped(sessionId: "s-1", reportDirectory: "/var/lib/profd/reports/checkout-api/s-1")),
    .error(ErrorReply(code: .protocolViolation, message: "spanBegin before startSession")),
    .error(ErrorReply(code: ErrorReply.Code(rawValue: 0xFFFF), message: "a code from a newer daemon")),
    .error(ErrorReply(code: .notFound, message: "no process 4242")),
    .statusRequest,
    .attachStart(AttachStart(pid: 4242, durationMs: 30_000, frequencyHz: 999)),
    .attachStart(AttachStart(pid: UInt32(Int32.max), durationMs: AttachStart.maximumDurationMs, frequencyHz: 10_000)),
    .attachStart(AttachStart(pid: 1, durationMs: 0, frequencyHz: 1)),
    .attachStop(AttachStop(sessionId: "20261126T165257.407Z-4242-3")),
    .statusReply(StatusReply(document: #"{"version":1,"sessions":[],"ü":"€"}"#)),
    .statusReply(StatusReply(document: "")),
]

/// Decodes all frames in `bytes` and checks that the stream ends on a frame boundary.
func decodeAll(_ bytes: [UInt8], maximumPayloadLength: Int = ProtocolLimits.defaultMaximumPayloadLength)
    throws(ProtocolError) -> [ProfdMessage]
{
    var decoder = FrameDecoder(maximumPayloadLength: maximumPayloadLength)
    decoder.append(bytes)
    var messages: [ProfdMessage] = []
    while let message = try decoder.decodeNext() { messages.append(message) }
    try decoder.finish()
    return messages
}

/// A frame with an arbitrary header and payload, for building invalid input.
func rawFrame(version: UInt8 = 1, type: UInt8, payload: [UInt8], announcedLength: UInt32? = nil) -> [UInt8] {
    let length = announcedLength ?? UInt32(payload.count)
    return [0x50, 0x46, version, type,
            UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
            UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 24)] + payload
}

/// A deterministic 64-bit generator (SplitMix64), so fuzz failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
