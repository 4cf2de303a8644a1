/// Source locations of one binary from its DWARF: address → file:line, and the inlined calls around it.
///
/// Built from the sections alone; the line table is parsed on the first lookup and `.debug_info` unit
/// trees on the first inline lookup in each unit. A section that turns out malformed disables only
/// what depends on it (the error is kept in `lineTableError` / `debugInfoError`). Not thread-safe.
final class DWARFSourceInfo {
    /// One frame for an address: innermost (an inlined function, or the function itself) first.
    struct SourceFrame: Equatable {
        /// Raw (usually mangled) name of an inlined function; nil for the outermost frame, which is the
        /// function the symbol table names.
        var name: String?
        var file: String?
        var line: Int?
    }

    private var sections: DWARFSections
    private var lineTableState: DWARFLineTable??
    private var debugInfoState: DWARFDebugInfo??
    private(set) var lineTableError: EngineError?
    private(set) var debugInfoError: EngineError?

    /// Whether there is a line table to look in.
    var hasLineTable: Bool { !sections.line.isEmpty }
    /// Names of DWARF sections skipped because they are compressed.
    var compressedSections: [String] { sections.compressed }

    init(sections: DWARFSections) {
        self.sections = sections
    }

    /// Reads the DWARF sections of `image`; nil when it has neither a line table nor `.debug_info`.
    static func load(image: ELFImage) throws(EngineError) -> DWARFSourceInfo? {
        let sections = try DWARFSections(image: image)
        guard !sections.line.isEmpty || !sections.info.isEmpty else { return nil }
        return DWARFSourceInfo(sections: sections)
    }

    var lineTable: DWARFLineTable? {
        if let state = lineTableState { return state }
        var table: DWARFLineTable?
        if !sections.line.isEmpty {
            do {
                table = try DWARFLineTable(line: sections.line, lineStr: sections.lineStr, str: sections.str)
            } catch {
                lineTableError = error
            }
        }
        lineTableState = .some(table)
        // The raw bytes are no longer needed once the rows are built.
        sections.line = []
        sections.lineStr = []
        return table
    }

    var debugInfo: DWARFDebugInfo? {
        if let state = debugInfoState { return state }
        var info: DWARFDebugInfo?
        if !sections.info.isEmpty, !sections.abbrev.isEmpty {
            do {
                var infoSections = sections
                infoSections.line = []
                infoSections.lineStr = []
                info = try DWARFDebugInfo(sections: infoSections)
            } catch {
                debugInfoError = error
            }
        }
        debugInfoState = .some(info)
        return info
    }

    /// `(file, line)` of `address` from the line table alone; nil when there is none or the line is 0.
    func location(at address: UInt64) -> (file: String, line: Int)? {
        lineTable?.location(for: address)
    }

    /// The frames for `address` (a virtual address in the binary), innermost first. Without inline
    /// information there is one frame; with `inlined` false, only the outermost frame (the function that
    /// holds the code, located at the outermost inlined call site) is returned.
    func frames(at address: UInt64, inlined: Bool = true) -> [SourceFrame] {
        let row = lineTable.flatMap { $0.row(for: address) }
        var file = row.flatMap { row in row.line == 0 ? nil : lineTable?.file(row.file) }
        var line = file == nil ? nil : row.map { Int($0.line) }
        var calls: [DWARFDebugInfo.InlinedCall] = []
        if let info = debugInfo {
            do {
                calls = try info.inlinedCalls(at: address, lineTable: lineTable)
            } catch {
                if debugInfoError == nil { debugInfoError = error }
            }
        }
        var frames: [SourceFrame] = []
        for call in calls {
            if inlined { frames.append(SourceFrame(name: call.name, file: file, line: line)) }
            let known = call.callLine.map { $0 != 0 } ?? false
            file = known ? call.callFile : nil
            line = known && call.callFile != nil ? call.callLine : nil
        }
        frames.append(SourceFrame(name: nil, file: file, line: line))
        return frames
    }
}
