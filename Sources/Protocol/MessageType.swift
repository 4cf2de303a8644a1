/// The message type byte of a frame header.
///
/// An open set: v1 defines the constants below; later versions add types without changing this struct.
/// Client→daemon types use 0x01–0x7F and daemon→client types use 0x80–0xFF.
public struct MessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Client → daemon: protocol handshake.
    public static let hello = MessageType(rawValue: 0x01)
    /// Client → daemon: begin sampling this process.
    public static let startSession = MessageType(rawValue: 0x02)
    /// Client → daemon: a request span began on a thread.
    public static let spanBegin = MessageType(rawValue: 0x03)
    /// Client → daemon: a request span ended.
    public static let spanEnd = MessageType(rawValue: 0x04)
    /// Client → daemon: when a span's async work ran on which thread; see `RunSlices`.
    public static let runSlices = MessageType(rawValue: 0x06)
    /// Client → daemon: stop sampling and write the report.
    public static let stopSession = MessageType(rawValue: 0x05)
    /// Daemon → client: handshake reply.
    public static let helloAck = MessageType(rawValue: 0x81)
    /// Daemon → client: sampling started.
    public static let sessionStarted = MessageType(rawValue: 0x82)
    /// Daemon → client: sampling stopped, report written.
    public static let sessionStopped = MessageType(rawValue: 0x83)
    /// Daemon → client: a request failed; see `ErrorReply`.
    public static let error = MessageType(rawValue: 0x8F)

    // Control messages (profctl ↔ daemon), 0x10–0x1F and 0x90–0x9F.
    /// Control → daemon: what is the daemon doing? Answered with `statusReply`.
    public static let statusRequest = MessageType(rawValue: 0x10)
    /// Control → daemon: profile a running process that does not link ProfClient; see `AttachStart`.
    public static let attachStart = MessageType(rawValue: 0x11)
    /// Control → daemon: stop an attach session and write its reports; see `AttachStop`.
    public static let attachStop = MessageType(rawValue: 0x12)
    /// Control → daemon: list stored sessions or live entries the requester may read; see `ListRequest`.
    public static let listRequest = MessageType(rawValue: 0x13)
    /// Control → daemon: open one report file read-only; see `OpenRequest`.
    public static let openRequest = MessageType(rawValue: 0x14)
    /// Daemon → control: an open file, passed with the frame (SCM_RIGHTS); see `FileReply`.
    public static let fileReply = MessageType(rawValue: 0x91)
    /// Daemon → control: the daemon's status as a JSON document; see `StatusReply`.
    public static let statusReply = MessageType(rawValue: 0x90)

    /// The types protocol v1 defines; the decoder rejects all others with `unknownMessageType`.
    /// The control messages (`statusRequest`, `attachStart`, `attachStop`, `statusReply`) were added to v1
    /// later: a daemon that predates them answers them with `error(unknownMessageType)` and closes.
    public static let v1: Set<MessageType> = [
        .hello, .startSession, .spanBegin, .spanEnd, .stopSession, .runSlices,
        .helloAck, .sessionStarted, .sessionStopped, .error,
        .statusRequest, .attachStart, .attachStop, .statusReply,
        .listRequest, .openRequest, .fileReply,
    ]

    /// True for types a client sends to the daemon (0x00–0x7F).
    public var isClientToDaemon: Bool { rawValue < 0x80 }

    public var description: String {
        let name: String
        switch self {
        case .hello: name = "hello"
        case .startSession: name = "startSession"
        case .spanBegin: name = "spanBegin"
        case .spanEnd: name = "spanEnd"
        case .stopSession: name = "stopSession"
        case .runSlices: name = "runSlices"
        case .helloAck: name = "helloAck"
        case .sessionStarted: name = "sessionStarted"
        case .sessionStopped: name = "sessionStopped"
        case .error: name = "error"
        case .statusRequest: name = "statusRequest"
        case .attachStart: name = "attachStart"
        case .attachStop: name = "attachStop"
        case .statusReply: name = "statusReply"
        case .listRequest: name = "listRequest"
        case .openRequest: name = "openRequest"
        case .fileReply: name = "fileReply"
        default: name = "unknown"
        }
        return "\(name)(0x\(hex(rawValue)))"
    }
}

/// Two uppercase hex digits.
func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16, uppercase: true)
    return byte < 0x10 ? "0" + digits : digits
}
