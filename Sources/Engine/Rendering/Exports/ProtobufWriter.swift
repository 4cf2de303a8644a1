/// A minimal protocol-buffers encoder (proto3 wire format), enough for pprof's profile.proto.
///
/// Fields are written in the order they are added. Scalar fields equal to zero are omitted, as proto3
/// does, so the bytes only depend on the values.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    enum WireType: UInt8 {
        case varint = 0
        case lengthDelimited = 2
    }

    init() {}

    mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func appendKey(_ field: Int, _ wireType: WireType) {
        appendVarint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// A `uint64` field; omitted when zero.
    mutating func uint64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        appendKey(field, .varint)
        appendVarint(value)
    }

    /// An `int64` field; omitted when zero. Negative values take ten bytes (two's complement), as proto3 says.
    mutating func int64(_ field: Int, _ value: Int64) {
        uint64(field, UInt64(bitPattern: value))
    }

    /// A `bool` field; omitted when false.
    mutating func bool(_ field: Int, _ value: Bool) {
        uint64(field, value ? 1 : 0)
    }

    /// A `bytes` field, or one element of a repeated `string`/`bytes` field: always written, even when empty.
    mutating func bytes(_ field: Int, _ value: some Collection<UInt8>) {
        appendKey(field, .lengthDelimited)
        appendVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// One element of a repeated `string` field (always written, so an empty string keeps its place).
    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// An embedded message: always written, even when empty (it may be an element of a repeated field).
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    /// A packed repeated `uint64`/`int64` field; omitted when empty.
    mutating func packed(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        var inner = ProtobufWriter()
        for value in values { inner.appendVarint(value) }
        bytes(field, inner.bytes)
    }
}
