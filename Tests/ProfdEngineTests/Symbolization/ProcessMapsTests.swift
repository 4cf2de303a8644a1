import Glibc
import Testing

@testable import ProfdEngine

@Suite struct ProcessMapsTests {
    static let sample = """
        55d0c0a00000-55d0c0a2e000 r--p 00000000 fe:00 1048601                    /usr/bin/my app
        55d0c0a2e000-55d0c0b10000 r-xp 0002e000 fe:00 1048601                    /usr/bin/my app
        55d0c0b10000-55d0c0b50000 r--p 00110000 fe:00 1048601                    /usr/bin/my app
        55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0                          [heap]
        7f1000000000-7f1000010000 r-xp 00000000 00:00 0 
        7f1000100000-7f1000200000 r-xp 00010000 fe:01 42                         /tmp/libplugin.so (deleted)
        7f10002ab000-7f1000401000 r-xp 00026000 fe:00 333151                     /usr/lib/x86_64-linux-gnu/libc.so.6
        7ffd5a1f0000-7ffd5a1f2000 r-xp 00000000 00:00 0                          [vdso]
        7ffd5a100000-7ffd5a121000 rw-p 00000000 00:00 0                          [stack]
        this line is not a mapping
        ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
        """

    @Test func keepsOnlyExecutableFileBackedMappings() {
        let maps = ProcessMaps(parsing: Self.sample)
        #expect(maps.mappings.map(\.path) == [
            "/usr/bin/my app", "/tmp/libplugin.so", "/usr/lib/x86_64-linux-gnu/libc.so.6",
        ])
        let app = maps.mappings[0]
        #expect(app.start == 0x55d0_c0a2_e000)
        #expect(app.end == 0x55d0_c0b1_0000)
        #expect(app.fileOffset == 0x2e000)
        #expect(app.deviceMajor == 0xfe && app.deviceMinor == 0)
        #expect(app.inode == 1_048_601)
        #expect(!app.isDeleted)
        let plugin = maps.mappings[1]
        #expect(plugin.isDeleted)
        #expect(plugin.deviceMinor == 1 && plugin.inode == 42)
    }

    @Test func findsMappingByAddressWithHalfOpenRanges() {
        let maps = ProcessMaps(parsing: Self.sample)
        #expect(maps.mapping(containing: 0x55d0_c0a2_e000)?.path == "/usr/bin/my app")
        #expect(maps.mapping(containing: 0x55d0_c0b0_ffff)?.path == "/usr/bin/my app")
        #expect(maps.mapping(containing: 0x55d0_c0b1_0000) == nil)  // end is exclusive; next is read-only
        #expect(maps.mapping(containing: 0x55d0_c0a0_0000) == nil)  // read-only part of the binary
        #expect(maps.mapping(containing: 0x7f10_0030_0000)?.path == "/usr/lib/x86_64-linux-gnu/libc.so.6")
        #expect(maps.mapping(containing: 0x7ffd_5a1f_0010) == nil)  // [vdso] is not file-backed
        #expect(maps.mapping(containing: 0) == nil)
        #expect(maps.mapping(containing: .max) == nil)
        let libc = maps.mapping(containing: 0x7f10_002a_b010)
        #expect(libc?.fileOffset(of: 0x7f10_002a_b010) == 0x26010)
    }

    @Test func mergeKeepsTheUnionAndPrefersNewerMappingsWhereRangesOverlap() {
        func mapping(_ start: UInt64, _ end: UInt64, _ path: String) -> ProcessMaps.Mapping {
            .init(start: start, end: end, fileOffset: 0, deviceMajor: 8, deviceMinor: 1, inode: start, path: path)
        }
        var maps = ProcessMaps(mappings: [mapping(0x1000, 0x2000, "/a"), mapping(0x5000, 0x6000, "/unloaded")])
        let newer = ProcessMaps(mappings: [mapping(0x5800, 0x7000, "/reloaded"), mapping(0x9000, 0xA000, "/dlopened")])
        maps.merge(newer)
        #expect(maps.mappings.map(\.path) == ["/a", "/reloaded", "/dlopened"])
        #expect(maps.mapping(containing: 0x5100) == nil)
        #expect(maps.mapping(containing: 0x1fff)?.path == "/a")
        #expect(maps.mapping(containing: 0x9000)?.path == "/dlopened")

        // Merging the same snapshot again changes nothing.
        let before = maps
        maps.merge(newer)
        #expect(maps == before)
    }

    @Test func readsTheMapsOfTheRunningProcess() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        #expect(maps.mappings.contains { $0.path.hasSuffix("/libswiftCore.so") })
        #expect(maps.mappings.allSatisfy { $0.start < $0.end && $0.path.hasPrefix("/") })
        #expect(zip(maps.mappings, maps.mappings.dropFirst()).allSatisfy { $0.end <= $1.start })
    }

    @Test func readOfAMissingProcessThrowsTypedError() {
        #expect(throws: EngineError.self) { try ProcessMaps.read(pid: Int32.max) }
        do {
            _ = try ProcessMaps.read(pid: Int32.max)
        } catch {
            #expect(error.code == .symbolFileUnreadable)
            #expect(error.errno == ENOENT)
        }
    }
}
