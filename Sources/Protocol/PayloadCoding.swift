extension [UInt8] {
    /// Appends `value` in little-endian byte order.
    mutating func appendLittleEndian<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        for byte in 0..<MemoryLayout<T>.size { append(UInt8(truncatingIfNeeded: value >> (byte * 8))) }
    }

    /// Appends a UInt16 length and the UTF-8 bytes of `s`, cut to at most `limit` bytes at a character boundary.
    mutating func appendString(_ s: String, limit: Int) {
        let length = utf8PrefixLength(s, limit: limit)
        appendLittleEndian(UInt16(truncatingIfNeeded: length))
        append(contentsOf: s.utf8.prefix(length))
    }
}

/// How many UTF-8 bytes of `s` fit in `limit` without splitting a scalar: all of them, or a cut at the last
/// scalar boundary within the limit.
func utf8PrefixLength(_ s: String, limit: Int) -> Int {
    let utf8 = s.utf8
    var length = utf8.count
    if length > limit {
        length = limit
        // Back off over continuation bytes (10xxxxxx) so the cut never splits a scalar.
        while length > 0, utf8[utf8.index(utf8.startIndex, offsetBy: length)] & 0xC0 == 0x80 {
            length -= 1
        }
    }
    return length
}

/// Reads little-endian fields from one frame payload. Every read checks bounds and throws, never traps.
struct PayloadReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    private mutating func take(_ count: Int) throws(ProtocolError) -> Range<Int> {
        guard bytes.endIndex - position >= count else { throw .truncated }
        defer { position += count }
        return position..<(position + count)
    }

    private mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(ProtocolError) -> T {
        let range = try take(MemoryLayout<T>.size)
        var value: T = 0
        for (shift, index) in range.enumerated() { value |= T(bytes[index]) << (shift * 8) }
        return value
    }

    /// Bytes not read yet.
    var remaining: Int { bytes.endIndex - position }

    mutating func uint8() throws(ProtocolError) -> UInt8 { try integer(UInt8.self) }
    mutating func uint16() throws(ProtocolError) -> UInt16 { try integer(UInt16.self) }
    mutating func uint32() throws(ProtocolError) -> UInt32 { try integer(UInt32.self) }
    mutating func uint64() throws(ProtocolError) -> UInt64 { try integer(UInt64.self) }

    /// Reads a length-prefixed string; invalid UTF-8 becomes U+FFFD. Over-long → `malformed`, short → `truncated`.
    ///
    /// A U+FFFD takes 3 bytes where the invalid byte took 1, so a repaired string can outgrow `limit`; it is then
    /// cut as the encoder would cut it. The result always fits `limit` and re-encodes to itself.
    mutating func string(_ field: String, limit: Int) throws(ProtocolError) -> String {
        let length = Int(try uint16())
        guard length <= limit else {
            throw .malformed(reason: "\(field) is \(length) bytes, limit is \(limit)")
        }
        let range = try take(length)
        let decoded = String(decoding: bytes[range], as: UTF8.self)
        guard decoded.utf8.count > limit else { return decoded }
        return String(decoding: decoded.utf8.prefix(utf8PrefixLength(decoded, limit: limit)), as: UTF8.self)
    }

    /// Throws `malformed` if payload bytes remain after the last field.
    func expectEnd(_ type: MessageType) throws(ProtocolError) {
        let extra = bytes.endIndex - position
        guard extra == 0 else { throw .malformed(reason: "\(extra) trailing bytes after the fields of \(type)") }
    }
}
