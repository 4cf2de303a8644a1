/// Turns a byte stream into `ProfdMessage`s, one frame at a time.
///
/// Feed bytes with `append`, then call `decodeNext()` until it returns nil (more bytes needed). At end of
/// stream call `finish()`. The header is checked byte by byte as it arrives, so garbage is rejected before its
/// announced payload is awaited, and no buffer is sized from an unchecked length. Buffered bytes stay within
/// header + `maximumPayloadLength` + the last appended chunk, provided the caller drains with `decodeNext()`
/// after each `append`.
///
/// After any method throws, the decoder is failed for good: later calls rethrow the same error and appended
/// bytes are discarded. The stream has lost frame sync, so the connection should be closed.
public struct FrameDecoder: Sendable {
    /// The largest payload length accepted in a header; larger ones throw `payloadTooLarge`.
    public let maximumPayloadLength: Int

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: ProtocolError?

    /// Creates a decoder; `maximumPayloadLength` is clamped into `0...UInt32.max`.
    public init(maximumPayloadLength: Int = ProtocolLimits.defaultMaximumPayloadLength) {
        self.maximumPayloadLength = min(max(0, maximumPayloadLength), Int(UInt32.max))
    }

    /// Bytes received but not yet consumed by a decoded frame.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends received bytes. Ignored once the decoder has failed.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes from raw memory. Ignored once the decoder has failed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Decodes the next complete frame, or returns nil if more bytes are needed.
    ///
    /// Throws `badMagic`, `unsupportedVersion`, `unknownMessageType` or `payloadTooLarge` as soon as the
    /// offending header byte is buffered, and `truncated` or `malformed` once a complete payload breaks its
    /// field rules.
    public mutating func decodeNext() throws(ProtocolError) -> ProfdMessage? {
        if let failure { throw failure }
        do {
            return try decodeFrame()
        } catch {
            failure = error
            buffer = []
            readIndex = 0
            throw error
        }
    }

    /// Declares end of stream: throws `truncated` if undecoded bytes remain (a partial frame).
    ///
    /// Call it after `decodeNext()` returned nil. Rethrows the earlier error if the decoder has failed.
    public func finish() throws(ProtocolError) {
        if let failure { throw failure }
        if bufferedByteCount > 0 { throw .truncated }
    }

    private mutating func decodeFrame() throws(ProtocolError) -> ProfdMessage? {
        let available = buffer.count - readIndex
        let h = readIndex
        if available >= 1, buffer[h] != ProtocolLimits.magic.0 { throw .badMagic }
        if available >= 2, buffer[h + 1] != ProtocolLimits.magic.1 { throw .badMagic }
        if available >= 3, buffer[h + 2] != ProfdProtocolVersion.current { throw .unsupportedVersion(buffer[h + 2]) }
        if available >= 4, !MessageType.v1.contains(MessageType(rawValue: buffer[h + 3])) {
            throw .unknownMessageType(buffer[h + 3])
        }
        guard available >= ProtocolLimits.headerLength else { return nil }

        var announced: UInt32 = 0
        for i in 0..<4 { announced |= UInt32(buffer[h + 4 + i]) << (i * 8) }
        guard UInt64(announced) <= UInt64(maximumPayloadLength) else {
            throw .payloadTooLarge(length: Int(announced), limit: maximumPayloadLength)
        }
        let length = Int(announced)
        guard available - ProtocolLimits.headerLength >= length else { return nil }

        let payloadStart = h + ProtocolLimits.headerLength
        let message = try ProfdMessage.decode(type: MessageType(rawValue: buffer[h + 3]),
                                              payload: buffer[payloadStart..<(payloadStart + length)])
        readIndex = payloadStart + length
        return message
    }

    /// Drops consumed bytes so the buffer never holds more than the current partial frame plus new input.
    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeSubrange(0..<readIndex)
        }
        readIndex = 0
    }
}
