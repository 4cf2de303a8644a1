import Logging

/// Turns raw instruction addresses of a process into frames: maps → ELF symbols → demangled, short names.
///
/// Not thread-safe: use one instance from one thread. Each binary is parsed once (cached by path, device
/// and inode) and each address is resolved once (cached by file identity and offset), so the cache also
/// serves other processes that map the same files. The first lookup in a binary reads it from disk.
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
    /// One record per binary loaded so far, in load order.
    public private(set) var loads: [LoadRecord] = []

    private let logger: Logger
    private var imageIndex: [ImageKey: Int] = [:]
    private var tables: [ELFSymbolTable?] = []
    private var functionByAddress: [AddressKey: String] = [:]
    private var functionBySymbol: [SymbolKey: String] = [:]
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

    /// Creates a symbolizer with empty caches.
    public init(
        nameStyle: NameStyle = .simplified,
        debugDirectory: String? = "/usr/lib/debug",
        logger: Logger = Logger(label: "profd.symbolizer", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.nameStyle = nameStyle
        self.debugDirectory = debugDirectory
        self.logger = logger
    }

    /// The frame for `address`; a return address is looked up at `address - 1` so it names the caller.
    ///
    /// Unknown symbol: `function` is `"<basename>+0x<file offset>"`. Address in no mapping:
    /// `Frame(function: "0x<address>", binary: "[unknown]")`. May read and parse binaries (blocking).
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolize(_ address: UInt64, in maps: ProcessMaps, isReturnAddress: Bool) -> Frame {
        let lookup = isReturnAddress && address > 0 ? address - 1 : address
        guard let mapping = maps.mapping(containing: lookup) else {
            return Frame(function: "0x" + String(address, radix: 16), binary: "[unknown]")
        }
        let offset = mapping.fileOffset(of: lookup)
        let key = AddressKey(
            device: UInt64(mapping.deviceMajor) << 32 | UInt64(mapping.deviceMinor), inode: mapping.inode,
            fileOffset: offset)
        if mapping.inode != 0, let function = functionByAddress[key] {
            return Frame(function: function, binary: mapping.path)
        }
        let function = resolve(mapping: mapping, fileOffset: offset)
        if mapping.inode != 0 { functionByAddress[key] = function }
        return Frame(function: function, binary: mapping.path)
    }

    /// Frames for a sampled callchain: element 0 is the sampled instruction, the rest are return addresses.
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolize(callchain: [UInt64], in maps: ProcessMaps) -> [Frame] {
        callchain.enumerated().map { index, address in
            symbolize(address, in: maps, isReturnAddress: index > 0)
        }
    }

    /// The parsed symbol table for `mapping`'s binary, loading it on first use; nil if it cannot be read.
    @available(*, noasync, message: "may parse ELF files; call from a thread, not the cooperative pool")
    public func symbolTable(for mapping: ProcessMaps.Mapping) -> ELFSymbolTable? {
        tables[image(for: mapping)]
    }

    private func resolve(mapping: ProcessMaps.Mapping, fileOffset: UInt64) -> String {
        let index = image(for: mapping)
        guard let table = tables[index],
              let address = table.virtualAddress(forFileOffset: fileOffset),
              let ordinal = table.ordinal(containing: address)
        else {
            return Self.basename(mapping.path) + "+0x" + String(fileOffset, radix: 16)
        }
        let key = SymbolKey(image: index, ordinal: ordinal)
        if let name = functionBySymbol[key] { return name }
        let name = displayName(table.name(of: table.entries[ordinal]))
        functionBySymbol[key] = name
        return name
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
