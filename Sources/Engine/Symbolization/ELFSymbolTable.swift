/// The function symbols of one ELF64 little-endian binary, sorted for lookup by virtual address.
///
/// Reads `.symtab` and `.dynsym` (`STT_FUNC` and `STT_GNU_IFUNC`). When the binary has no `.symtab`, the
/// debug file `<debugDirectory>/.build-id/xx/yyyy.debug` with the same build-id supplies one. Names are
/// kept as raw (mangled) bytes and decoded on lookup, so loading costs one pass over the symbol tables.
public struct ELFSymbolTable: Sendable {
    /// A `PT_LOAD` segment: how file offsets map to virtual addresses.
    public struct Segment: Sendable, Hashable {
        public var fileOffset: UInt64
        public var virtualAddress: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64
        public var isExecutable: Bool
    }

    /// A function symbol found by lookup.
    public struct Symbol: Sendable, Hashable {
        /// The raw name from the string table (mangled for Swift and C++).
        public var name: String
        /// Virtual address of the first instruction.
        public var address: UInt64
        /// Size in bytes; for symbols of size 0, the distance to the next symbol.
        public var size: UInt64
        /// Position in this table; identifies the symbol for caches.
        public var ordinal: Int
    }

    struct Entry {
        var start: UInt64
        var end: UInt64
        var nameOffset: UInt32
        var stringTable: UInt8
    }

    /// The path the table was loaded from.
    public let path: String
    /// The GNU build-id, if the binary has one.
    public let buildID: [UInt8]?
    /// Loadable segments of the binary.
    public let segments: [Segment]
    /// The separate debug file whose `.symtab` was used, if any.
    public let debugFilePath: String?
    let entries: [Entry]
    let stringTables: [[UInt8]]

    /// Number of distinct function symbols.
    public var symbolCount: Int { entries.count }

    /// Lowercase hex of `buildID`.
    public var buildIDHex: String? { buildID.map(Self.hex) }

    /// Loads `path`. Blocking. Throws `.symbolFileUnreadable`, `.elfMalformed` or `.elfUnsupported`.
    /// - Parameter debugDirectory: root of the `.build-id` tree to search when `.symtab` is missing; nil to skip.
    @available(*, noasync, message: "reads files; call from a thread, not the cooperative pool")
    public static func load(path: String, debugDirectory: String? = "/usr/lib/debug") throws(EngineError) -> ELFSymbolTable {
        try ELFSymbolTable(source: try ELFFileSource(path: path), path: path, debugDirectory: debugDirectory)
    }

    /// Parses an image held in memory (no debug-file search). Throws `.elfMalformed` or `.elfUnsupported`.
    public init(bytes: [UInt8], path: String = "[memory]") throws(EngineError) {
        try self.init(source: ELFBufferSource(bytes: bytes), path: path, debugDirectory: nil)
    }

    init(source: any ELFByteSource, path: String, debugDirectory: String?) throws(EngineError) {
        let image = try ELFImage(source: source)
        let buildID = try image.buildID()
        var collector = SymbolCollector()
        var debugFilePath: String?
        let hasSymtab = image.sections.contains { $0.type == ELFImage.sectionTypeSymtab }
        if !hasSymtab, let debugDirectory, let buildID, buildID.count >= 2 {
            let hex = Self.hex(buildID)
            let candidate = "\(debugDirectory)/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
            // A missing or damaged debug file is not an error: the binary's own .dynsym still names exports.
            if let debugSource = try? ELFFileSource(path: candidate),
               let debugImage = try? ELFImage(source: debugSource),
               (try? debugImage.buildID()) == buildID,
               (try? collector.add(image: debugImage, sectionType: ELFImage.sectionTypeSymtab)) != nil {
                debugFilePath = candidate
            }
        }
        try collector.add(image: image, sectionType: ELFImage.sectionTypeSymtab)
        try collector.add(image: image, sectionType: ELFImage.sectionTypeDynsym)
        self.path = path
        self.buildID = buildID
        self.segments = image.segments
        self.debugFilePath = debugFilePath
        self.stringTables = collector.stringTables
        self.entries = collector.finish(segments: image.segments)
    }

    /// Virtual address of a file offset, through the `PT_LOAD` segment that holds it.
    public func virtualAddress(forFileOffset offset: UInt64) -> UInt64? {
        for segment in segments where offset >= segment.fileOffset && offset - segment.fileOffset < segment.fileSize {
            return segment.virtualAddress &+ (offset - segment.fileOffset)
        }
        return nil
    }

    /// The function symbol whose `[address, address + size)` holds `virtualAddress`, by binary search.
    public func symbol(containing virtualAddress: UInt64) -> Symbol? {
        guard let index = ordinal(containing: virtualAddress) else { return nil }
        let entry = entries[index]
        return Symbol(name: name(of: entry), address: entry.start, size: entry.end - entry.start, ordinal: index)
    }

    /// Index in `entries` of the symbol holding `virtualAddress`, without building its name.
    func ordinal(containing virtualAddress: UInt64) -> Int? {
        let low = entries.countOfPrefix(withKey: \.start, atMost: virtualAddress)
        // Symbols may nest (a large symbol around smaller ones); look back a few for one that contains it.
        var index = low - 1
        while index >= 0, index >= low - 8 {
            if virtualAddress < entries[index].end { return index }
            index -= 1
        }
        return nil
    }

    func name(of entry: Entry) -> String {
        Self.string(in: stringTables[Int(entry.stringTable)], at: Int(entry.nameOffset)) ?? ""
    }

    static func string(in table: [UInt8], at offset: Int) -> String? {
        guard offset < table.count else { return nil }
        return table.withUnsafeBufferPointer { buffer in
            let tail = UnsafeBufferPointer(rebasing: buffer[offset...])
            let length = tail.firstIndex(of: 0) ?? tail.count
            return String(decoding: UnsafeBufferPointer(rebasing: tail[0 ..< length]), as: UTF8.self)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Gathers function symbols from several tables, then sorts, picks one name per address, and sizes them.
private struct SymbolCollector {
    struct Candidate {
        var start: UInt64
        var size: UInt64
        var nameOffset: UInt32
        var stringTable: UInt8
        var rank: UInt8
    }

    var candidates: [Candidate] = []
    var stringTables: [[UInt8]] = []

    /// Adds the function symbols of every section of `sectionType` in `image`.
    mutating func add(image: ELFImage, sectionType: UInt32) throws(EngineError) {
        for section in image.sections where section.type == sectionType {
            let what = sectionType == ELFImage.sectionTypeSymtab ? ".symtab" : ".dynsym"
            guard section.entrySize == 24 || section.entrySize == 0 else {
                throw EngineError(.elfMalformed, "\(what) entry size \(section.entrySize) is not 24")
            }
            let strings = try image.contents(of: try image.linkedSection(of: section), what: "\(what) string table")
            let symbols = try image.contents(of: section, what: what)
            guard stringTables.count < Int(UInt8.max) else { return }
            let tableIndex = UInt8(stringTables.count)
            stringTables.append(strings)
            let count = symbols.count / 24
            candidates.reserveCapacity(candidates.count + count)
            symbols.withUnsafeBytes { raw in
                for i in 0 ..< count {
                    let base = i * 24
                    let nameOffset = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base, as: UInt32.self))
                    let info = raw[base + 4]
                    let sectionIndex = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 6, as: UInt16.self))
                    let value = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8, as: UInt64.self))
                    let size = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 16, as: UInt64.self))
                    let type = info & 0xF
                    guard type == 2 || type == 10, sectionIndex != 0, value != 0,
                          nameOffset != 0, Int(nameOffset) < strings.count
                    else { continue }
                    candidates.append(Candidate(
                        start: value, size: size, nameOffset: nameOffset, stringTable: tableIndex,
                        rank: Self.bindingRank(info >> 4)))
                }
            }
        }
    }

    /// GLOBAL names beat WEAK, which beat LOCAL, when several symbols share an address.
    static func bindingRank(_ binding: UInt8) -> UInt8 {
        switch binding {
        case 1: 0  // STB_GLOBAL
        case 2: 1  // STB_WEAK
        default: 2  // STB_LOCAL and others
        }
    }

    func finish(segments: [ELFSymbolTable.Segment]) -> [ELFSymbolTable.Entry] {
        let sorted = candidates.sorted { a, b in
            if a.start != b.start { return a.start < b.start }
            if a.rank != b.rank { return a.rank < b.rank }
            return prefer(a, over: b)
        }
        var entries: [ELFSymbolTable.Entry] = []
        entries.reserveCapacity(sorted.count)
        var index = 0
        while index < sorted.count {
            let best = sorted[index]
            var size = best.size
            var next = index + 1
            while next < sorted.count, sorted[next].start == best.start {
                size = max(size, sorted[next].size)
                next += 1
            }
            var end: UInt64
            if size > 0 {
                end = best.start &+ size
                if end < best.start { end = .max }
            } else {
                // Size 0: extend to the next symbol, but not past the segment that holds this one.
                end = next < sorted.count ? sorted[next].start : .max
                if let segment = segments.first(where: {
                    best.start >= $0.virtualAddress && best.start - $0.virtualAddress < $0.memorySize
                }) {
                    let (segmentEnd, overflow) = segment.virtualAddress.addingReportingOverflow(segment.memorySize)
                    end = min(end, overflow ? .max : segmentEnd)
                }
            }
            end = max(end, best.start)
            entries.append(.init(start: best.start, end: end, nameOffset: best.nameOffset, stringTable: best.stringTable))
            index = next
        }
        return entries
    }

    /// Among aliases of equal binding, fewer leading underscores, then the shorter name, then alphabetical.
    private func prefer(_ a: Candidate, over b: Candidate) -> Bool {
        let nameA = nameBytes(a)
        let nameB = nameBytes(b)
        let underscoresA = nameA.prefix { $0 == UInt8(ascii: "_") }.count
        let underscoresB = nameB.prefix { $0 == UInt8(ascii: "_") }.count
        if underscoresA != underscoresB { return underscoresA < underscoresB }
        if nameA.count != nameB.count { return nameA.count < nameB.count }
        return nameA.lexicographicallyPrecedes(nameB)
    }

    private func nameBytes(_ candidate: Candidate) -> ArraySlice<UInt8> {
        let table = stringTables[Int(candidate.stringTable)]
        let start = Int(candidate.nameOffset)
        let end = table[start...].firstIndex(of: 0) ?? table.endIndex
        return table[start ..< end]
    }
}
