import Logging

/// Turns raw instruction addresses of a process into frames: maps → ELF symbols → demangled, short names,
/// and, where the binary has DWARF, source file:line and the functions inlined at the address.
///
/// Not thread-safe: use one instance from one thread. Each binary is parsed once (cached by path, device
/// and inode) and each address is resolved once (cached by file identity and offset), so the cache also
/// serves other processes that map the same files. The first lookup in a binary reads it from disk.
///
/// DWARF is read lazily: a binary's debug sections are read the first time a frame in it is symbolized
/// (which happens at report time), its line table is parsed then, and each `.debug_info` unit's tree the
/// first time an address in that unit is looked up. The parsed DWARF is cached per process by build-id
/// (by binary when there is none), so copies of one build at different paths share it.
public final class Symbolizer {
    /// How `Frame.function` spells a symbol.
    public enum NameStyle: Sendable {
        /// Demangled, then shortened by `SwiftNameSimplifier` (Swift names only).
        case simplified
        /// Fully demangled.
        case demangled
        /// As stored in the symbol table.
        case raw
    }

    /// What loading one binary cost, for diagnostics.
    public struct LoadRecord: Sendable {
        /// Path of the binary.
        public var path: String
        /// Function symbols found, 0 on failure.
        public var symbolCount: Int
        /// Wall time spent reading and indexing.
        public var duration: Duration
        /// The separate debug file whose `.symtab` was used, if any.
        public var debugFilePath: String?
        /// Why the binary could not be used, if it could not.
        public var error: EngineError?
    }

    private struct ImageKey: Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
    }

    struct AddressKey: Hashable {
        var device: UInt64
        var inode: UInt64
        var fileOffset: UInt64
    }

    private struct SymbolKey: Hashable {
        var image: Int
        var ordinal: Int
    }

    /// How names are spelled.
    public let nameStyle: NameStyle
    /// Root of the `.build-id` debug-file tree, or nil to use only the binaries' own tables.
    public let debugDirectory: String?
    /// Whether frames get `file`/`line` from DWARF line tables.
    public let sourceLocations: Bool
    /// Whether `symbolize(callchain:)` expands an address into the functions inlined there (innermost first).
    public let inlineFrames: Bool
    /// One record per binary loaded so far, in load order.
    public private(set) var loads: [LoadRecord] = []

    private let logger: Logger
    private var imageIndex: [ImageKey: Int] = [:]
    private var tables: [ELFSymbolTable?] = []
    /// Resolved frames (innermost first), by file identity and offset of the looked-up address.
    private var framesByAddress: [AddressKey: [ResolvedFrame]] = [:]
    private var functionBySymbol: [SymbolKey: String] = [:]
    /// DWARF per loaded image (index into `tables`), nil when the binary has none; shared by build-id.
    private var sourceInfoByImage: [Int: DWARFSourceInfo?] = [:]
    private var sourceInfoByBuildID: [[UInt8]: DWARFSourceInfo?] = [:]
    private var inlinedNames: [String: String] = [:]
    /// How many binaries' DWARF sections were read (each build-id once), for tests and diagnostics.
    private(set) var dwarfLoadCount = 0

    /// A frame without its binary path (which comes from the mapping at lookup time).
    private struct ResolvedFrame {
        var function: String
        var file: String?
        var line: Int?
    }
    /// Leaf-frame repair caches (see LeafFrameRepair.swift), by file identity and offset.
    var leafSlots: [AddressKey: (Int, UInt64)?] = [:]
    var returnAddressChecks: [ReturnAddressKey: Bool] = [:]

    struct ReturnAddressKey: Hashable {
        var returnAddress: AddressKey
        /// Runtime address of the called function (runtime addresses differ per process, like the key).
        var function: UInt64
    }
    private var codeSources: [ImageKey: ELFFileSource?] = [:]

    /// The file identity and offset of `address`, the key of every per-address cache.
    func addressKey(_ address: UInt64, in maps: ProcessMaps) -> AddressKey? {
        guard let mapping = maps.mapping(containing: address), mapping.inode != 0 else { return nil }
        return AddressKey(device: UInt64(mapping.deviceMajor) << 32 | UInt64(mapping.deviceMinor), inode: mapping.inode,
                          fileOffset: mapping.fileOffset(of: address))
    }

    /// `count` bytes of code at `address`, read from the mapped file; nil if they cannot be read.
    @available(*, noasync, message: "reads binaries; call from a thread, not the cooperative pool")
    func codeBytes(at address: UInt64, count: Int, in maps: ProcessMaps) -> [UInt8]? {
        guard let mapping = maps.mapping(containing: address), !mapping.isDeleted,
              address + UInt64(count) <= mapping.end else { return nil }
        let key = ImageKey(path: mapping.path, device: UInt64(mapping.deviceMajor) << 32 | UInt64(mapping.deviceMinor),
                           inode: mapping.inode)
        let source: ELFFileSource?
        if let cached = codeSources[key] {
            source = cached
        } else {
            let opened = try? ELFFileSource(path: mapping.path)
            source = opened.flatMap { mapping.inode == 0 || $0.inode == mapping.inode ? $0 : nil }
            codeSources[key] = .some(source)
        }
        return try? source?.read(offset: mapping.fileOffset(of: address), count: UInt64(count), what: "code")
    }

    /// Closes the binaries opened by `codeBytes(at:count:in:)`; what was read from them stays cached, and a
    /// later read opens the file again. profd calls this after each session's reports, so no descriptor
    /// outlives the sessions that needed it: a daemon running for months sees every deploy's new binaries.
    /// Binaries parsed so far (each one's symbol table stays in memory).
    public var cachedBinaryCount: Int { tables.count }
    /// Entries of the per-address caches (frames, leaf repair).
    public var cachedAddressCount: Int { framesByAddress.count + leafSlots.count + returnAddressChecks.count }

    public func closeCodeFiles() {
        codeSources.removeAll()
    }

    /// Creates a symbolizer with empty caches.
    /// - Parameters:
    ///   - sourceLocations: set `Frame.file`/`Frame.line` from DWARF where the binary has it.
    ///   - inlineFrames: let `symbolize(callchain:)` emit one frame per function inlined at an address.
    public init(
        nameStyle: NameStyle = .simplified,
        debugDirectory: String? = "/usr/lib/debug",
        sourceLocations: Bool = true,
        inlineFrames: Bool = true,
        logger: Logger = Logger(label: "profd.symbolizer", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.nameStyle = nameStyle
        self.debugDirectory = debugDirectory
        self.sourceLocations = sourceLocations
        self.inlineFrames = inlineFrames && sourceLocations
        self.logger = logger
    }

    /// The frame for `address`; a return address is looked up at `address - 1` so it names the caller.
    ///
    /// Unknown symbol: `function` is `"<basename>+0x<file offset>"`. Address in no mapping:
    /// `Frame(function: "0x<address>", binary: "[unknown]")`. May read and parse binaries (blocking).
    /// When code of other functions is inlined at the address, this is the function that holds the code,
    /// with the file:line of the outermost inlined call (see `symbolizeInlined` for all of them).
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolize(_ address: UInt64, in maps: ProcessMaps, isReturnAddress: Bool) -> Frame {
        symbolizeInlined(address, in: maps, isReturnAddress: isReturnAddress).last!
    }

    /// The frames for `address`, innermost first: the functions inlined there (from DWARF), then the
    /// function that holds the code. One frame when there is no inline information. A return address is
    /// looked up at `address - 1`, inside the call instruction, so lines and inlining are the call site's.
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolizeInlined(_ address: UInt64, in maps: ProcessMaps, isReturnAddress: Bool) -> [Frame] {
        let lookup = isReturnAddress && address > 0 ? address - 1 : address
        guard let mapping = maps.mapping(containing: lookup) else {
            return [Frame(function: "0x" + String(address, radix: 16), binary: "[unknown]")]
        }
        let offset = mapping.fileOffset(of: lookup)
        let key = AddressKey(
            device: UInt64(mapping.deviceMajor) << 32 | UInt64(mapping.deviceMinor), inode: mapping.inode,
            fileOffset: offset)
        let resolved: [ResolvedFrame]
        if mapping.inode != 0, let cached = framesByAddress[key] {
            resolved = cached
        } else {
            resolved = resolve(mapping: mapping, fileOffset: offset)
            if mapping.inode != 0 { framesByAddress[key] = resolved }
        }
        return resolved.map { Frame(function: $0.function, binary: mapping.path, file: $0.file, line: $0.line) }
    }

    /// Frames for a sampled callchain: element 0 is the sampled instruction, the rest are return addresses.
    /// With `inlineFrames`, an address with inlined code yields several frames, innermost first.
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolize(callchain: [UInt64], in maps: ProcessMaps) -> [Frame] {
        var frames: [Frame] = []
        frames.reserveCapacity(callchain.count)
        for (index, address) in callchain.enumerated() {
            if inlineFrames {
                frames.append(contentsOf: symbolizeInlined(address, in: maps, isReturnAddress: index > 0))
            } else {
                frames.append(symbolize(address, in: maps, isReturnAddress: index > 0))
            }
        }
        return frames
    }

    /// The parsed symbol table for `mapping`'s binary, loading it on first use; nil if it cannot be read.
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolTable(for mapping: ProcessMaps.Mapping) -> ELFSymbolTable? {
        tables[image(for: mapping)]
    }

    private func resolve(mapping: ProcessMaps.Mapping, fileOffset: UInt64) -> [ResolvedFrame] {
        let index = image(for: mapping)
        guard let table = tables[index], let address = table.virtualAddress(forFileOffset: fileOffset) else {
            return [ResolvedFrame(function: Self.basename(mapping.path) + "+0x" + String(fileOffset, radix: 16))]
        }
        let function: String
        if let ordinal = table.ordinal(containing: address) {
            let key = SymbolKey(image: index, ordinal: ordinal)
            if let name = functionBySymbol[key] {
                function = name
            } else {
                function = displayName(table.name(of: table.entries[ordinal]))
                functionBySymbol[key] = function
            }
        } else {
            function = Self.basename(mapping.path) + "+0x" + String(fileOffset, radix: 16)
        }
        guard sourceLocations, let info = sourceInfo(image: index, table: table, mapping: mapping) else {
            return [ResolvedFrame(function: function)]
        }
        let sourceFrames = info.frames(at: address, inlined: inlineFrames)
        return sourceFrames.map { source in
            let name = source.name.map(inlinedName) ?? function
            return ResolvedFrame(function: name, file: source.file, line: source.line)
        }
    }

    private func inlinedName(_ raw: String) -> String {
        if let name = inlinedNames[raw] { return name }
        let name = displayName(raw)
        inlinedNames[raw] = name
        return name
    }

    /// The DWARF of image `index`, read on first use and shared by build-id; nil when it has none.
    private func sourceInfo(image index: Int, table: ELFSymbolTable, mapping: ProcessMaps.Mapping) -> DWARFSourceInfo? {
        if let cached = sourceInfoByImage[index] { return cached }
        if let buildID = table.buildID, let cached = sourceInfoByBuildID[buildID] {
            sourceInfoByImage[index] = .some(cached)
            return cached
        }
        let started = ContinuousClock.now
        dwarfLoadCount += 1
        var info: DWARFSourceInfo?
        var path = mapping.path
        do {
            info = try loadSourceInfo(path: mapping.path, inode: mapping.inode)
            if info == nil, let debugFile = table.debugFilePath {
                path = debugFile
                info = try loadSourceInfo(path: debugFile, inode: 0)
            }
        } catch {
            logger.debug(
                "cannot read DWARF", metadata: ["profd.symbols.path": "\(path)", "profd.symbols.error": "\(error)"])
        }
        if let info, !info.compressedSections.isEmpty {
            logger.debug(
                "compressed DWARF sections skipped",
                metadata: ["profd.symbols.path": "\(path)", "profd.symbols.sections": "\(info.compressedSections)"])
        }
        logger.debug(
            "read DWARF sections",
            metadata: [
                "profd.symbols.path": "\(path)", "profd.symbols.dwarf": "\(info != nil)",
                "profd.symbols.duration": "\(ContinuousClock.now - started)",
            ])
        sourceInfoByImage[index] = .some(info)
        if let buildID = table.buildID { sourceInfoByBuildID[buildID] = .some(info) }
        return info
    }

    private func loadSourceInfo(path: String, inode: UInt64) throws(EngineError) -> DWARFSourceInfo? {
        let source = try ELFFileSource(path: path)
        guard inode == 0 || source.inode == inode else {
            throw EngineError(.symbolFileChanged, "\(path) is inode \(source.inode), the process mapped \(inode)")
        }
        return try DWARFSourceInfo.load(image: try ELFImage(source: source))
    }

    private func displayName(_ raw: String) -> String {
        switch nameStyle {
        case .raw:
            return raw
        case .demangled:
            return Demangler.demangle(raw)
        case .simplified:
            let demangled = Demangler.demangle(raw)
            return Demangler.isSwiftMangled(raw) ? SwiftNameSimplifier.simplify(demangled) : demangled
        }
    }

    private func image(for mapping: ProcessMaps.Mapping) -> Int {
        let key = ImageKey(
            path: mapping.path, device: UInt64(mapping.deviceMajor) << 32 | UInt64(mapping.deviceMinor),
            inode: mapping.inode)
        if let index = imageIndex[key] { return index }
        let started = ContinuousClock.now
        var record = LoadRecord(path: mapping.path, symbolCount: 0, duration: .zero)
        var table: ELFSymbolTable?
        do {
            table = try load(mapping)
            record.symbolCount = table?.symbolCount ?? 0
            record.debugFilePath = table?.debugFilePath
        } catch {
            record.error = error
            logger.debug(
                "cannot load symbols",
                metadata: ["profd.symbols.path": "\(mapping.path)", "profd.symbols.error": "\(error)"])
        }
        record.duration = ContinuousClock.now - started
        if table != nil {
            logger.debug(
                "loaded symbols",
                metadata: [
                    "profd.symbols.path": "\(mapping.path)", "profd.symbols.count": "\(record.symbolCount)",
                    "profd.symbols.duration": "\(record.duration)",
                ])
        }
        loads.append(record)
        tables.append(table)
        imageIndex[key] = tables.count - 1
        return tables.count - 1
    }

    private func load(_ mapping: ProcessMaps.Mapping) throws(EngineError) -> ELFSymbolTable {
        guard !mapping.isDeleted else {
            throw EngineError(.symbolFileChanged, "\(mapping.path) was deleted after it was mapped")
        }
        let source = try ELFFileSource(path: mapping.path)
        guard mapping.inode == 0 || source.inode == mapping.inode else {
            throw EngineError(
                .symbolFileChanged, "\(mapping.path) is inode \(source.inode), the process mapped \(mapping.inode)")
        }
        return try ELFSymbolTable(source: source, path: mapping.path, debugDirectory: debugDirectory)
    }

    private static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
