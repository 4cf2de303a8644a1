import Testing

@testable import ProfdEngine

/// Builds `.debug_line` units byte by byte, so tests state exactly what the reader sees.
struct LineProgramBytes {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for i in 0 ..< 4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func u64(_ v: UInt64) { for i in 0 ..< 8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
    mutating func string(_ s: String) { bytes += Array(s.utf8) + [0] }
    mutating func uleb(_ value: UInt64) {
        var v = value
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while v != 0
    }
    mutating func sleb(_ value: Int64) {
        var v = value
        while true {
            let byte = UInt8(v & 0x7F)
            v >>= 7
            if (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0) {
                bytes.append(byte)
                return
            }
            bytes.append(byte | 0x80)
        }
    }

    // Opcodes.
    mutating func setAddress(_ a: UInt64) { u8(0); uleb(9); u8(2); u64(a) }
    mutating func endSequence() { u8(0); uleb(1); u8(1) }
    mutating func copy() { u8(1) }
    mutating func advancePC(_ n: UInt64) { u8(2); uleb(n) }
    mutating func advanceLine(_ n: Int64) { u8(3); sleb(n) }
    mutating func setFile(_ n: UInt64) { u8(4); uleb(n) }
    mutating func constAddPC() { u8(8) }
    mutating func fixedAdvancePC(_ n: UInt16) { u8(9); u16(n) }
    /// Special opcode for line_base -5, line_range 14, opcode_base 13.
    mutating func special(address: UInt8, line: Int8) { u8(UInt8(Int(line) + 5 + 14 * Int(address) + 13)) }

    static let standardOpcodeLengths: [UInt8] = [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]

    /// A whole unit: `unit_length`, `version`, [v5 sizes], `header_length`, header fields, `tables`, `program`.
    static func unit(version: UInt16, tables: [UInt8], program: [UInt8]) -> [UInt8] {
        var header = LineProgramBytes()
        header.u8(1)  // minimum_instruction_length
        if version >= 4 { header.u8(1) }  // maximum_operations_per_instruction
        header.u8(1)  // default_is_stmt
        header.u8(UInt8(bitPattern: -5))  // line_base
        header.u8(14)  // line_range
        header.u8(13)  // opcode_base
        header.bytes += standardOpcodeLengths
        header.bytes += tables
        var afterLength = LineProgramBytes()
        afterLength.u16(version)
        if version >= 5 { afterLength.u8(8); afterLength.u8(0) }
        afterLength.u32(UInt32(header.bytes.count))
        afterLength.bytes += header.bytes + program
        var unit = LineProgramBytes()
        unit.u32(UInt32(afterLength.bytes.count))
        return unit.bytes + afterLength.bytes
    }

    /// DWARF 4: include_directories ["/src"], files a.c (dir 1), b.c (dir 0). Rows:
    /// 0x1000 a.c:10, 0x1004 a.c:11, 0x100c b.c:11, sequence end 0x1010.
    static func version4() -> [UInt8] {
        var tables = LineProgramBytes()
        tables.string("/src")
        tables.u8(0)
        tables.string("a.c"); tables.uleb(1); tables.uleb(0); tables.uleb(0)
        tables.string("b.c"); tables.uleb(0); tables.uleb(0); tables.uleb(0)
        tables.u8(0)
        var p = LineProgramBytes()
        p.setAddress(0x1000)
        p.advanceLine(9)
        p.copy()
        p.special(address: 4, line: 1)
        p.setFile(2)
        p.advancePC(8)
        p.copy()
        p.advancePC(4)
        p.endSequence()
        return unit(version: 4, tables: tables.bytes, program: p.bytes)
    }

    /// `.debug_line_str` for `version5`: "/work" at 0, "include" at 6.
    static let version5LineStr: [UInt8] = Array("/work\0include\0".utf8)

    /// DWARF 5: directories (line_strp) ["/work", "include"], files (string, udata dir, data16 MD5)
    /// main.c (dir 0) and util.h (dir 1). Rows: 0x2000 main.c:5, 0x2011 include/util.h:7, end 0x2021.
    static func version5() -> [UInt8] {
        var tables = LineProgramBytes()
        tables.u8(1)  // directory_entry_format_count
        tables.uleb(1); tables.uleb(0x1F)  // DW_LNCT_path, DW_FORM_line_strp
        tables.uleb(2)  // directories_count
        tables.u32(0); tables.u32(6)
        tables.u8(3)  // file_name_entry_format_count
        tables.uleb(1); tables.uleb(0x08)  // DW_LNCT_path, DW_FORM_string
        tables.uleb(2); tables.uleb(0x0F)  // DW_LNCT_directory_index, DW_FORM_udata
        tables.uleb(5); tables.uleb(0x1E)  // DW_LNCT_MD5, DW_FORM_data16
        tables.uleb(2)  // file_names_count
        tables.string("main.c"); tables.uleb(0); tables.bytes += [UInt8](repeating: 0xAB, count: 16)
        tables.string("util.h"); tables.uleb(1); tables.bytes += [UInt8](repeating: 0xCD, count: 16)
        var p = LineProgramBytes()
        p.setAddress(0x2000)
        p.setFile(0)  // v5 files count from 0, but the file register still starts at 1
        p.advanceLine(4)
        p.copy()
        p.setFile(1)
        p.constAddPC()  // (255 - 13) / 14 = 17
        p.advanceLine(2)
        p.copy()
        p.fixedAdvancePC(0x10)
        p.endSequence()
        return unit(version: 5, tables: tables.bytes, program: p.bytes)
    }
}

@Suite struct DWARFLineTableTests {
    @Test func runsADWARF4LineProgram() throws {
        let table = try DWARFLineTable(line: LineProgramBytes.version4())
        #expect(table.location(for: 0x0FFF) == nil)
        #expect(table.location(for: 0x1000)! == ("/src/a.c", 10))
        #expect(table.location(for: 0x1003)! == ("/src/a.c", 10))
        #expect(table.location(for: 0x1004)! == ("/src/a.c", 11))
        #expect(table.location(for: 0x100B)! == ("/src/a.c", 11))
        #expect(table.location(for: 0x100C)! == ("b.c", 11))
        #expect(table.location(for: 0x100F)! == ("b.c", 11))
        #expect(table.location(for: 0x1010) == nil)
        #expect(table.file(unitOffset: 0, index: 1) == "/src/a.c")
        #expect(table.file(unitOffset: 0, index: 0) == nil)
    }

    @Test func runsADWARF5LineProgramWithLineStrpDirectoriesAndMD5() throws {
        let table = try DWARFLineTable(line: LineProgramBytes.version5(), lineStr: LineProgramBytes.version5LineStr)
        #expect(table.location(for: 0x2000)! == ("/work/main.c", 5))
        #expect(table.location(for: 0x2010)! == ("/work/main.c", 5))
        #expect(table.location(for: 0x2011)! == ("/work/include/util.h", 7))
        #expect(table.location(for: 0x2020)! == ("/work/include/util.h", 7))
        #expect(table.location(for: 0x2021) == nil)
        #expect(table.file(unitOffset: 0, index: 0) == "/work/main.c")
    }

    @Test func readsSeveralUnitsAndKeepsEachUnitsFileNumbers() throws {
        let v4 = LineProgramBytes.version4()
        let table = try DWARFLineTable(line: v4 + LineProgramBytes.version5(), lineStr: LineProgramBytes.version5LineStr)
        #expect(table.location(for: 0x1004)! == ("/src/a.c", 11))
        #expect(table.location(for: 0x2011)! == ("/work/include/util.h", 7))
        #expect(table.file(unitOffset: v4.count, index: 1) == "/work/include/util.h")
        #expect(table.file(unitOffset: 0, index: 2) == "b.c")
    }

    @Test func lineZeroAndDiscardedSequencesGiveNoLocation() throws {
        var p = LineProgramBytes()
        p.setAddress(0)  // a function the linker discarded: its sequence starts at 0
        p.copy()
        p.advancePC(0x40)
        p.endSequence()
        p.setAddress(0x3000)
        p.advanceLine(-1)  // line 0: compiler-generated
        p.copy()
        p.advancePC(2)
        p.advanceLine(8)
        p.copy()
        p.advancePC(2)
        p.endSequence()
        var tables = LineProgramBytes()
        tables.u8(0)
        tables.string("x.swift"); tables.uleb(0); tables.uleb(0); tables.uleb(0)
        tables.u8(0)
        let table = try DWARFLineTable(line: LineProgramBytes.unit(version: 4, tables: tables.bytes, program: p.bytes))
        #expect(table.location(for: 0x10) == nil)
        #expect(table.row(for: 0x3000)?.line == 0)
        #expect(table.location(for: 0x3000) == nil)
        #expect(table.location(for: 0x3002)! == ("x.swift", 8))
        #expect(table.sequences.count == 1)
    }
}
