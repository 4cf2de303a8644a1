import Glibc
import Testing

@testable import ProfdEngine

private typealias BacktraceFunction = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32) -> Int32

/// Return addresses of the current stack, innermost first, via glibc's `backtrace(3)` (found with dlsym).
@inline(never)
private func captureReturnAddresses() -> [UInt64] {
    let backtrace = unsafeBitCast(dlsym(nil, "backtrace")!, to: BacktraceFunction.self)
    var buffer = [UnsafeMutableRawPointer?](repeating: nil, count: 64)
    let count = Int(backtrace(&buffer, 64))
    return buffer.prefix(count).map { UInt64(UInt(bitPattern: $0)) }
}

/// A Swift function with a known name: `ProfdEngineTests.symbolizerMarker(depth:)`.
@inline(never)
func symbolizerMarker(depth: Int) -> [UInt64] {
    let addresses = captureReturnAddresses()
    return depth > 0 ? addresses : []
}

/// A C-named entry point in the test binary.
@_cdecl("profd_symbolizer_test_entry")
func symbolizerTestEntry(_ value: Int) -> Int { value &+ 1 }

@Suite struct SymbolizerTests {
    @Test func namesASwiftFunctionOfTheTestProcess() throws {
        let addresses = symbolizerMarker(depth: 1)
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        // addresses[0] is the return address into captureReturnAddresses, [1] into symbolizerMarker.
        let frames = symbolizer.symbolize(callchain: Array(addresses.prefix(3)), in: maps)
        #expect(frames.count == 3)
        #expect(frames[1].function == "ProfdEngineTests.symbolizerMarker(depth:)")
        #expect(frames[2].function == "ProfdEngineTests.SymbolizerTests.namesASwiftFunctionOfTheTestProcess()")
        #expect(frames[1].binary.hasSuffix(".xctest") || frames[1].binary.contains("PackageTests"))
        // The test binary carries DWARF (debug build), so the call site's file:line is known.
        #expect(frames[1].file?.hasSuffix("SymbolizerTests.swift") == true && frames[1].line != nil)

        let full = Symbolizer(nameStyle: .demangled)
        #expect(full.symbolize(addresses[1], in: maps, isReturnAddress: true).function
            == "ProfdEngineTests.symbolizerMarker(depth: Swift.Int) -> Swift.Array<Swift.UInt64>")
        let raw = Symbolizer(nameStyle: .raw)
        #expect(raw.symbolize(addresses[1], in: maps, isReturnAddress: true).function.hasPrefix("$s16ProfdEngineTests"))
    }

    @Test func namesACdeclEntryPointAtItsFirstInstruction() throws {
        let entry: @convention(c) (Int) -> Int = symbolizerTestEntry
        let address = UInt64(UInt(bitPattern: unsafeBitCast(entry, to: UnsafeRawPointer.self)))
        let maps = try ProcessMaps.read(pid: getpid())
        let frame = Symbolizer().symbolize(address, in: maps, isReturnAddress: false)
        #expect(frame.function == "profd_symbolizer_test_entry")
    }

    @Test func namesLibcExportsThroughDynsym() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        let malloc = try #require(dlsym(nil, "malloc")).address
        let frame = symbolizer.symbolize(malloc, in: maps, isReturnAddress: false)
        #expect(frame.function == "malloc")
        #expect(frame.binary.hasSuffix("/libc.so.6"))
        let free = try #require(dlsym(nil, "free")).address
        #expect(symbolizer.symbolize(free + 4, in: maps, isReturnAddress: true).function == "free")
    }

    @Test func usesTheBuildIDDebugFileForLibcInternalsWhenInstalled() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        let malloc = try #require(dlsym(nil, "malloc")).address
        let libc = try #require(maps.mapping(containing: malloc))
        let table = try #require(symbolizer.symbolTable(for: libc))
        let buildID = try #require(table.buildIDHex)
        let debugFile = "/usr/lib/debug/.build-id/\(buildID.prefix(2))/\(buildID.dropFirst(2)).debug"
        guard access(debugFile, R_OK) == 0 else {
            #expect(table.debugFilePath == nil)
            return
        }
        #expect(table.debugFilePath == debugFile)
        // dlsym resolves the strlen IFUNC to a CPU-specific local symbol that only .symtab names.
        let strlen = try #require(dlsym(nil, "strlen")).address
        #expect(symbolizer.symbolize(strlen, in: maps, isReturnAddress: false).function.hasPrefix("__strlen_"))
        let withoutDebug = Symbolizer(debugDirectory: nil)
        #expect(!withoutDebug.symbolize(strlen, in: maps, isReturnAddress: false).function.hasPrefix("__strlen_"))
        #expect(withoutDebug.symbolTable(for: libc)?.debugFilePath == nil)
    }

    @Test func namesLibswiftCoreSymbolsAndAttributesReturnAddressesToTheCaller() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        let count = try #require(dlsym(nil, "$sSS5countSivg")).address
        #expect(symbolizer.symbolize(count, in: maps, isReturnAddress: false).function == "Swift.String.count.getter")
        #expect(symbolizer.symbolize(dlsym(nil, "swift_retain")!.address, in: maps, isReturnAddress: false).function
            == "swift_retain")

        let core = try #require(maps.mapping(containing: count))
        let table = try #require(symbolizer.symbolTable(for: core))
        let vaddr = try #require(table.virtualAddress(forFileOffset: core.fileOffset(of: count)))
        let symbol = try #require(table.symbol(containing: vaddr))
        // A call as the last instruction returns to the next function's first byte; it still belongs to the caller.
        let end = count + symbol.size
        #expect(symbolizer.symbolize(end, in: maps, isReturnAddress: true).function == "Swift.String.count.getter")
        #expect(symbolizer.symbolize(end, in: maps, isReturnAddress: false).function != "Swift.String.count.getter")
    }

    @Test func unknownAddressesAndUnreadableBinariesGetSyntheticNames() throws {
        let name = "profd-symtest-\(getpid()) not elf.bin"
        let path = "/tmp/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        _ = Array("plain text".utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var st = stat()
        fstat(fd, &st)
        close(fd)
        defer { unlink(path) }

        let maps = ProcessMaps(mappings: [
            .init(start: 0x1000, end: 0x2000, fileOffset: 0x3000, deviceMajor: 1, deviceMinor: 2,
                  inode: UInt64(st.st_ino), path: path),
            .init(start: 0x5000, end: 0x6000, fileOffset: 0, deviceMajor: 1, deviceMinor: 2, inode: 77,
                  path: "/usr/lib/gone.so", isDeleted: true),
        ])
        let symbolizer = Symbolizer()
        #expect(symbolizer.symbolize(0x1010, in: maps, isReturnAddress: false)
            == Frame(function: "\(name)+0x3010", binary: path))
        #expect(symbolizer.symbolize(0x1011, in: maps, isReturnAddress: true).function == "\(name)+0x3010")
        #expect(symbolizer.symbolize(0x5020, in: maps, isReturnAddress: false)
            == Frame(function: "gone.so+0x20", binary: "/usr/lib/gone.so"))
        #expect(symbolizer.symbolize(0x9999, in: maps, isReturnAddress: true)
            == Frame(function: "0x9999", binary: "[unknown]"))
        #expect(symbolizer.loads.map(\.error?.code) == [.elfMalformed, .symbolFileChanged])
    }

    @Test func aReplacedFileIsNotTrustedForTheOldMapping() throws {
        let live = try ProcessMaps.read(pid: getpid())
        let libc = try #require(live.mapping(containing: dlsym(nil, "malloc")!.address))
        var stale = libc
        stale.inode = libc.inode &+ 1
        let symbolizer = Symbolizer()
        let frame = symbolizer.symbolize(libc.start + 0x100, in: ProcessMaps(mappings: [stale]), isReturnAddress: false)
        #expect(frame.function == "libc.so.6+0x\(String(libc.fileOffset + 0x100, radix: 16))")
        #expect(symbolizer.loads.last?.error?.code == .symbolFileChanged)
    }

    @Test func repeatedAddressesAreServedFromTheCaches() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        let chain = symbolizerMarker(depth: 1)
        let first = symbolizer.symbolize(callchain: chain, in: maps)
        let loaded = symbolizer.loads.count
        let second = symbolizer.symbolize(callchain: chain + chain, in: maps)
        #expect(Array(second.prefix(chain.count)) == first)
        // In the repeated half, chain[0] is a return address; the other frames must match.
        #expect(Array(second.suffix(chain.count - 1)) == Array(first.dropFirst()))
        #expect(symbolizer.loads.count == loaded)
        #expect(first.count == chain.count)
    }
}
