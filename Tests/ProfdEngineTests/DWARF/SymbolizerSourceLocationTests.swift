import Glibc
import Testing

@testable import ProfdEngine

private typealias BacktraceFunction = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32) -> Int32

/// Return addresses of the current stack, innermost first (glibc `backtrace(3)`), and the caller's line.
@inline(never)
private func dwarfMarker() -> (addresses: [UInt64], line: Int) {
    let backtrace = unsafeBitCast(dlsym(nil, "backtrace")!, to: BacktraceFunction.self)
    var buffer = [UnsafeMutableRawPointer?](repeating: nil, count: 64)
    let count = Int(backtrace(&buffer, 64)); let line = #line
    return (buffer.prefix(count).map { UInt64(UInt(bitPattern: $0)) }, line)
}

/// The symbolizer's use of DWARF: file:line on frames, inline expansion, laziness and the build-id cache.
@Suite struct SymbolizerSourceLocationTests {
    @Test func framesOfTheTestProcessCarryFileAndLine() throws {
        let (addresses, line) = dwarfMarker()
        let maps = try ProcessMaps.read(pid: getpid())
        let symbolizer = Symbolizer()
        // addresses[0] returns into dwarfMarker: looked up at address - 1, it is the line of the call.
        let frame = symbolizer.symbolize(addresses[0], in: maps, isReturnAddress: true)
        #expect(frame.function.hasSuffix("dwarfMarker()"))
        #expect(frame.file?.hasSuffix("/DWARF/SymbolizerSourceLocationTests.swift") == true)
        #expect(frame.line == line)
        // Without the - 1, the return address can fall on the next line's code.
        #expect(symbolizer.symbolize(addresses[0], in: maps, isReturnAddress: true) == frame)

        let plain = Symbolizer(sourceLocations: false)
        let without = plain.symbolize(addresses[0], in: maps, isReturnAddress: true)
        #expect(without.function == frame.function && without.file == nil && without.line == nil)
        #expect(plain.dwarfLoadCount == 0)
    }

    @Test func dwarfIsReadLazilyAndSharedByBuildID() throws {
        let binary = try DWARFRealBinaryTests.compileC(flags: ["-g", "-O0"])
        let copy = binary + "-copy"
        _ = try DWARFRealBinaryTests.run("/bin/cp", [binary, copy])
        let table = try ELFSymbolTable.load(path: binary, debugDirectory: nil)
        try #require(table.buildID != nil)
        let square = try #require(table.entries.first { table.name(of: $0) == "square" })
        let segment = try #require(table.segments.first { $0.isExecutable })
        func mapping(_ path: String, at start: UInt64) throws -> ProcessMaps.Mapping {
            var st = stat()
            try #require(stat(path, &st) == 0)
            return ProcessMaps.Mapping(
                start: start, end: start + segment.fileSize, fileOffset: segment.fileOffset, deviceMajor: 0,
                deviceMinor: 0, inode: UInt64(st.st_ino), path: path)
        }
        let first = try mapping(binary, at: 0x5555_0000_0000)
        let second = try mapping(copy, at: 0x6666_0000_0000)
        let maps = ProcessMaps(mappings: [first, second])
        let symbolizer = Symbolizer(debugDirectory: nil)
        #expect(symbolizer.dwarfLoadCount == 0)
        for m in [first, second] {
            let address = m.start + (square.start - segment.virtualAddress)
            let frame = symbolizer.symbolize(address, in: maps, isReturnAddress: false)
            #expect(frame.function == "square")
            #expect(frame.file?.hasSuffix("/demo.c") == true)
            #expect(frame.line == 3)
            #expect(frame.binary == m.path)
        }
        #expect(symbolizer.dwarfLoadCount == 1)
    }

    @Test func inlinedCallsBecomeFramesInnermostFirst() throws {
        let binary = try DWARFRealBinaryTests.compileC(flags: ["-g", "-O2"])
        let table = try ELFSymbolTable.load(path: binary, debugDirectory: nil)
        let info = try DWARFRealBinaryTests.sourceInfo(binary)
        let work = try #require(table.entries.first { table.name(of: $0) == "work" })
        // An address in work() whose code came from the inlined twice().
        let inlined = try #require((work.start ..< work.end).first { info.frames(at: $0).count > 1 })
        let segment = try #require(table.segments.first { $0.isExecutable })
        var st = stat()
        try #require(stat(binary, &st) == 0)
        let start: UInt64 = 0x5555_0000_0000
        let maps = ProcessMaps(mappings: [ProcessMaps.Mapping(
            start: start, end: start + segment.fileSize, fileOffset: segment.fileOffset, deviceMajor: 0, deviceMinor: 0,
            inode: UInt64(st.st_ino), path: binary)])
        let runtime = start + (inlined - segment.virtualAddress)
        let frames = Symbolizer(debugDirectory: nil).symbolize(callchain: [runtime], in: maps)
        // addr2line -f -i prints function, file:line pairs, innermost first.
        let expected = try DWARFRealBinaryTests.run(
            "/usr/bin/addr2line", ["-f", "-i", "-e", binary, "0x" + String(inlined, radix: 16)]
        ).split(separator: "\n").map(String.init)
        #expect(frames.map(\.function) == stride(from: 0, to: expected.count, by: 2).map { expected[$0] })
        #expect(frames.map(\.function).contains("twice"))
        #expect(frames.last?.function == "work")
        #expect(frames.map { "\($0.file ?? "?"):\($0.line ?? 0)" }
            == stride(from: 1, to: expected.count, by: 2).map { DWARFRealBinaryTests.normalize(expected[$0]) })
        let flat = Symbolizer(debugDirectory: nil, inlineFrames: false).symbolize(callchain: [runtime], in: maps)
        #expect(flat.map(\.function) == ["work"])
        #expect(flat.first?.line == frames.last?.line)
    }
}
