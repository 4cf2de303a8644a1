#if canImport(Glibc)
import Glibc
#endif

/// Where named functions of a running executable live, from its ELF `.symtab` and `/proc/<pid>/maps`.
/// A small independent reader so sampler tests can classify addresses without the Engine's symbolizer.
public enum ELFFunctionRanges {
    /// Runtime address ranges of the functions whose (mangled) `.symtab` names contain each fragment,
    /// in process `pid` running `executable` (a 64-bit little-endian ELF, PIE or not).
    public static func ranges(
        executable: String, pid: Int32, nameFragments: [String]
    ) throws -> [String: [Range<UInt64>]] {
        guard let image = TestFiles.bytes(executable), image.count > 64, image.starts(with: [0x7f, 0x45, 0x4c, 0x46]),
              image[4] == 2, image[5] == 1
        else { throw TestKitError("\(executable) is not a 64-bit little-endian ELF file") }
        let bias = try loadBias(image: image, executable: executable, pid: pid)

        func u16(_ at: Int) -> Int { Int(image[at]) | Int(image[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }

        let sectionTable = Int(u64(0x28)), sectionSize = u16(0x3a), sectionCount = u16(0x3c)
        var result: [String: [Range<UInt64>]] = [:]
        for index in 0..<sectionCount {
            let header = sectionTable + index * sectionSize
            guard header + 64 <= image.count, u32(header + 4) == 2 /* SHT_SYMTAB */ else { continue }
            let symbols = Int(u64(header + 24)), symbolsSize = Int(u64(header + 32))
            let stringsHeader = sectionTable + u32(header + 40) * sectionSize
            let strings = Int(u64(stringsHeader + 24))
            guard symbols + symbolsSize <= image.count else { throw TestKitError("truncated .symtab") }
            for symbol in stride(from: symbols, to: symbols + symbolsSize, by: 24) {
                guard image[symbol + 4] & 0xf == 2 /* STT_FUNC */ else { continue }
                let size = u64(symbol + 16)
                guard size > 0 else { continue }
                let nameStart = strings + u32(symbol)
                guard let nameEnd = image[nameStart...].firstIndex(of: 0) else { continue }
                let name = String(decoding: image[nameStart..<nameEnd], as: UTF8.self)
                for fragment in nameFragments where name.contains(fragment) {
                    let start = u64(symbol + 8) &+ bias
                    result[fragment, default: []].append(start..<(start + size))
                }
            }
        }
        return result
    }

    /// Runtime address minus link-time address of the executable's mapping in `pid`.
    private static func loadBias(image: [UInt8], executable: String, pid: Int32) throws -> UInt64 {
        func u16(_ at: Int) -> Int { Int(image[at]) | Int(image[at + 1]) << 8 }
        func u64(_ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(image[at + $1]) << (8 * UInt64($1)) }
        }
        // The PT_LOAD segment that starts at file offset 0.
        let programTable = Int(u64(0x20)), programSize = u16(0x36), programCount = u16(0x38)
        var firstVirtual: UInt64?
        for index in 0..<programCount {
            let header = programTable + index * programSize
            if u16(header) == 1 /* PT_LOAD */, u64(header + 8) == 0 { firstVirtual = u64(header + 16) }
        }
        guard let firstVirtual else { throw TestKitError("no PT_LOAD at offset 0 in \(executable)") }
        guard let resolved = realpath(executable, nil) else { throw TestKitError("realpath \(executable) failed") }
        let path = String(cString: resolved)
        free(resolved)
        guard let maps = TestFiles.text("/proc/\(pid)/maps") else { throw TestKitError("cannot read /proc/\(pid)/maps") }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5...].joined(separator: " ") == path, UInt64(fields[2], radix: 16) == 0,
                  let start = fields[0].split(separator: "-").first.flatMap({ UInt64($0, radix: 16) })
            else { continue }
            return start &- (firstVirtual & ~0xfff)
        }
        throw TestKitError("\(path) is not mapped in process \(pid)")
    }
}
