/// Inlined-subroutine trees from `.debug_info`: which inlined calls an address sits in, innermost first.
///
/// At init only each compilation unit's header and first DIE are read (to learn the unit's address ranges,
/// line-table offset and v5 bases). A unit's DIE tree is walked the first time an address in it is looked
/// up, keeping only `DW_TAG_subprogram` and `DW_TAG_inlined_subroutine` entries with code ranges.
/// Malformed input throws `.dwarfMalformed` from the call that meets it. Not thread-safe (caches).
final class DWARFDebugInfo {
    /// One subprogram or inlined subroutine with code.
    struct Scope {
        var ranges: [Range<UInt64>]
        /// Enclosing scope in the same unit's `scopes`, nil for a top-level subprogram.
        var parent: Int?
        /// Section offset of the DIE whose name (after `abstract_origin` / `specification`) names this scope.
        var die: Int
        /// `DW_AT_call_file` / `DW_AT_call_line` of an inlined subroutine (where it was inlined).
        var callFile: UInt64?
        var callLine: UInt64?
        var isInlined: Bool
        /// One past the last scope nested in this one (scopes are in DIE pre-order).
        var subtreeEnd: Int = 0
    }

    /// One inlined call around an address: the inlined function, and where (in its caller) it was inlined.
    struct InlinedCall: Equatable {
        /// Linkage (mangled) name when present, else `DW_AT_name`; nil when neither resolves.
        var name: String?
        /// File of the call site (in the caller), from the unit's line table.
        var callFile: String?
        var callLine: Int?
    }

    struct Unit {
        var offset: Int
        var dieStart: Int
        var end: Int
        var version: UInt16
        var is64: Bool
        var addressSize: Int
        var abbrevOffset: Int
        var lineOffset: Int?
        var lowPC: UInt64 = 0
        var addrBase: UInt64 = 8
        var strOffsetsBase: UInt64 = 8
        var rnglistsBase: UInt64?
        var ranges: [Range<UInt64>] = []
    }

    struct Abbrev {
        var tag: UInt64
        var hasChildren: Bool
        var attributes: [(name: UInt64, form: UInt64, implicitConst: Int64)]
    }

    /// An address range and the unit (or scope) index it belongs to.
    struct IndexedRange {
        var start: UInt64
        var end: UInt64
        var index: Int
    }

    let sections: DWARFSections
    private(set) var units: [Unit] = []
    /// Unit ranges sorted by start; `index` is into `units`.
    private var unitRanges: [IndexedRange] = []
    private var abbrevTables: [Int: [UInt64: Abbrev]] = [:]
    private var scopesByUnit: [Int: [Scope]] = [:]
    /// Top-level scope ranges per unit, sorted by start; `index` is into that unit's scopes.
    private var topLevelByUnit: [Int: [IndexedRange]] = [:]
    private var names: [Int: String?] = [:]

    init(sections: DWARFSections) throws(EngineError) {
        self.sections = sections
        var cursor = DWARFCursor(sections.info, what: ".debug_info")
        while !cursor.isAtEnd {
            let offset = cursor.offset
            let (length, is64) = try cursor.initialLength()
            guard length <= cursor.end - cursor.offset else { throw cursor.error("unit length \(length) runs past the section") }
            let end = cursor.offset + length
            var c = DWARFCursor(sections.info, offset: cursor.offset, end: end, what: ".debug_info unit at \(offset)")
            let version = try c.u16()
            var unitType: UInt8 = 1
            let abbrevOffset: UInt64
            let addressSize: Int
            if version >= 5 {
                unitType = try c.u8()
                addressSize = Int(try c.u8())
                abbrevOffset = try c.unsigned(size: is64 ? 8 : 4)
                if unitType == 4 || unitType == 5 { try c.skip(8) }  // skeleton / split: dwo id
                if unitType == 2 || unitType == 6 { try c.skip(8 + (is64 ? 8 : 4)) }  // type units
            } else if version >= 2 {
                abbrevOffset = try c.unsigned(size: is64 ? 8 : 4)
                addressSize = Int(try c.u8())
            } else {
                throw c.error("unsupported .debug_info version \(version)")
            }
            guard [1, 2, 4, 8].contains(addressSize) else { throw c.error("address size \(addressSize)") }
            guard abbrevOffset < UInt64(sections.abbrev.count) else { throw c.error("abbrev offset \(abbrevOffset) outside .debug_abbrev") }
            var unit = Unit(
                offset: offset, dieStart: c.offset, end: end, version: version, is64: is64, addressSize: addressSize,
                abbrevOffset: Int(abbrevOffset))
            if unitType == 1 || unitType == 3 || unitType == 4 {  // compile, partial, skeleton units
                try readUnitDIE(&unit)
                for range in unit.ranges { unitRanges.append(IndexedRange(start: range.lowerBound, end: range.upperBound, index: units.count)) }
            }
            units.append(unit)
            cursor.offset = end
        }
        unitRanges.sort { $0.start < $1.start }
    }

    /// The inlined calls whose code holds `address`, innermost first; empty when it is in no inlined code.
    func inlinedCalls(at address: UInt64, lineTable: DWARFLineTable?) throws(EngineError) -> [InlinedCall] {
        guard let unitIndex = unit(containing: address) else { return [] }
        let scopes = try scopes(of: unitIndex)
        guard let top = Self.containing(address, in: topLevelByUnit[unitIndex] ?? []) else { return [] }
        // The deepest scope holding the address: the last one in pre-order within the top-level subtree.
        var deepest = top.index
        for index in top.index ..< scopes[top.index].subtreeEnd where scopes[index].ranges.contains(where: { $0.contains(address) }) {
            deepest = index
        }
        var calls: [InlinedCall] = []
        var current: Int? = deepest
        let unit = units[unitIndex]
        while let index = current, scopes[index].isInlined {
            let scope = scopes[index]
            let file = scope.callFile.flatMap { file in
                unit.lineOffset.flatMap { lineTable?.file(unitOffset: $0, index: file) }
            }
            calls.append(InlinedCall(
                name: try name(ofDIEAt: scope.die), callFile: file,
                callLine: scope.callLine.map { Int(clamping: $0) }))
            current = scope.parent
        }
        return calls
    }

    // MARK: Units

    private func unit(containing address: UInt64) -> Int? {
        Self.containing(address, in: unitRanges)?.index
    }

    /// The entry holding `address` among entries sorted by start, looking back a few for nested ones.
    private static func containing(
        _ address: UInt64, in entries: [IndexedRange]
    ) -> IndexedRange? {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].start <= address { low = mid + 1 } else { high = mid }
        }
        var index = low - 1
        while index >= 0, index >= low - 16 {
            if address < entries[index].end { return entries[index] }
            index -= 1
        }
        return nil
    }

    private func unit(atSectionOffset offset: Int) -> Int? {
        var low = 0, high = units.count
        while low < high {
            let mid = (low + high) / 2
            if units[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        guard low > 0, offset < units[low - 1].end else { return nil }
        return low - 1
    }

    private func abbrevs(_ unit: Unit) throws(EngineError) -> [UInt64: Abbrev] {
        if let table = abbrevTables[unit.abbrevOffset] { return table }
        var c = DWARFCursor(sections.abbrev, offset: unit.abbrevOffset, what: ".debug_abbrev")
        var table: [UInt64: Abbrev] = [:]
        while true {
            let code = try c.uleb()
            if code == 0 { break }
            let tag = try c.uleb()
            let hasChildren = try c.u8() != 0
            var attributes: [(UInt64, UInt64, Int64)] = []
            while true {
                let name = try c.uleb()
                let form = try c.uleb()
                if name == 0 && form == 0 { break }
                attributes.append((name, form, form == DW.formImplicitConst ? try c.sleb() : 0))
            }
            table[code] = Abbrev(tag: tag, hasChildren: hasChildren, attributes: attributes)
        }
        abbrevTables[unit.abbrevOffset] = table
        return table
    }

    // MARK: Attribute values

    enum Value {
        case none
        case unsigned(UInt64)
        case address(UInt64)
        case addressIndex(UInt64)
        case string(String)
        case stringOffset(UInt64)
        case stringIndex(UInt64)
        /// Reference to a DIE, as a `.debug_info` offset.
        case reference(Int)
        case sectionOffset(UInt64)
        case rangeListIndex(UInt64)
    }

    /// Reads one attribute value of `form` (skipping the ones that carry nothing this reader uses).
    private func value(_ form: UInt64, implicitConst: Int64, _ c: inout DWARFCursor, unit: Unit) throws(EngineError) -> Value {
        let offsetSize = unit.is64 ? 8 : 4
        switch form {
        case DW.formAddr: return .address(try c.unsigned(size: unit.addressSize))
        case DW.formData1, DW.formRef1, DW.formFlag, DW.formStrx1, DW.formAddrx1:
            let v = UInt64(try c.u8())
            return form == DW.formRef1 ? .reference(unit.offset + Int(v)) : form == DW.formStrx1 ? .stringIndex(v)
                : form == DW.formAddrx1 ? .addressIndex(v) : .unsigned(v)
        case DW.formData2, DW.formRef2, DW.formStrx2, DW.formAddrx2:
            let v = UInt64(try c.u16())
            return form == DW.formRef2 ? .reference(unit.offset + Int(v)) : form == DW.formStrx2 ? .stringIndex(v)
                : form == DW.formAddrx2 ? .addressIndex(v) : .unsigned(v)
        case DW.formStrx3, DW.formAddrx3:
            let v = UInt64(try c.u24())
            return form == DW.formStrx3 ? .stringIndex(v) : .addressIndex(v)
        case DW.formData4, DW.formRef4, DW.formStrx4, DW.formAddrx4, DW.formRefSup4:
            let v = UInt64(try c.u32())
            if form == DW.formRef4 { return try reference(unit, v) }
            return form == DW.formStrx4 ? .stringIndex(v) : form == DW.formAddrx4 ? .addressIndex(v) : .unsigned(v)
        case DW.formData8, DW.formRef8, DW.formRefSig8, DW.formRefSup8:
            let v = try c.u64()
            return form == DW.formRef8 ? try reference(unit, v) : form == DW.formData8 ? .unsigned(v) : .none
        case DW.formData16: try c.skip(16); return .none
        case DW.formSdata: return .unsigned(UInt64(bitPattern: try c.sleb()))
        case DW.formUdata: return .unsigned(try c.uleb())
        case DW.formRefUdata: return try reference(unit, try c.uleb())
        case DW.formString: return .string(try c.cString())
        case DW.formStrp: return .stringOffset(try c.unsigned(size: offsetSize))
        case DW.formLineStrp, DW.formStrpSup, DW.formGNUStrpAlt, DW.formGNURefAlt:
            _ = try c.unsigned(size: offsetSize); return .none
        case DW.formRefAddr:
            let v = try c.unsigned(size: unit.version <= 2 ? unit.addressSize : offsetSize)
            guard v < UInt64(sections.info.count) else { throw c.error("DW_FORM_ref_addr \(v) outside .debug_info") }
            return .reference(Int(v))
        case DW.formSecOffset: return .sectionOffset(try c.unsigned(size: offsetSize))
        case DW.formExprloc, DW.formBlock: try c.skip(try c.ulebInt()); return .none
        case DW.formBlock1: try c.skip(Int(try c.u8())); return .none
        case DW.formBlock2: try c.skip(Int(try c.u16())); return .none
        case DW.formBlock4: try c.skip(Int(try c.u32())); return .none
        case DW.formFlagPresent: return .unsigned(1)
        case DW.formImplicitConst: return .unsigned(UInt64(bitPattern: implicitConst))
        case DW.formStrx, DW.formGNUStrIndex: return .stringIndex(try c.uleb())
        case DW.formAddrx, DW.formGNUAddrIndex: return .addressIndex(try c.uleb())
        case DW.formLoclistx: _ = try c.uleb(); return .none
        case DW.formRnglistx: return .rangeListIndex(try c.uleb())
        case DW.formIndirect:
            return try value(try c.uleb(), implicitConst: implicitConst, &c, unit: unit)
        default:
            throw c.error("unsupported attribute form 0x\(String(form, radix: 16))")
        }
    }

    private func reference(_ unit: Unit, _ relative: UInt64) throws(EngineError) -> Value {
        guard relative < UInt64(unit.end - unit.offset) else {
            throw EngineError(.dwarfMalformed, ".debug_info unit at \(unit.offset): reference \(relative) outside the unit")
        }
        return .reference(unit.offset + Int(relative))
    }

    private func address(_ value: Value, unit: Unit) throws(EngineError) -> UInt64? {
        switch value {
        case .address(let a): return a
        case .addressIndex(let index):
            let offset = unit.addrBase &+ index &* UInt64(unit.addressSize)
            guard offset < UInt64(sections.addr.count) else {
                throw EngineError(.dwarfMalformed, ".debug_addr index \(index) outside the section")
            }
            var c = DWARFCursor(sections.addr, offset: Int(offset), what: ".debug_addr")
            return try c.unsigned(size: unit.addressSize)
        default: return nil
        }
    }

    private func string(_ value: Value, unit: Unit) throws(EngineError) -> String? {
        switch value {
        case .string(let s): return s
        case .stringOffset(let offset): return try DWARFCursor.string(in: sections.str, at: offset, what: ".debug_str")
        case .stringIndex(let index):
            let size = unit.is64 ? 8 : 4
            let offset = unit.strOffsetsBase &+ index &* UInt64(size)
            guard offset < UInt64(sections.strOffsets.count) else {
                throw EngineError(.dwarfMalformed, ".debug_str_offsets index \(index) outside the section")
            }
            var c = DWARFCursor(sections.strOffsets, offset: Int(offset), what: ".debug_str_offsets")
            return try DWARFCursor.string(in: sections.str, at: try c.unsigned(size: size), what: ".debug_str")
        default: return nil
        }
    }

    // MARK: DIEs

    private struct DIE {
        var tag: UInt64
        var hasChildren: Bool
        var attributes: [(name: UInt64, value: Value)]
        var isNull: Bool { tag == 0 }
    }

    /// Reads the DIE at `c.offset`; a null entry comes back with tag 0. With `keep`, only those attributes are kept.
    private func readDIE(_ c: inout DWARFCursor, unit: Unit, abbrevs: [UInt64: Abbrev], keep: Set<UInt64>?) throws(EngineError) -> DIE {
        let code = try c.uleb()
        if code == 0 { return DIE(tag: 0, hasChildren: false, attributes: []) }
        guard let abbrev = abbrevs[code] else { throw c.error("unknown abbreviation code \(code)") }
        var attributes: [(UInt64, Value)] = []
        for attribute in abbrev.attributes {
            let v = try value(attribute.form, implicitConst: attribute.implicitConst, &c, unit: unit)
            if keep?.contains(attribute.name) ?? true { attributes.append((attribute.name, v)) }
        }
        return DIE(tag: abbrev.tag, hasChildren: abbrev.hasChildren, attributes: attributes)
    }

    private static let nameAttributes: Set<UInt64> = [0x03, 0x6e, 0x2007, 0x31, 0x47]
    private static let scopeAttributes: Set<UInt64> = [
        0x11, 0x12, 0x55, 0x31, 0x47, 0x58, 0x59,  // low_pc, high_pc, ranges, abstract_origin, specification, call_file, call_line
    ]

    private func readUnitDIE(_ unit: inout Unit) throws(EngineError) {
        var c = DWARFCursor(sections.info, offset: unit.dieStart, end: unit.end, what: ".debug_info unit at \(unit.offset)")
        let die = try readDIE(&c, unit: unit, abbrevs: try abbrevs(unit), keep: nil)
        for (name, value) in die.attributes {
            switch (name, value) {
            case (0x10, .sectionOffset(let v)), (0x10, .unsigned(let v)):  // DW_AT_stmt_list
                unit.lineOffset = Int(exactly: v)
            case (0x73, .sectionOffset(let v)), (0x73, .unsigned(let v)): unit.addrBase = v  // DW_AT_addr_base
            case (0x72, .sectionOffset(let v)), (0x72, .unsigned(let v)): unit.strOffsetsBase = v  // DW_AT_str_offsets_base
            case (0x74, .sectionOffset(let v)), (0x74, .unsigned(let v)): unit.rnglistsBase = v  // DW_AT_rnglists_base
            default: break
            }
        }
        for (name, value) in die.attributes where name == 0x11 { unit.lowPC = try address(value, unit: unit) ?? 0 }
        unit.ranges = try ranges(die.attributes, unit: unit)
    }

    /// Code ranges from `DW_AT_low_pc`/`DW_AT_high_pc` or `DW_AT_ranges`.
    private func ranges(_ attributes: [(name: UInt64, value: Value)], unit: Unit) throws(EngineError) -> [Range<UInt64>] {
        var low: UInt64?
        var high: Value?
        var rangesValue: Value?
        for (name, value) in attributes {
            switch name {
            case 0x11: low = try address(value, unit: unit)
            case 0x12: high = value
            case 0x55: rangesValue = value
            default: break
            }
        }
        if let rangesValue { return try rangeList(rangesValue, unit: unit) }
        guard let low, let high else { return [] }
        let end: UInt64
        switch high {
        case .unsigned(let size): end = low &+ size
        default: end = try address(high, unit: unit) ?? low
        }
        return low < end && low != 0 ? [low ..< end] : []
    }

    private func rangeList(_ value: Value, unit: Unit) throws(EngineError) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        if unit.version < 5 {
            guard case .sectionOffset(let offset) = value else {
                if case .unsigned(let offset) = value { return try rangeList(.sectionOffset(offset), unit: unit) }
                return []
            }
            guard offset < UInt64(sections.ranges.count) else { throw EngineError(.dwarfMalformed, ".debug_ranges offset \(offset) outside the section") }
            var c = DWARFCursor(sections.ranges, offset: Int(offset), what: ".debug_ranges")
            var base = unit.lowPC
            let maxAddress: UInt64 = unit.addressSize == 8 ? .max : (1 << UInt64(unit.addressSize * 8)) - 1
            while true {
                let start = try c.unsigned(size: unit.addressSize)
                let end = try c.unsigned(size: unit.addressSize)
                if start == 0 && end == 0 { break }
                if start == maxAddress { base = end; continue }
                let (s, e) = (base &+ start, base &+ end)
                if s < e, s != 0 { result.append(s ..< e) }
                guard result.count < 1 << 20 else { throw c.error("range list too long") }
            }
            return result
        }
        var offset: UInt64
        switch value {
        case .sectionOffset(let o), .unsigned(let o): offset = o
        case .rangeListIndex(let index):
            guard let base = unit.rnglistsBase else { throw EngineError(.dwarfMalformed, "DW_FORM_rnglistx without DW_AT_rnglists_base") }
            let size = unit.is64 ? 8 : 4
            let at = base &+ index &* UInt64(size)
            guard at < UInt64(sections.rnglists.count) else { throw EngineError(.dwarfMalformed, ".debug_rnglists index \(index) outside the section") }
            var c = DWARFCursor(sections.rnglists, offset: Int(at), what: ".debug_rnglists")
            offset = base &+ (try c.unsigned(size: size))
        default: return []
        }
        guard offset < UInt64(sections.rnglists.count) else { throw EngineError(.dwarfMalformed, ".debug_rnglists offset \(offset) outside the section") }
        var c = DWARFCursor(sections.rnglists, offset: Int(offset), what: ".debug_rnglists")
        var base = unit.lowPC
        func add(_ s: UInt64, _ e: UInt64) { if s < e, s != 0 { result.append(s ..< e) } }
        while true {
            let kind = try c.u8()
            switch kind {
            case 0: return result  // DW_RLE_end_of_list
            case 1: base = try address(.addressIndex(try c.uleb()), unit: unit) ?? 0
            case 2:
                let s = try address(.addressIndex(try c.uleb()), unit: unit) ?? 0
                let e = try address(.addressIndex(try c.uleb()), unit: unit) ?? 0
                add(s, e)
            case 3:
                let s = try address(.addressIndex(try c.uleb()), unit: unit) ?? 0
                add(s, s &+ (try c.uleb()))
            case 4:
                let s = try c.uleb(), e = try c.uleb()
                add(base &+ s, base &+ e)
            case 5: base = try c.unsigned(size: unit.addressSize)
            case 6:
                let s = try c.unsigned(size: unit.addressSize), e = try c.unsigned(size: unit.addressSize)
                add(s, e)
            case 7:
                let s = try c.unsigned(size: unit.addressSize)
                add(s, s &+ (try c.uleb()))
            default: throw c.error("unknown range list entry kind \(kind)")
            }
            guard result.count < 1 << 20 else { throw c.error("range list too long") }
        }
    }

    /// The unit's subprogram / inlined-subroutine scopes, walking its DIE tree on first use.
    private func scopes(of unitIndex: Int) throws(EngineError) -> [Scope] {
        if let scopes = scopesByUnit[unitIndex] { return scopes }
        let unit = units[unitIndex]
        let abbrevs = try abbrevs(unit)
        var c = DWARFCursor(sections.info, offset: unit.dieStart, end: unit.end, what: ".debug_info unit at \(unit.offset)")
        var scopes: [Scope] = []
        var depth = 0
        /// Open scopes: (depth of the DIE, scope index).
        var open: [(depth: Int, scope: Int)] = []
        while !c.isAtEnd {
            let dieOffset = c.offset
            let die = try readDIE(&c, unit: unit, abbrevs: abbrevs, keep: Self.scopeAttributes)
            if die.isNull {
                depth -= 1
                if depth < 0 { break }  // padding after the unit DIE's children
                continue
            }
            while let last = open.last, last.depth >= depth {
                scopes[last.scope].subtreeEnd = scopes.count
                open.removeLast()
            }
            if die.tag == 0x2e || die.tag == 0x1d {  // DW_TAG_subprogram, DW_TAG_inlined_subroutine
                let ranges = try self.ranges(die.attributes, unit: unit)
                if !ranges.isEmpty {
                    var nameDIE = dieOffset
                    var callFile: UInt64?
                    var callLine: UInt64?
                    for (name, value) in die.attributes {
                        switch (name, value) {
                        case (0x31, .reference(let target)): nameDIE = target
                        case (0x58, .unsigned(let v)): callFile = v
                        case (0x59, .unsigned(let v)): callLine = v
                        default: break
                        }
                    }
                    scopes.append(Scope(
                        ranges: ranges, parent: open.last?.scope, die: nameDIE, callFile: callFile, callLine: callLine,
                        isInlined: die.tag == 0x1d))
                    if die.hasChildren { open.append((depth, scopes.count - 1)) } else { scopes[scopes.count - 1].subtreeEnd = scopes.count }
                }
            }
            if die.hasChildren { depth += 1 }
            guard scopes.count < 1 << 24 else { throw c.error("too many scopes") }
        }
        for (_, scope) in open { scopes[scope].subtreeEnd = scopes.count }
        var top: [IndexedRange] = []
        for (index, scope) in scopes.enumerated() where scope.parent == nil {
            for range in scope.ranges { top.append(IndexedRange(start: range.lowerBound, end: range.upperBound, index: index)) }
        }
        top.sort { $0.start < $1.start }
        scopesByUnit[unitIndex] = scopes
        topLevelByUnit[unitIndex] = top
        return scopes
    }

    /// Linkage name, else name, of the DIE at `offset`, following `abstract_origin` / `specification`.
    func name(ofDIEAt offset: Int) throws(EngineError) -> String? {
        if let cached = names[offset] { return cached }
        var current = offset
        var plain: String?
        var result: String?
        for _ in 0 ..< 8 {
            guard let unitIndex = unit(atSectionOffset: current) else {
                throw EngineError(.dwarfMalformed, "DIE offset \(current) is in no unit")
            }
            let unit = units[unitIndex]
            var c = DWARFCursor(sections.info, offset: current, end: unit.end, what: ".debug_info DIE at \(current)")
            let die = try readDIE(&c, unit: unit, abbrevs: try abbrevs(unit), keep: Self.nameAttributes)
            var next: Int?
            for (name, value) in die.attributes {
                switch name {
                case 0x6e, 0x2007: result = try string(value, unit: unit)
                case 0x03: if plain == nil { plain = try string(value, unit: unit) }
                case 0x31, 0x47: if case .reference(let target) = value { next = target }
                default: break
                }
            }
            if result != nil { break }
            guard let next, next != current else { break }
            current = next
        }
        let name = result ?? plain
        names[offset] = .some(name)
        return name
    }
}
