/// The wire protocol version this module speaks; it is byte 2 of every frame header.
public enum ProfdProtocolVersion {
    /// Protocol v1: the only version this build encodes and accepts.
    public static let current: UInt8 = 1
}

/// Sizes and limits of protocol v1. Both sides enforce the same numbers.
public enum ProtocolLimits {
    /// The frame header: magic (2), version (1), type (1), payload length (4, LE).
    public static let headerLength = 8
    /// The two magic bytes that open every frame: `"PF"`.
    public static let magic: (UInt8, UInt8) = (0x50, 0x46)
    /// Default largest payload a `FrameDecoder` accepts. Every v1 message fits well below it.
    public static let defaultMaximumPayloadLength = 65_536

    /// Longest service name, in UTF-8 bytes.
    public static let serviceName = 256
    /// Longest route, in UTF-8 bytes.
    public static let route = 1024
    /// Longest session id, in UTF-8 bytes.
    public static let sessionId = 128
    /// Longest daemon version string, in UTF-8 bytes.
    public static let daemonVersion = 256
    /// Longest error message, in UTF-8 bytes.
    public static let message = 4096
    /// Longest filesystem path, in UTF-8 bytes.
    public static let path = 4096
    /// Longest status document (`statusReply`), in UTF-8 bytes: it fits a String's UInt16 length and the
    /// default payload limit. The daemon leaves sessions out (and says how many) rather than exceed it.
    public static let statusDocument = 65_000
}
