/// The `.debug_line` programs of one binary, run to rows and indexed for address → (file, line) lookup.
///
/// Reads DWARF 2–5 line-program headers (v5 directory/file entry formats with `DW_FORM_string`,
/// `DW_FORM_line_strp`, `DW_FORM_strp`, `DW_FORM_udata`, `DW_FORM_data*`, `DW_FORM_data16` MD5) and runs the
/// line-number state machine. Everything is bounds-checked: malformed input throws `.dwarfMalformed`.
/// Sequences starting at address 0 (code the linker discarded) are dropped.
struct DWARFLineTable {
    /// One row of the line matrix: from `address` up to the next row's address, code is at `file:line`.
    struct Row: Equatable {
        var address: UInt64
        /// Index into `files`, or `DWARFLineTable.noFile`.
        var file: UInt32
        /// Source line; 0 means no source line (compiler-generated code).
        var line: UInt32
    }

    /// One sequence: contiguous rows covering `start ..< end`.
    struct Sequence {
        var start: UInt64
        var end: UInt64
        var rows: Range<Int>
    }

    static let noFile = UInt32.max

    /// Distinct file paths (directory joined when the directory is known).
    private(set) var files: [String] = []
    private(set) var rows: [Row] = []
    /// Sorted by `start`.
    private(set) var sequences: [Sequence] = []
    /// For each line-program unit, by its offset in `.debug_line`: the unit's file index → `files` index.
    /// (`DW_AT_call_file` of inlined subroutines indexes this.)
    private(set) var unitFiles: [Int: [UInt32]] = [:]

    private var fileIndex: [String: UInt32] = [:]

    /// Parses every unit of `.debug_line`. `lineStr` and `str` resolve `DW_FORM_line_strp` / `DW_FORM_strp`.
    init(line: [UInt8], lineStr: [UInt8] = [], str: [UInt8] = []) throws(EngineError) {
        var cursor = DWARFCursor(line, what: ".debug_line")
        while !cursor.isAtEnd {
            let unitOffset = cursor.offset
            let (length, is64) = try cursor.initialLength()
            guard length <= cursor.end - cursor.offset else {
                throw cursor.error("unit length \(length) runs past the section")
            }
            let unitEnd = cursor.offset + length
            var unit = DWARFCursor(line, offset: cursor.offset, end: unitEnd, what: ".debug_line unit at \(unitOffset)")
            try parseUnit(&unit, offset: unitOffset, is64: is64, lineStr: lineStr, str: str)
            cursor.offset = unitEnd
        }
        sequences.sort { $0.start < $1.start }
    }

    /// The row covering `address`, or nil when no sequence covers it.
    func row(for address: UInt64) -> Row? {
        // Last sequence starting at or before the address; look back a few in case sequences overlap.
        var low = 0, high = sequences.count
        while low < high {
            let mid = (low + high) / 2
            if sequences[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        while index >= 0, index >= low - 8 {
            let sequence = sequences[index]
            if address < sequence.end {
                var lo = sequence.rows.lowerBound, hi = sequence.rows.upperBound
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if rows[mid].address <= address { lo = mid + 1 } else { hi = mid }
                }
                if lo > sequence.rows.lowerBound { return rows[lo - 1] }
            }
            index -= 1
        }
        return nil
    }

    /// `(file, line)` for `address`; nil when no row covers it or the row has line 0 or no file.
    func location(for address: UInt64) -> (file: String, line: Int)? {
        guard let row = row(for: address), row.line != 0, let file = file(row.file) else { return nil }
        return (file, Int(row.line))
    }

    /// The path for a `files` index.
    func file(_ index: UInt32) -> String? {
        index == Self.noFile || Int(index) >= files.count ? nil : files[Int(index)]
    }

    /// The path of file `index` of the line-program unit at `unitOffset` (for `DW_AT_call_file`).
    func file(unitOffset: Int, index: UInt64) -> String? {
        guard let table = unitFiles[unitOffset], index < UInt64(table.count) else { return nil }
        return file(table[Int(index)])
    }

    private mutating func intern(_ path: String) -> UInt32 {
        if let index = fileIndex[path] { return index }
        let index = UInt32(files.count)
        files.append(path)
        fileIndex[path] = index
        return index
    }

    private static func join(_ directory: String?, _ name: String) -> String {
        guard let directory, !directory.isEmpty, !name.hasPrefix("/") else { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    // MARK: Header

    private mutating func parseUnit(
        _ c: inout DWARFCursor, offset unitOffset: Int, is64: Bool, lineStr: [UInt8], str: [UInt8]
    ) throws(EngineError) {
        let version = try c.u16()
        guard (2 ... 5).contains(version) else { throw c.error("unsupported line table version \(version)") }
        var addressSize = 8
        if version >= 5 {
            addressSize = Int(try c.u8())
            _ = try c.u8()  // segment selector size
            guard [1, 2, 4, 8].contains(addressSize) else { throw c.error("address size \(addressSize)") }
        }
        let headerLength = Int(try c.unsigned(size: is64 ? 8 : 4))
        guard headerLength <= c.end - c.offset else { throw c.error("header length \(headerLength) runs past the unit") }
        let programStart = c.offset + headerLength
        let minimumInstructionLength = UInt64(try c.u8())
        let maximumOperations = version >= 4 ? UInt64(try c.u8()) : 1
        _ = try c.u8()  // default_is_stmt
        let lineBase = Int64(Int8(bitPattern: try c.u8()))
        let lineRange = UInt64(try c.u8())
        let opcodeBase = try c.u8()
        guard lineRange != 0 else { throw c.error("line_range is 0") }
        guard opcodeBase != 0 else { throw c.error("opcode_base is 0") }
        var opcodeLengths: [UInt8] = []
        for _ in 1 ..< Int(opcodeBase) { opcodeLengths.append(try c.u8()) }

        var fileTable: [UInt32] = []
        if version >= 5 {
            let directories = try entryTable(&c, is64: is64, lineStr: lineStr, str: str)
            let names = try entryTable(&c, is64: is64, lineStr: lineStr, str: str)
            let compilationDirectory = directories.first?.path
            let directoryPaths = directories.map { entry in
                entry.path.map { Self.join($0 == compilationDirectory ? nil : compilationDirectory, $0) }
            }
            for entry in names {
                guard let name = entry.path else { fileTable.append(Self.noFile); continue }
                let directory = entry.directory < UInt64(directoryPaths.count) ? directoryPaths[Int(entry.directory)] : nil
                fileTable.append(intern(Self.join(directory, name)))
            }
        } else {
            var directories: [String] = []
            while true {
                let directory = try c.cString()
                if directory.isEmpty { break }
                directories.append(directory)
            }
            fileTable.append(Self.noFile)  // v2–4 file numbers start at 1
            while true {
                let name = try c.cString()
                if name.isEmpty { break }
                let directoryIndex = try c.uleb()
                _ = try c.uleb()  // modification time
                _ = try c.uleb()  // length
                let directory = directoryIndex >= 1 && directoryIndex <= UInt64(directories.count)
                    ? directories[Int(directoryIndex) - 1] : nil
                fileTable.append(intern(Self.join(directory, name)))
            }
        }
        c.offset = programStart
        try runProgram(
            &c, version: version, addressSize: addressSize, fileTable: &fileTable,
            minimumInstructionLength: minimumInstructionLength, maximumOperations: max(maximumOperations, 1),
            lineBase: lineBase, lineRange: lineRange, opcodeBase: opcodeBase, opcodeLengths: opcodeLengths)
        unitFiles[unitOffset] = fileTable
    }

    private struct Entry {
        var path: String?
        var directory: UInt64 = 0
    }

    /// A v5 directory or file-name table: an entry format, a count, then the entries.
    private func entryTable(_ c: inout DWARFCursor, is64: Bool, lineStr: [UInt8], str: [UInt8]) throws(EngineError) -> [Entry] {
        let formatCount = Int(try c.u8())
        var format: [(type: UInt64, form: UInt64)] = []
        for _ in 0 ..< formatCount { format.append((try c.uleb(), try c.uleb())) }
        let count = try c.ulebInt()
        guard count <= c.end - c.offset else { throw c.error("\(count) entries cannot fit the header") }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0 ..< count {
            var entry = Entry()
            for (type, form) in format {
                switch form {
                case DW.formString:
                    let value = try c.cString()
                    if type == 1 { entry.path = value }
                case DW.formLineStrp, DW.formStrp:
                    let offset = try c.unsigned(size: is64 ? 8 : 4)
                    if type == 1 {
                        entry.path = try DWARFCursor.string(
                            in: form == DW.formLineStrp ? lineStr : str, at: offset,
                            what: form == DW.formLineStrp ? ".debug_line_str" : ".debug_str")
                    }
                case DW.formUdata:
                    let value = try c.uleb()
                    if type == 2 { entry.directory = value }
                case DW.formData1, DW.formData2, DW.formData4, DW.formData8:
                    let size = [DW.formData1: 1, DW.formData2: 2, DW.formData4: 4, DW.formData8: 8][form]!
                    let value = try c.unsigned(size: size)
                    if type == 2 { entry.directory = value }
                case DW.formData16:
                    try c.skip(16)
                case DW.formBlock:
                    try c.skip(try c.ulebInt())
                case DW.formStrx, DW.formStrx1, DW.formStrx2, DW.formStrx3, DW.formStrx4:
                    // Needs the compilation unit's str_offsets_base, which the line table does not know.
                    switch form {
                    case DW.formStrx: _ = try c.uleb()
                    case DW.formStrx1: try c.skip(1)
                    case DW.formStrx2: try c.skip(2)
                    case DW.formStrx3: try c.skip(3)
                    default: try c.skip(4)
                    }
                default:
                    throw c.error("unsupported form 0x\(String(form, radix: 16)) in a line table entry format")
                }
            }
            entries.append(entry)
        }
        return entries
    }

    // MARK: State machine

    private mutating func runProgram(
        _ c: inout DWARFCursor, version: UInt16, addressSize: Int, fileTable: inout [UInt32],
        minimumInstructionLength: UInt64, maximumOperations: UInt64, lineBase: Int64, lineRange: UInt64,
        opcodeBase: UInt8, opcodeLengths: [UInt8]
    ) throws(EngineError) {
        let firstFile: UInt64 = 1
        var address: UInt64 = 0
        var opIndex: UInt64 = 0
        var file = firstFile
        var line: Int64 = 1
        var sequenceStart = rows.count

        func globalFile(_ index: UInt64) -> UInt32 {
            index < UInt64(fileTable.count) ? fileTable[Int(index)] : Self.noFile
        }
        func emit() {
            let row = Row(address: address, file: globalFile(file), line: UInt32(clamping: line))
            // Several rows at one address: the last one describes the instruction there.
            if rows.count > sequenceStart, rows[rows.count - 1].address == address {
                rows[rows.count - 1] = row
            } else {
                rows.append(row)
            }
        }
        func advance(_ operationAdvance: UInt64) {
            if maximumOperations == 1 {
                address &+= minimumInstructionLength &* operationAdvance
            } else {
                address &+= minimumInstructionLength &* ((opIndex &+ operationAdvance) / maximumOperations)
                opIndex = (opIndex &+ operationAdvance) % maximumOperations
            }
        }
        func endSequence() {
            let range = sequenceStart ..< rows.count
            if !range.isEmpty {
                var start = rows[range.lowerBound].address
                var sorted = true
                for i in range.dropFirst() where rows[i].address < rows[i - 1].address { sorted = false; break }
                if !sorted {
                    rows[range].sort { $0.address < $1.address }
                    start = rows[range.lowerBound].address
                }
                if start != 0, start < address {
                    sequences.append(Sequence(start: start, end: address, rows: range))
                } else {
                    rows.removeSubrange(range)
                }
            }
            sequenceStart = rows.count
            address = 0
            opIndex = 0
            file = firstFile
            line = 1
        }

        while !c.isAtEnd {
            let opcode = try c.u8()
            if opcode >= opcodeBase {
                let adjusted = UInt64(opcode - opcodeBase)
                advance(adjusted / lineRange)
                line = line &+ lineBase &+ Int64(adjusted % lineRange)
                emit()
                continue
            }
            switch opcode {
            case 0:
                let length = try c.ulebInt()
                guard length >= 1, length <= c.end - c.offset else { throw c.error("extended opcode length \(length)") }
                let next = c.offset + length
                let sub = try c.u8()
                switch sub {
                case 1:  // DW_LNE_end_sequence: the address marks where the sequence ends, no row
                    endSequence()
                case 2:  // DW_LNE_set_address
                    address = try c.unsigned(size: length - 1)
                    opIndex = 0
                case 3:  // DW_LNE_define_file (v2–4)
                    let name = try c.cString()
                    _ = try c.uleb()
                    _ = try c.uleb()
                    _ = try c.uleb()
                    fileTable.append(intern(name))
                default:  // DW_LNE_set_discriminator and vendor opcodes
                    break
                }
                c.offset = next
            case 1:  // DW_LNS_copy
                emit()
            case 2:  // DW_LNS_advance_pc
                advance(try c.uleb())
            case 3:  // DW_LNS_advance_line
                line = line &+ (try c.sleb())
            case 4:  // DW_LNS_set_file
                file = try c.uleb()
            case 5:  // DW_LNS_set_column
                _ = try c.uleb()
            case 6, 7, 10, 11:  // negate_stmt, set_basic_block, set_prologue_end, set_epilogue_begin
                break
            case 8:  // DW_LNS_const_add_pc
                advance(UInt64(255 - opcodeBase) / lineRange)
            case 9:  // DW_LNS_fixed_advance_pc
                address &+= UInt64(try c.u16())
                opIndex = 0
            default:  // DW_LNS_set_isa and unknown standard opcodes: skip their ULEB operands
                let operands = Int(opcode) - 1 < opcodeLengths.count ? opcodeLengths[Int(opcode) - 1] : 0
                for _ in 0 ..< operands { _ = try c.uleb() }
            }
        }
        // A program that ends without DW_LNE_end_sequence: drop its unterminated rows.
        if rows.count > sequenceStart { rows.removeSubrange(sequenceStart...) }
    }
}
