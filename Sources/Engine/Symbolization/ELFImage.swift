/// Little-endian loads from a byte array with bounds checks; a bad offset throws instead of trapping.
struct LittleEndianBytes {
    let bytes: [UInt8]
    let what: String

    func u8(_ offset: Int) throws(EngineError) -> UInt8 {
        try check(offset, 1)
        return bytes[offset]
    }

    func u16(_ offset: Int) throws(EngineError) -> UInt16 {
        try check(offset, 2)
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    func u32(_ offset: Int) throws(EngineError) -> UInt32 {
        try check(offset, 4)
        var value: UInt32 = 0
        for i in (0 ..< 4).reversed() { value = value << 8 | UInt32(bytes[offset + i]) }
        return value
    }

    func u64(_ offset: Int) throws(EngineError) -> UInt64 {
        try check(offset, 8)
        var value: UInt64 = 0
        for i in (0 ..< 8).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
        return value
    }

    private func check(_ offset: Int, _ count: Int) throws(EngineError) {
        guard offset >= 0, offset <= bytes.count - count else {
            throw EngineError(.elfMalformed, "\(what): read of \(count) bytes at \(offset) past end \(bytes.count)")
        }
    }
}

/// The parts of an ELF64 little-endian image the symbolizer needs: loadable segments, sections, notes.
struct ELFImage {
    struct Section {
        var nameOffset: UInt32
        var type: UInt32
        var offset: UInt64
        var size: UInt64
        var link: UInt32
        var entrySize: UInt64
        /// `sh_flags` (e.g. `sectionFlagCompressed`).
        var flags: UInt64 = 0
    }

    static let sectionTypeSymtab: UInt32 = 2
    static let sectionTypeDynsym: UInt32 = 11
    static let sectionTypeNote: UInt32 = 7
    static let sectionTypeNobits: UInt32 = 8
    /// `SHF_COMPRESSED`: the contents start with an `Elf64_Chdr` and are zlib/zstd compressed.
    static let sectionFlagCompressed: UInt64 = 0x800

    let source: any ELFByteSource
    let segments: [ELFSymbolTable.Segment]
    let sections: [Section]
    /// Program-header note segments (offset, size) in the file.
    let noteSegments: [(offset: UInt64, size: UInt64)]
    /// Index of the section-name string table (`e_shstrndx`), if there are sections.
    let sectionNameTableIndex: Int?

    /// Parses the ELF header, program headers and section headers. Throws `.elfMalformed` / `.elfUnsupported`.
    init(source: any ELFByteSource) throws(EngineError) {
        self.source = source
        guard source.size >= 64 else {
            throw EngineError(.elfMalformed, "file of \(source.size) bytes is too small for an ELF header")
        }
        let header = LittleEndianBytes(bytes: try source.read(offset: 0, count: 64, what: "ELF header"), what: "ELF header")
        guard try header.u32(0) == 0x464C_457F else {  // "\x7fELF"
            throw EngineError(.elfMalformed, "no ELF magic")
        }
        guard try header.u8(4) == 2, try header.u8(5) == 1 else {
            throw EngineError(.elfUnsupported, "only ELF64 little-endian is supported")
        }
        let phoff = try header.u64(0x20)
        let shoff = try header.u64(0x28)
        let phentsize = UInt64(try header.u16(0x36))
        let phnum = UInt64(try header.u16(0x38))
        let shentsize = UInt64(try header.u16(0x3A))
        var shnum = UInt64(try header.u16(0x3C))
        var shstrndx = UInt64(try header.u16(0x3E))

        var segments: [ELFSymbolTable.Segment] = []
        var notes: [(offset: UInt64, size: UInt64)] = []
        if phnum > 0 {
            guard phentsize >= 56 else { throw EngineError(.elfMalformed, "program header entry size \(phentsize) < 56") }
            let table = LittleEndianBytes(
                bytes: try source.read(offset: phoff, count: phnum * phentsize, what: "program headers"),
                what: "program headers")
            for i in 0 ..< Int(phnum) {
                let base = i * Int(phentsize)
                let type = try table.u32(base)
                let flags = try table.u32(base + 4)
                let offset = try table.u64(base + 8)
                let vaddr = try table.u64(base + 16)
                let filesz = try table.u64(base + 32)
                let memsz = try table.u64(base + 40)
                if type == 1 {  // PT_LOAD
                    segments.append(.init(
                        fileOffset: offset, virtualAddress: vaddr, fileSize: filesz, memorySize: memsz,
                        isExecutable: flags & 1 != 0))
                } else if type == 4 {  // PT_NOTE
                    notes.append((offset, filesz))
                }
            }
        }

        var sections: [Section] = []
        if shoff != 0 {
            guard shentsize >= 64 else { throw EngineError(.elfMalformed, "section header entry size \(shentsize) < 64") }
            if shnum == 0 || shstrndx == 0xFFFF {
                // Extended numbering: the real count / string-table index live in section 0.
                let first = LittleEndianBytes(
                    bytes: try source.read(offset: shoff, count: 64, what: "section header 0"), what: "section header 0")
                if shnum == 0 { shnum = try first.u64(0x20) }
                if shstrndx == 0xFFFF { shstrndx = UInt64(try first.u32(0x28)) }
            }
            guard shnum <= 1 << 20 else { throw EngineError(.elfMalformed, "\(shnum) sections is implausible") }
            let table = LittleEndianBytes(
                bytes: try source.read(offset: shoff, count: shnum * shentsize, what: "section headers"),
                what: "section headers")
            for i in 0 ..< Int(shnum) {
                let base = i * Int(shentsize)
                sections.append(Section(
                    nameOffset: try table.u32(base), type: try table.u32(base + 4), offset: try table.u64(base + 0x18),
                    size: try table.u64(base + 0x20), link: try table.u32(base + 0x28),
                    entrySize: try table.u64(base + 0x38), flags: try table.u64(base + 0x08)))
            }
            guard shstrndx < shnum || sections.isEmpty else {
                throw EngineError(.elfMalformed, "section name table index \(shstrndx) out of \(shnum)")
            }
        }
        self.segments = segments
        self.sections = sections
        self.noteSegments = notes
        self.sectionNameTableIndex = sections.isEmpty || shstrndx == 0 ? nil : Int(shstrndx)
    }

    /// The first section called `name` (e.g. `.debug_line`), or nil. Reads the section-name table once
    /// per call; callers look up a handful of names per image.
    func section(named name: String) -> Section? {
        guard let names = sectionNames() else { return nil }
        let wanted = Array(name.utf8)
        for section in sections {
            let start = Int(section.nameOffset)
            guard start < names.count, names.count - start > wanted.count, names[start + wanted.count] == 0,
                  names[start ..< start + wanted.count].elementsEqual(wanted) else { continue }
            return section
        }
        return nil
    }

    private func sectionNames() -> [UInt8]? {
        guard let index = sectionNameTableIndex, index < sections.count,
              sections[index].size <= 16 << 20 else { return nil }
        return try? contents(of: sections[index], what: "section names")
    }

    /// The raw bytes of a section's contents; NOBITS sections are empty.
    func contents(of section: Section, what: String) throws(EngineError) -> [UInt8] {
        if section.type == Self.sectionTypeNobits { return [] }
        return try source.read(offset: section.offset, count: section.size, what: what)
    }

    /// The section a `sh_link` refers to, or a `.elfMalformed` error.
    func linkedSection(of section: Section) throws(EngineError) -> Section {
        guard Int(section.link) < sections.count, section.link != 0 else {
            throw EngineError(.elfMalformed, "section link \(section.link) out of \(sections.count) sections")
        }
        return sections[Int(section.link)]
    }

    /// The GNU build-id (`NT_GNU_BUILD_ID` note), from note sections or else note segments.
    func buildID() throws(EngineError) -> [UInt8]? {
        var regions = sections.filter { $0.type == Self.sectionTypeNote }.map { (offset: $0.offset, size: $0.size) }
        if regions.isEmpty { regions = noteSegments }
        for region in regions where region.size <= 1 << 20 {
            let notes = LittleEndianBytes(bytes: try source.read(offset: region.offset, count: region.size, what: "note"), what: "note")
            var position = 0
            while position + 12 <= notes.bytes.count {
                let nameSize = Int(try notes.u32(position))
                let descSize = Int(try notes.u32(position + 4))
                let type = try notes.u32(position + 8)
                let nameStart = position + 12
                let descStart = nameStart + Self.align4(nameSize)
                let next = descStart + Self.align4(descSize)
                guard nameSize <= notes.bytes.count, descSize <= notes.bytes.count, next <= notes.bytes.count else {
                    throw EngineError(.elfMalformed, "note entry at \(position) overruns its section")
                }
                if type == 3, nameSize == 4, Array(notes.bytes[nameStart ..< nameStart + 4]) == Array("GNU\0".utf8) {
                    return Array(notes.bytes[descStart ..< descStart + descSize])
                }
                position = next
            }
        }
        return nil
    }

    private static func align4(_ value: Int) -> Int { (value + 3) & ~3 }
}
