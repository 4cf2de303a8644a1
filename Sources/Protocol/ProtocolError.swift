/// Why bytes could not be decoded as protocol v1 frames.
///
/// Compare with `==` against the static constructors, or switch on `code`. Once a `FrameDecoder` has thrown
/// one, the stream is out of sync and the connection should be closed.
public struct ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, without its details: an open set.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case truncated, badMagic, unsupportedVersion, unknownMessageType, payloadTooLarge, malformed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The input ended mid-frame, or a payload is shorter than its fields.
        public static let truncated = Code(.truncated)
        /// A frame does not start with `"PF"`.
        public static let badMagic = Code(.badMagic)
        /// The header's version byte is not one this decoder speaks.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The header's type byte is not a known message type.
        public static let unknownMessageType = Code(.unknownMessageType)
        /// The header's payload length exceeds the decoder's limit.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// The payload breaks a field rule (trailing bytes, string too long, value out of range).
        public static let malformed = Code(.malformed)

        public var description: String {
            switch value {
            case .truncated: "truncated"
            case .badMagic: "badMagic"
            case .unsupportedVersion: "unsupportedVersion"
            case .unknownMessageType: "unknownMessageType"
            case .payloadTooLarge: "payloadTooLarge"
            case .malformed: "malformed"
            }
        }
    }

    private enum Detail: Equatable, Sendable {
        case none
        case version(UInt8)
        case messageType(UInt8)
        case size(length: Int, limit: Int)
        case reason(String)
    }

    /// The kind of failure.
    public let code: Code
    private let detail: Detail

    private init(_ code: Code, _ detail: Detail) {
        self.code = code
        self.detail = detail
    }

    /// The input ended mid-frame, or a payload is shorter than its fields.
    public static let truncated = ProtocolError(.truncated, .none)
    /// A frame does not start with `"PF"`.
    public static let badMagic = ProtocolError(.badMagic, .none)
    /// The header carries protocol version `version`, which this decoder does not speak.
    public static func unsupportedVersion(_ version: UInt8) -> ProtocolError {
        ProtocolError(.unsupportedVersion, .version(version))
    }
    /// The header carries message type `type`, which is not defined in v1.
    public static func unknownMessageType(_ type: UInt8) -> ProtocolError {
        ProtocolError(.unknownMessageType, .messageType(type))
    }
    /// The header announces `length` payload bytes; the decoder accepts at most `limit`.
    public static func payloadTooLarge(length: Int, limit: Int) -> ProtocolError {
        ProtocolError(.payloadTooLarge, .size(length: length, limit: limit))
    }
    /// The payload breaks a field rule; `reason` says which.
    public static func malformed(reason: String) -> ProtocolError {
        ProtocolError(.malformed, .reason(reason))
    }

    /// The version byte, for `unsupportedVersion`.
    public var version: UInt8? {
        if case .version(let v) = detail { v } else { nil }
    }
    /// The type byte, for `unknownMessageType`.
    public var messageType: UInt8? {
        if case .messageType(let t) = detail { t } else { nil }
    }
    /// The announced payload length, for `payloadTooLarge`.
    public var length: Int? {
        if case .size(let length, _) = detail { length } else { nil }
    }
    /// The decoder's payload limit, for `payloadTooLarge`.
    public var limit: Int? {
        if case .size(_, let limit) = detail { limit } else { nil }
    }
    /// The broken rule, for `malformed`.
    public var reason: String? {
        if case .reason(let r) = detail { r } else { nil }
    }

    /// The wire error code a daemon sends back (in an `ErrorReply`) for this failure.
    public var replyCode: ErrorReply.Code {
        switch code {
        case .unsupportedVersion: .unsupportedVersion
        case .unknownMessageType: .unknownMessageType
        case .payloadTooLarge: .payloadTooLarge
        default: .badFrame
        }
    }

    /// The `ErrorReply` a daemon sends before closing a connection that produced this failure.
    public var reply: ErrorReply { ErrorReply(code: replyCode, message: description) }

    public var description: String {
        switch detail {
        case .none where code == .truncated:
            "truncated frame: input ended mid-frame or a payload is shorter than its fields"
        case .none:
            "bad magic: a frame must start with 0x50 0x46 (\"PF\")"
        case .version(let v):
            "unsupported protocol version \(v) (this side speaks \(ProfdProtocolVersion.current))"
        case .messageType(let t):
            "unknown message type 0x\(hex(t))"
        case .size(let length, let limit):
            "payload too large: \(length) bytes announced, limit is \(limit)"
        case .reason(let reason):
            "malformed payload: \(reason)"
        }
    }
}
