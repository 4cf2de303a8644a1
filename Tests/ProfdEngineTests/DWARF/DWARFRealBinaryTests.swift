import Foundation
import Glibc
import ProfdTestKit
import Testing

@testable import ProfdEngine

/// Checks the DWARF reader against binutils' `addr2line` on real binaries: a C file compiled here with
/// gcc (DWARF 5), and the Swift `profd-testload` fixture built with the package (DWARF 4).
@Suite struct DWARFRealBinaryTests {
    static let cSource = """
        #include <stdio.h>

        int square(int x) {
            int y = x * x;
            return y;
        }

        static inline __attribute__((always_inline)) int twice(int x) {
            return x * 2 + square(x);
        }

        __attribute__((noinline)) int work(int n) {
            int total = 0;
            for (int i = 0; i < n; i++) {
                total += twice(i);
            }
            return total;
        }

        int main(int argc, char **argv) {
            printf("%d\\n", work(argc * 100));
            return 0;
        }
        """

    @Test func lineTableOfAGccBinaryAgreesWithAddr2line() throws {
        let binary = try Self.compileC(flags: ["-g", "-O0"])
        let report = try Self.compare(binary: binary, functions: ["square", "work", "main"], inlined: false)
        #expect(report.compared >= 20, "compared only \(report.compared) addresses")
        #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10))")
        // And the numbers themselves, from the source above.
        let info = try Self.sourceInfo(binary)
        let table = try ELFSymbolTable.load(path: binary, debugDirectory: nil)
        let square = try #require(table.entries.first { table.name(of: $0) == "square" })
        let location = try #require(info.location(at: square.start))
        #expect(location.file.hasSuffix("/demo.c"))
        #expect(location.line == 3)
    }

    @Test func inlineChainsOfAnOptimizedGccBinaryAgreeWithAddr2line() throws {
        let binary = try Self.compileC(flags: ["-g", "-O2"])
        let report = try Self.compare(binary: binary, functions: ["square", "work", "main"], inlined: true)
        #expect(report.compared >= 10, "compared only \(report.compared) addresses")
        #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10))")
        #expect(report.inlinedAddresses > 0, "no address in work() had twice() inlined")
    }

    @Test func swiftFixtureBinaryAgreesWithAddr2line() throws {
        let binary = try TestExecutables.path(of: "profd-testload")
        let table = try ELFSymbolTable.load(path: binary, debugDirectory: nil)
        // The fixture's own functions (module TestLoad / profd_testload), not the runtime's.
        let names = table.entries.map { table.name(of: $0) }.filter { $0.hasPrefix("$s") && $0.contains("testload") }
        try #require(!names.isEmpty, "no fixture functions in \(binary)")
        let report = try Self.compare(binary: binary, functions: Array(names.prefix(40)), inlined: true)
        #expect(report.compared >= 20, "compared only \(report.compared) addresses")
        #expect(report.mismatches.isEmpty, "\(report.mismatches.prefix(10))")
    }

    // MARK: Helpers

    struct Comparison {
        var compared = 0
        var inlinedAddresses = 0
        var mismatches: [String] = []
    }

    static func sourceInfo(_ path: String) throws -> DWARFSourceInfo {
        let image = try ELFImage(source: try ELFFileSource(path: path))
        return try #require(try DWARFSourceInfo.load(image: image))
    }

    /// Looks up a few addresses in each function with both readers. With `inlined`, compares the whole
    /// chain (`addr2line -i`), else only the innermost file:line.
    static func compare(binary: String, functions: [String], inlined: Bool) throws -> Comparison {
        let table = try ELFSymbolTable.load(path: binary, debugDirectory: nil)
        let info = try sourceInfo(binary)
        var addresses: [UInt64] = []
        for entry in table.entries where functions.contains(table.name(of: entry)) {
            let size = entry.end - entry.start
            for step in 0 ..< 8 where size > 0 { addresses.append(entry.start + size * UInt64(step) / 8) }
        }
        addresses = Array(Set(addresses)).sorted()
        var result = Comparison()
        var perAddress: [[String]] = []
        if inlined {
            // Run per address: -i output has no separator between addresses.
            for address in addresses {
                let lines = try run("/usr/bin/addr2line", ["-i", "-e", binary, "0x" + String(address, radix: 16)])
                perAddress.append(lines.split(separator: "\n").map(String.init))
            }
        } else {
            let output = try run("/usr/bin/addr2line", ["-e", binary] + addresses.map { "0x" + String($0, radix: 16) })
            perAddress = output.split(separator: "\n").map { [String($0)] }
        }
        guard perAddress.count == addresses.count else {
            result.mismatches.append("addr2line printed \(perAddress.count) results for \(addresses.count) addresses")
            return result
        }
        for (address, expected) in zip(addresses, perAddress) {
            let frames = info.frames(at: address, inlined: true)
            let ours = inlined ? frames.map(describe) : [describe(frames.first!)]
            let theirs = expected.map(normalize)
            if frames.count > 1 { result.inlinedAddresses += 1 }
            result.compared += 1
            if ours != theirs {
                result.mismatches.append("0x\(String(address, radix: 16)): ours \(ours) addr2line \(theirs)")
            }
        }
        return result
    }

    static func describe(_ frame: DWARFSourceInfo.SourceFrame) -> String {
        guard let file = frame.file, let line = frame.line else { return "?" }
        return "\(file):\(line)"
    }

    /// `file:line (discriminator n)` → `file:line`; unknown (`??:0`, `file:?`, `:0`) → `?`.
    static func normalize(_ line: String) -> String {
        var text = line
        if let range = text.range(of: " (discriminator") { text = String(text[..<range.lowerBound]) }
        if text.hasPrefix("??") || text.hasSuffix(":?") || text.hasSuffix(":0") { return "?" }
        return text
    }

    static func compileC(flags: [String]) throws -> String {
        let directory = NSTemporaryDirectory() + "profd-dwarf-\(getpid())-\(flags.joined())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/demo.c"
        try cSource.write(toFile: source, atomically: true, encoding: .utf8)
        let binary = directory + "/demo"
        _ = try run("/usr/bin/gcc", flags + ["-o", binary, source])
        return binary
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestKitError("\(executable) \(arguments.prefix(4)) exited \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
