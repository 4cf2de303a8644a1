import Glibc
import Testing

@testable import ProfdEngine

/// Writes a small ELF64 LE image: one PT_LOAD (vaddr = offset + 0x10000), a build-id note, `.symtab`, `.strtab`.
struct TinyELF {
    struct Sym {
        var name: String
        var value: UInt64
        var size: UInt64
        var type: UInt8 = 2  // STT_FUNC
        var binding: UInt8 = 1  // STB_GLOBAL
    }

    static let loadBias: UInt64 = 0x10000
    static let buildID: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04]
    static let defaultSymbols = [
        Sym(name: "_alias_alpha", value: 0x10100, size: 0x20),
        Sym(name: "alpha", value: 0x10100, size: 0x20),
        Sym(name: "beta", value: 0x10200, size: 0),  // size 0: extends to gamma
        Sym(name: "gamma", value: 0x10300, size: 0x10, type: 10),  // STT_GNU_IFUNC
        Sym(name: "local_delta", value: 0x10380, size: 0x10, binding: 0),
        Sym(name: "some_object", value: 0x10400, size: 0x10, type: 1),  // STT_OBJECT: not a function
    ]

    var symbols = defaultSymbols
    /// Byte offsets of interesting fields in the last `build()`, for corruption tests.
    var sectionHeaderOffset = 0
    var symtabHeaderOffset = 0
    var noteOffset = 0

    mutating func build() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64 + 56)
        noteOffset = out.count
        out += le32(4) + le32(UInt32(Self.buildID.count)) + le32(3) + Array("GNU\0".utf8) + Self.buildID
        let noteSize = out.count - noteOffset

        var strtab: [UInt8] = [0]
        var symtab = [UInt8](repeating: 0, count: 24)
        for sym in symbols {
            let nameOffset = UInt32(strtab.count)
            strtab += Array(sym.name.utf8) + [0]
            symtab += le32(nameOffset) + [sym.binding << 4 | sym.type, 0] + le16(1) + le64(sym.value) + le64(sym.size)
        }
        let shstrtab = Array("\0.note.gnu.build-id\0.symtab\0.strtab\0.shstrtab\0".utf8)
        let symtabOffset = out.count
        out += symtab
        let strtabOffset = out.count
        out += strtab
        let shstrtabOffset = out.count
        out += shstrtab
        while out.count % 8 != 0 { out.append(0) }

        sectionHeaderOffset = out.count
        out += [UInt8](repeating: 0, count: 64)  // SHN_UNDEF
        out += section(name: 1, type: 7, offset: noteOffset, size: noteSize, link: 0, entsize: 0)
        symtabHeaderOffset = out.count
        out += section(name: 20, type: 2, offset: symtabOffset, size: symtab.count, link: 3, entsize: 24)
        out += section(name: 28, type: 3, offset: strtabOffset, size: strtab.count, link: 0, entsize: 0)
        out += section(name: 36, type: 3, offset: shstrtabOffset, size: shstrtab.count, link: 0, entsize: 0)

        let header: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8)
            + le16(3) + le16(62) + le32(1) + le64(0) + le64(64) + le64(UInt64(sectionHeaderOffset)) + le32(0)
            + le16(64) + le16(56) + le16(1) + le16(64) + le16(5) + le16(4)
        out.replaceSubrange(0 ..< 64, with: header)
        let load = le32(1) + le32(5) + le64(0) + le64(Self.loadBias) + le64(Self.loadBias)
            + le64(UInt64(out.count)) + le64(UInt64(out.count) + 0x1000) + le64(0x1000)
        out.replaceSubrange(64 ..< 120, with: load)
        return out
    }

    private func section(name: UInt32, type: UInt32, offset: Int, size: Int, link: UInt32, entsize: UInt64) -> [UInt8] {
        le32(name) + le32(type) + le64(0) + le64(0) + le64(UInt64(offset)) + le64(UInt64(size)) + le32(link)
            + le32(0) + le64(1) + le64(entsize)
    }
}

func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

extension Array where Element == UInt8 {
    mutating func put64(_ value: UInt64, at offset: Int) { replaceSubrange(offset ..< offset + 8, with: le64(value)) }
    mutating func put32(_ value: UInt32, at offset: Int) { replaceSubrange(offset ..< offset + 4, with: le32(value)) }
}

/// Deterministic PRNG for the corruption tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ELFSymbolTableTests {
    @Test func readsFunctionSymbolsSizesAndBuildID() throws {
        var elf = TinyELF()
        let table = try ELFSymbolTable(bytes: elf.build())
        #expect(table.buildID == TinyELF.buildID)
        #expect(table.buildIDHex == "deadbeef01020304")
        #expect(table.symbolCount == 4)  // alpha (with its alias), beta, gamma, local_delta
        #expect(table.virtualAddress(forFileOffset: 0x100) == 0x10100)
        #expect(table.symbol(containing: 0x10100)?.name == "alpha")  // GLOBAL alias with fewer underscores
        #expect(table.symbol(containing: 0x1011F)?.name == "alpha")
        #expect(table.symbol(containing: 0x10120) == nil)  // past alpha's size, before beta
        #expect(table.symbol(containing: 0x102FF)?.name == "beta")  // size 0 extends to the next symbol
        #expect(table.symbol(containing: 0x102FF)?.size == 0x100)
        #expect(table.symbol(containing: 0x10305)?.name == "gamma")  // IFUNC
        #expect(table.symbol(containing: 0x10385)?.name == "local_delta")
        #expect(table.symbol(containing: 0x10405) == nil)  // objects are not functions
        #expect(table.symbol(containing: 0x100) == nil)
    }

    @Test func aGlobalNameBeatsALocalAliasAtTheSameAddress() throws {
        var elf = TinyELF()
        elf.symbols = [
            .init(name: "a_local_name", value: 0x10100, size: 8, binding: 0),
            .init(name: "__weak_name", value: 0x10100, size: 8, binding: 2),
            .init(name: "__global_name", value: 0x10100, size: 8),
        ]
        let table = try ELFSymbolTable(bytes: elf.build())
        #expect(table.symbol(containing: 0x10104)?.name == "__global_name")
        #expect(table.symbolCount == 1)
    }

    @Test func truncatedFileThrowsMalformed() throws {
        var elf = TinyELF()
        let bytes = elf.build()
        for length in [0, 4, 40, 63] {
            #expect(throws: EngineError.self) { try ELFSymbolTable(bytes: Array(bytes.prefix(length))) }
            #expect(code(of: Array(bytes.prefix(length))) == .elfMalformed)
        }
        // Cut inside the section headers.
        #expect(code(of: Array(bytes.prefix(elf.sectionHeaderOffset + 10))) == .elfMalformed)
    }

    @Test func garbageBytesThrowMalformed() {
        var rng = SplitMix64(state: 7)
        let garbage = (0 ..< 4096).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        #expect(code(of: garbage) == .elfMalformed)
    }

    @Test func elf32IsUnsupported() {
        var elf = TinyELF()
        var bytes = elf.build()
        bytes[4] = 1
        #expect(code(of: bytes) == .elfUnsupported)
    }

    @Test func outOfBoundsOffsetsThrowMalformed() {
        var elf = TinyELF()
        let good = elf.build()

        var badSectionTable = good
        badSectionTable.put64(UInt64(good.count) + 1, at: 0x28)  // e_shoff past the end
        #expect(code(of: badSectionTable) == .elfMalformed)

        var hugeSectionTable = good
        hugeSectionTable.put64(.max - 8, at: 0x28)  // e_shoff that overflows when added to
        #expect(code(of: hugeSectionTable) == .elfMalformed)

        var badSymtabOffset = good
        badSymtabOffset.put64(UInt64(good.count) - 4, at: elf.symtabHeaderOffset + 0x18)
        #expect(code(of: badSymtabOffset) == .elfMalformed)

        var badSymtabSize = good
        badSymtabSize.put64(.max, at: elf.symtabHeaderOffset + 0x20)
        #expect(code(of: badSymtabSize) == .elfMalformed)

        var badLink = good
        badLink.put32(99, at: elf.symtabHeaderOffset + 0x28)
        #expect(code(of: badLink) == .elfMalformed)

        var badEntrySize = good
        badEntrySize.put64(7, at: elf.symtabHeaderOffset + 0x38)
        #expect(code(of: badEntrySize) == .elfMalformed)

        var badNote = good
        badNote.put32(0xFFFF_FFF0, at: elf.noteOffset + 4)  // descsz
        #expect(code(of: badNote) == .elfMalformed)

        var badProgramHeaders = good
        badProgramHeaders.put64(UInt64(good.count) - 8, at: 0x20)  // e_phoff
        #expect(code(of: badProgramHeaders) == .elfMalformed)
    }

    @Test func symbolNamesOutsideTheStringTableAreSkipped() throws {
        var elf = TinyELF()
        var bytes = elf.build()
        bytes.put32(0xFFFF, at: symbolNameOffset(in: elf, index: 2))
        let table = try ELFSymbolTable(bytes: bytes)
        #expect(table.symbolCount == 4)  // the alias "alpha" (index 2) is gone, "_alias_alpha" remains
        #expect(table.symbol(containing: 0x10100)?.name == "_alias_alpha")
    }

    @Test func everyTruncationAndRandomCorruptionThrowsOrParsesWithoutTrapping() {
        var elf = TinyELF()
        let good = elf.build()
        var parsed = 0
        for length in 0 ..< good.count {
            if (try? ELFSymbolTable(bytes: Array(good.prefix(length)))) != nil { parsed += 1 }
        }
        // The section headers come last, so every cut loses part of them and must fail.
        #expect(parsed == 0)

        var rng = SplitMix64(state: 42)
        var outcomes = (ok: 0, failed: 0)
        for _ in 0 ..< 3000 {
            var bytes = good
            for _ in 0 ..< Int.random(in: 1 ... 6, using: &rng) {
                let index = Int.random(in: 0 ..< bytes.count, using: &rng)
                bytes[index] = UInt8.random(in: 0 ... 255, using: &rng)
            }
            if let table = try? ELFSymbolTable(bytes: bytes) {
                outcomes.ok += 1
                for address in stride(from: UInt64(0x10000), to: 0x10500, by: 0x10) {
                    _ = table.symbol(containing: address)
                    _ = table.virtualAddress(forFileOffset: address - 0x10000)
                }
            } else {
                outcomes.failed += 1
            }
        }
        #expect(outcomes.ok + outcomes.failed == 3000)
        #expect(outcomes.failed > 0 && outcomes.ok > 0)
    }

    @Test func loadReportsUnreadableFilesWithErrno() {
        #expect(loadCode("/nonexistent/libnothing.so") == .symbolFileUnreadable)
        #expect(loadCode("/tmp") == .symbolFileUnreadable)
    }

    @Test func loadOfAGarbageFileOnDiskThrowsMalformed() throws {
        let path = "/tmp/profd-symtest-\(getpid())-garbage.so"
        let garbage = Array("this is not an ELF file at all, just text".utf8) + [UInt8](repeating: 0x41, count: 100)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        #expect(loadCode(path) == .elfMalformed)
    }

    @Test func loadsLibswiftCoreWithBuildIDAndSymtab() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let core = try #require(maps.mappings.first { $0.path.hasSuffix("/libswiftCore.so") })
        let table = try ELFSymbolTable.load(path: core.path)
        #expect(table.symbolCount > 10_000)
        #expect(table.buildID?.count == 20)
        #expect(table.debugFilePath == nil)  // the toolchain ships .symtab
        let address = try #require(dlsym(nil, "$sSS5countSivg")).address
        let mapping = try #require(maps.mapping(containing: address))
        let vaddr = try #require(table.virtualAddress(forFileOffset: mapping.fileOffset(of: address)))
        #expect(table.symbol(containing: vaddr)?.name == "$sSS5countSivg")
        #expect(table.symbol(containing: vaddr)?.address == vaddr)
    }

    private func code(of bytes: [UInt8]) -> EngineError.Code? {
        do {
            _ = try ELFSymbolTable(bytes: bytes)
            return nil
        } catch {
            return error.code
        }
    }

    private func loadCode(_ path: String) -> EngineError.Code? {
        do {
            _ = try ELFSymbolTable.load(path: path, debugDirectory: nil)
            return nil
        } catch {
            return error.code
        }
    }

    private func symbolNameOffset(in elf: TinyELF, index: Int) -> Int {
        // .symtab starts right after the note; entry `index` (1-based after the null entry) has st_name first.
        elf.noteOffset + 24 + 24 * index
    }
}

extension UnsafeMutableRawPointer {
    var address: UInt64 { UInt64(UInt(bitPattern: self)) }
}
