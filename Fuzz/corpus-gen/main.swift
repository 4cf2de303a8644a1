// Writes the seed corpus Fuzz/corpus/: valid frames of every v1 message type, a stream of several frames, and a
// few malformed inputs, each prefixed with the fuzzer's control byte (see Fuzz/ProtocolFuzzer.swift).
// Compiled in one module with Sources/Protocol by Fuzz/make-corpus.sh, so it uses the real encoder.
import Foundation

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Fuzz/corpus"

let messages: [(String, ProfdMessage)] = [
    ("hello", .hello(Hello(protocolVersion: 1, service: "checkout-api"))),
    ("startSession", .startSession(StartSession(frequencyHz: 1000))),
    ("startSession-options", .startSession(StartSession(frequencyHz: 500, options: SessionOptions(
        formats: SessionOptions.formatText | SessionOptions.formatJSON | SessionOptions.formatHTML,
        slowThresholdNs: 250_000_000, reportFileName: "{time}-{route}",
        includedRoutes: ["GET /api/*", "/ü/*"], excludedRoutes: ["GET /health"],
        keepServerErrors: true, keptBasisPoints: 2_500, logKeptRequests: true)))),
    ("spanBegin", .spanBegin(SpanBegin(spanId: 0x0102_0304_0506_0708, threadId: 4242, timeNs: 123_456, route: "/users/:id"))),
    ("spanEnd", .spanEnd(SpanEnd(spanId: 1, threadId: 4242, timeNs: 123_999, httpStatus: 200, route: "/ünïcödé/🚀"))),
    ("stopSession", .stopSession),
    ("runSlices", .runSlices(RunSlices(slices: [
        RunSlice(spanId: 7, threadId: 4242, beginNs: 1_000, endNs: 1_500),
        RunSlice(spanId: 8, threadId: 4243, beginNs: 0, endNs: .max),
    ]))),
    ("helloAck", .helloAck(HelloAck(protocolVersion: 1, daemonVersion: "profd 0.1.0"))),
    ("sessionStarted", .sessionStarted(SessionStarted(sessionId: "20261126T112008Z-4242", frequencyHz: 997))),
    ("sessionStopped", .sessionStopped(SessionStopped(sessionId: "s-1", reportDirectory: "/var/lib/profd/reports/s-1"))),
    ("error", .error(ErrorReply(code: .protocolViolation, message: "spanBegin before startSession"))),
    ("statusRequest", .statusRequest),
    ("attachStart", .attachStart(AttachStart(pid: 4242, durationMs: 30_000, frequencyHz: 999))),
    ("attachStop", .attachStop(AttachStop(sessionId: "20261126T165257.407Z-4242-3"))),
    ("statusReply", .statusReply(StatusReply(document: #"{"version":1,"sessions":[],"ü":"€"}"#))),
    ("listRequest", .listRequest(ListRequest(directory: "live/20261126T165257.407Z-4242-3"))),
    ("openRequest", .openRequest(OpenRequest(path: "sessions/20261126T165257.407Z-4242-3/routes/GET%20%2Fcompute.json"))),
    ("fileReply", .fileReply(FileReply(byteCount: 947_631))),
]

func header(type: UInt8, length: UInt32, version: UInt8 = 1) -> [UInt8] {
    [0x50, 0x46, version, type] + (0..<4).map { UInt8(truncatingIfNeeded: length >> ($0 * 8)) }
}

var seeds: [(String, [UInt8])] = []
for (name, message) in messages {
    seeds.append(("valid-\(name)", [0x00] + message.encoded))          // whole stream in one append
}
// A client session as one stream, fed in chunks (control byte 0x2A) and under the 32-byte limit (0xAA).
let session: [ProfdMessage] = [messages[0].1, messages[2].1, messages[3].1, messages[6].1, messages[4].1, .stopSession]
let stream = session.flatMap(\.encoded)
seeds.append(("stream-chunked", [0x2A] + stream))
seeds.append(("stream-small-limit", [0xAA] + stream))
// Malformed: each should end in a different ProtocolError.
seeds.append(("bad-magic", [0x00, 0x50, 0x47, 1, 5, 0, 0, 0, 0]))
seeds.append(("bad-version", [0x00] + header(type: 0x05, length: 0, version: 2)))
seeds.append(("bad-type", [0x00] + header(type: 0x7E, length: 0)))
seeds.append(("too-large", [0x00] + header(type: 0x90, length: 0x0001_0001)))
seeds.append(("truncated", [0x03] + Array(messages[3].1.encoded.dropLast(3))))
seeds.append(("trailing-bytes", [0x00] + header(type: 0x05, length: 1) + [0]))
seeds.append(("string-too-long", [0x00] + header(type: 0x12, length: 131) + [129, 0] + [UInt8](repeating: 0x61, count: 129)))
seeds.append(("invalid-utf8", [0x00] + header(type: 0x12, length: 12) + [10, 0, 0xFF, 0xC3, 0x28, 0xE2, 0x82, 0x80, 0xF0, 0x9F, 0x98, 0x61]))
seeds.append(("runslice-backwards", [0x00] + header(type: 0x06, length: 30) + [1, 0] + [UInt8](repeating: 0, count: 12)
              + [9, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]))

try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
for (name, bytes) in seeds {
    try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
}
print("wrote \(seeds.count) seeds to \(directory)")
