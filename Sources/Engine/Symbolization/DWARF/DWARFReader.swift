extension EngineError.Code {
    /// A DWARF section is truncated or has a length, offset, form or opcode that cannot be read.
    public static let dwarfMalformed = Self("dwarf_malformed")
}

/// A bounds-checked reader over one DWARF section (little-endian). Every read past `end` throws
/// `.dwarfMalformed`; nothing traps on malformed input.
struct DWARFCursor {
    let bytes: [UInt8]
    var offset: Int
    /// One past the last readable byte (a unit's end, or the section's end).
    var end: Int
    let what: String

    init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil, what: String) {
        self.bytes = bytes
        self.offset = offset
        self.end = min(end ?? bytes.count, bytes.count)
        self.what = what
    }

    var isAtEnd: Bool { offset >= end }

    func error(_ message: String) -> EngineError {
        EngineError(.dwarfMalformed, "\(what) at offset \(offset): \(message)")
    }

    private func need(_ count: Int) throws(EngineError) {
        guard count >= 0, offset >= 0, offset <= end, count <= end - offset else {
            throw error("read of \(count) bytes past end \(end)")
        }
    }

    mutating func skip(_ count: Int) throws(EngineError) {
        try need(count)
        offset += count
    }

    mutating func u8() throws(EngineError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(EngineError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func u24() throws(EngineError) -> UInt32 {
        try need(3)
        defer { offset += 3 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
    }

    mutating func u32() throws(EngineError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for i in (0 ..< 4).reversed() { value = value << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }

    mutating func u64() throws(EngineError) -> UInt64 {
        try need(8)
        var value: UInt64 = 0
        for i in (0 ..< 8).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return value
    }

    /// An unsigned value of `size` bytes (1, 2, 4 or 8): addresses and section offsets.
    mutating func unsigned(size: Int) throws(EngineError) -> UInt64 {
        switch size {
        case 1: return UInt64(try u8())
        case 2: return UInt64(try u16())
        case 4: return UInt64(try u32())
        case 8: return try u64()
        default: throw error("unsupported value size \(size)")
        }
    }

    mutating func uleb() throws(EngineError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift < 64 { result |= UInt64(byte & 0x7F) << shift }
            shift += 7
            if byte & 0x80 == 0 { return result }
            guard shift < 10 * 7 else { throw error("LEB128 longer than 10 bytes") }
        }
    }

    mutating func sleb() throws(EngineError) -> Int64 {
        var result: Int64 = 0
        var shift: Int64 = 0
        var byte: UInt8
        repeat {
            guard shift < 10 * 7 else { throw error("LEB128 longer than 10 bytes") }
            byte = try u8()
            if shift < 64 { result |= Int64(byte & 0x7F) << shift }
            shift += 7
        } while byte & 0x80 != 0
        if shift < 64, byte & 0x40 != 0 { result |= Int64(-1) << shift }  // sign-extend
        return result
    }

    /// A ULEB128 that must fit an `Int` count or index.
    mutating func ulebInt() throws(EngineError) -> Int {
        let value = try uleb()
        guard value <= UInt64(Int32.max) else { throw error("value \(value) is implausibly large") }
        return Int(value)
    }

    /// A NUL-terminated string; the terminator must lie before `end`.
    mutating func cString() throws(EngineError) -> String {
        let start = offset
        var index = offset
        while true {
            guard index < end else { throw error("unterminated string") }
            if bytes[index] == 0 { break }
            index += 1
        }
        offset = index + 1
        return String(decoding: bytes[start ..< index], as: UTF8.self)
    }

    /// Reads an initial length: returns the unit length and whether the unit uses the 64-bit format.
    mutating func initialLength() throws(EngineError) -> (length: Int, is64: Bool) {
        let first = try u32()
        if first == 0xFFFF_FFFF {
            let length = try u64()
            guard length <= UInt64(Int32.max) else { throw error("unit length \(length) is implausible") }
            return (Int(length), true)
        }
        guard first < 0xFFFF_FFF0 else { throw error("reserved unit length \(first)") }
        return (Int(first), false)
    }

    /// The NUL-terminated string at `offset` in a string section (`.debug_str`, `.debug_line_str`).
    static func string(in section: [UInt8], at offset: UInt64, what: String) throws(EngineError) -> String {
        guard offset < UInt64(section.count) else {
            throw EngineError(.dwarfMalformed, "\(what) offset \(offset) outside section of \(section.count) bytes")
        }
        var cursor = DWARFCursor(section, offset: Int(offset), what: what)
        return try cursor.cString()
    }
}

/// DWARF constants used by the line-table and inline readers.
enum DW {
    // Forms.
    static let formAddr: UInt64 = 0x01
    static let formBlock2: UInt64 = 0x03
    static let formBlock4: UInt64 = 0x04
    static let formData2: UInt64 = 0x05
    static let formData4: UInt64 = 0x06
    static let formData8: UInt64 = 0x07
    static let formString: UInt64 = 0x08
    static let formBlock: UInt64 = 0x09
    static let formBlock1: UInt64 = 0x0a
    static let formData1: UInt64 = 0x0b
    static let formFlag: UInt64 = 0x0c
    static let formSdata: UInt64 = 0x0d
    static let formStrp: UInt64 = 0x0e
    static let formUdata: UInt64 = 0x0f
    static let formRefAddr: UInt64 = 0x10
    static let formRef1: UInt64 = 0x11
    static let formRef2: UInt64 = 0x12
    static let formRef4: UInt64 = 0x13
    static let formRef8: UInt64 = 0x14
    static let formRefUdata: UInt64 = 0x15
    static let formIndirect: UInt64 = 0x16
    static let formSecOffset: UInt64 = 0x17
    static let formExprloc: UInt64 = 0x18
    static let formFlagPresent: UInt64 = 0x19
    static let formStrx: UInt64 = 0x1a
    static let formRefSup4: UInt64 = 0x1c
    static let formStrpSup: UInt64 = 0x1d
    static let formData16: UInt64 = 0x1e
    static let formLineStrp: UInt64 = 0x1f
    static let formRefSig8: UInt64 = 0x20
    static let formImplicitConst: UInt64 = 0x21
    static let formLoclistx: UInt64 = 0x22
    static let formRnglistx: UInt64 = 0x23
    static let formRefSup8: UInt64 = 0x24
    static let formStrx1: UInt64 = 0x25
    static let formStrx2: UInt64 = 0x26
    static let formStrx3: UInt64 = 0x27
    static let formStrx4: UInt64 = 0x28
    static let formAddrx: UInt64 = 0x1b
    static let formAddrx1: UInt64 = 0x29
    static let formAddrx2: UInt64 = 0x2a
    static let formAddrx3: UInt64 = 0x2b
    static let formAddrx4: UInt64 = 0x2c
    static let formGNUAddrIndex: UInt64 = 0x1f01
    static let formGNUStrIndex: UInt64 = 0x1f02
    static let formGNURefAlt: UInt64 = 0x1f20
    static let formGNUStrpAlt: UInt64 = 0x1f21
}

/// The DWARF sections of one ELF image, read whole. Missing sections are empty.
struct DWARFSections {
    var info: [UInt8] = []
    var abbrev: [UInt8] = []
    var line: [UInt8] = []
    var lineStr: [UInt8] = []
    var str: [UInt8] = []
    var strOffsets: [UInt8] = []
    var addr: [UInt8] = []
    var ranges: [UInt8] = []
    var rnglists: [UInt8] = []
    /// Names of DWARF sections that were present but compressed (`SHF_COMPRESSED`, or `.zdebug_*`),
    /// which this reader does not inflate: they are treated as missing.
    var compressed: [String] = []

    init() {}

    /// Reads the `.debug_*` sections of `image`. Throws only when a present section cannot be read.
    init(image: ELFImage) throws(EngineError) {
        func load(_ name: String) throws(EngineError) -> [UInt8] {
            if image.section(named: ".zdebug" + name.dropFirst(".debug".count)) != nil { compressed.append(name) }
            guard let section = image.section(named: name) else { return [] }
            if section.flags & ELFImage.sectionFlagCompressed != 0 {
                compressed.append(name)
                return []
            }
            return try image.contents(of: section, what: name)
        }
        line = try load(".debug_line")
        lineStr = try load(".debug_line_str")
        info = try load(".debug_info")
        abbrev = try load(".debug_abbrev")
        str = try load(".debug_str")
        strOffsets = try load(".debug_str_offsets")
        addr = try load(".debug_addr")
        ranges = try load(".debug_ranges")
        rnglists = try load(".debug_rnglists")
    }
}
