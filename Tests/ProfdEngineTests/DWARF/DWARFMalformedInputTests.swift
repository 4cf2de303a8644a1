import Testing

@testable import ProfdEngine

/// Truncated, corrupted and random DWARF must throw (or be ignored), never trap.
@Suite struct DWARFMalformedInputTests {
    @Test func everyTruncationOfALineProgramThrowsOrParses() {
        for bytes in [LineProgramBytes.version4(), LineProgramBytes.version5()] {
            for length in 0 ..< bytes.count {
                let prefix = Array(bytes.prefix(length))
                // The unit length no longer fits: every strict prefix (except empty) must throw.
                if length == 0 {
                    #expect((try? DWARFLineTable(line: prefix))?.sequences.isEmpty == true)
                } else {
                    #expect(throws: EngineError.self) {
                        try DWARFLineTable(line: prefix, lineStr: LineProgramBytes.version5LineStr)
                    }
                }
            }
        }
    }

    @Test func truncatedHeaderInsideAConsistentUnitThrows() {
        // Unit length says 6 bytes: version + a header_length pointing far past the unit.
        var b = LineProgramBytes()
        b.u32(6); b.u16(4); b.u32(1000)
        #expect(throws: EngineError.self) { try DWARFLineTable(line: b.bytes) }
    }

    @Test func lineRangeZeroAndBadVersionAndBadFormsThrow() {
        var v4 = LineProgramBytes.version4()
        // line_range is at: 4 (length) + 2 (version) + 4 (header_length) + 4 (min, max_ops, is_stmt, line_base)
        v4[14] = 0
        #expect(throws: EngineError.self) { try DWARFLineTable(line: v4) }

        var badVersion = LineProgramBytes.version4()
        badVersion[4] = 9
        #expect(throws: EngineError.self) { try DWARFLineTable(line: badVersion) }

        var badForm = LineProgramBytes.version5()
        // The directory format's form (DW_FORM_line_strp) becomes an unknown form 0x7f.
        let formatAt = 4 + 2 + 2 + 4 + 6 + 12 + 2
        #expect(badForm[formatAt] == 0x1F)
        badForm[formatAt] = 0x7F
        #expect(throws: EngineError.self) { try DWARFLineTable(line: badForm, lineStr: LineProgramBytes.version5LineStr) }

        // A line_strp offset outside .debug_line_str.
        #expect(throws: EngineError.self) { try DWARFLineTable(line: LineProgramBytes.version5(), lineStr: []) }
    }

    @Test func overlongLEB128Throws() {
        var c = DWARFCursor([UInt8](repeating: 0x80, count: 20) + [0], what: "test")
        #expect(throws: EngineError.self) { try c.uleb() }
        var s = DWARFCursor([UInt8](repeating: 0xFF, count: 20) + [0], what: "test")
        #expect(throws: EngineError.self) { try s.sleb() }
        var ok = DWARFCursor([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], what: "test")
        #expect((try? ok.sleb()) == -1)
    }

    @Test func randomCorruptionOfLineProgramsNeverTraps() {
        var rng = SplitMix64(state: 42)
        let originals = [LineProgramBytes.version4(), LineProgramBytes.version5()]
        for round in 0 ..< 4000 {
            var bytes = originals[round % 2]
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let table = try? DWARFLineTable(line: bytes, lineStr: LineProgramBytes.version5LineStr) {
                for address in stride(from: UInt64(0xFF0), to: 0x2030, by: 7) { _ = table.location(for: address) }
            }
        }
        for _ in 0 ..< 2000 {
            let garbage = (0 ..< Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? DWARFLineTable(line: garbage, lineStr: garbage, str: garbage)
        }
    }

    @Test func garbageDebugInfoNeverTraps() {
        var rng = SplitMix64(state: 7)
        for _ in 0 ..< 3000 {
            var sections = DWARFSections()
            func garbage() -> [UInt8] { (0 ..< Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
            sections.info = garbage()
            // A plausible unit header now and then, so the reader gets past it into DIEs and forms.
            if rng.next() % 2 == 0, sections.info.count > 12 {
                let length = UInt32(sections.info.count - 4)
                sections.info[0 ..< 4] = [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), 0, 0][...]
                sections.info[4] = 4
                sections.info[5] = 0
                sections.info[6 ..< 10] = [0, 0, 0, 0][...]
                sections.info[10] = 8
            }
            sections.abbrev = garbage()
            sections.str = garbage()
            sections.ranges = garbage()
            sections.rnglists = garbage()
            sections.addr = garbage()
            sections.strOffsets = garbage()
            let info = DWARFSourceInfo(sections: sections)
            for _ in 0 ..< 5 { _ = info.frames(at: rng.next() % 0x10000) }
        }
    }

    @Test func aCompressedSectionIsSkippedNotMisread() throws {
        // An ELF image with one SHF_COMPRESSED .debug_line section: the reader reports it and reads no lines.
        let image = try ELFImage(source: ELFBufferSource(bytes: Self.elfWithSection(name: ".debug_line", flags: 0x800,
                                                                                     contents: LineProgramBytes.version4())))
        let sections = try DWARFSections(image: image)
        #expect(sections.line.isEmpty)
        #expect(sections.compressed == [".debug_line"])
        let plain = try ELFImage(source: ELFBufferSource(bytes: Self.elfWithSection(name: ".debug_line", flags: 0,
                                                                                     contents: LineProgramBytes.version4())))
        let info = try #require(try DWARFSourceInfo.load(image: plain))
        #expect(info.location(at: 0x1004)! == ("/src/a.c", 11))
    }

    /// A minimal ELF64 with sections [null, `name`, .shstrtab].
    static func elfWithSection(name: String, flags: UInt64, contents: [UInt8]) -> [UInt8] {
        let names: [UInt8] = [0] + Array(name.utf8) + [0] + Array(".shstrtab".utf8) + [0]
        let contentOffset = 64
        let namesOffset = contentOffset + contents.count
        let sectionHeaders = (namesOffset + names.count + 7) & ~7
        var b = LineProgramBytes()
        b.bytes = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
        b.u16(2); b.u16(62); b.u32(1)  // ET_EXEC, x86-64, version
        b.u64(0); b.u64(0); b.u64(UInt64(sectionHeaders))  // entry, phoff, shoff
        b.u32(0); b.u16(64); b.u16(56); b.u16(0); b.u16(64); b.u16(3); b.u16(2)
        b.bytes += contents + names
        b.bytes += [UInt8](repeating: 0, count: sectionHeaders - b.bytes.count)
        func header(_ nameOffset: UInt32, _ type: UInt32, _ flags: UInt64, _ offset: Int, _ size: Int) {
            b.u32(nameOffset); b.u32(type); b.u64(flags); b.u64(0); b.u64(UInt64(offset)); b.u64(UInt64(size))
            b.u32(0); b.u32(0); b.u64(1); b.u64(0)
        }
        header(0, 0, 0, 0, 0)
        header(1, 1, flags, contentOffset, contents.count)
        header(UInt32(name.utf8.count + 2), 3, 0, namesOffset, names.count)
        return b.bytes
    }
}
