import Glibc
import Testing

@testable import ProfdEngine

/// Load and lookup costs on the toolchain's biggest libraries. Prints numbers; asserts only correctness.
/// Run: `PROFD_SYMBOLIZER_BENCH=1 swift test --scratch-path .build-sym --filter SymbolizerBenchmark`
@Suite(.enabled(if: getenv("PROFD_SYMBOLIZER_BENCH") != nil))
struct SymbolizerBenchmark {
    @Test func symbolizeOneHundredThousandAddressesInSwiftCoreAndFoundation() throws {
        let coreMapping = try #require(try ProcessMaps.read(pid: getpid()).mappings.first {
            $0.path.hasSuffix("/libswiftCore.so")
        })
        let directory = String(coreMapping.path.dropLast("libswiftCore.so".count))
        for library in ["libFoundation.so", "libFoundationEssentials.so"] {
            #expect(dlopen(directory + library, RTLD_NOW) != nil)
        }
        let maps = try ProcessMaps.read(pid: getpid())
        let libraries = ["libswiftCore.so", "libFoundation.so", "libFoundationEssentials.so"]
        let symbolizer = Symbolizer()

        var addresses: [UInt64] = []
        for library in libraries {
            let mappings = maps.mappings.filter { $0.path.hasSuffix("/" + library) }
            let first = try #require(mappings.first)
            let table = try #require(symbolizer.symbolTable(for: first))
            for entry in table.entries {
                // Runtime address of a virtual address: through its segment's file offset and the mapping.
                guard let segment = table.segments.first(where: {
                    entry.start >= $0.virtualAddress && entry.start - $0.virtualAddress < $0.fileSize
                }) else { continue }
                let fileOffset = entry.start - segment.virtualAddress + segment.fileOffset
                guard let mapping = mappings.first(where: {
                    fileOffset >= $0.fileOffset && fileOffset - $0.fileOffset < $0.end - $0.start
                }) else { continue }
                let base = mapping.start + (fileOffset - mapping.fileOffset)
                let size = min(entry.end - entry.start, 1 << 20)
                for fraction in [0, 1, 2, 3] where size > 0 { addresses.append(base + size * UInt64(fraction) / 4) }
            }
        }
        addresses = Array(Set(addresses)).sorted()
        var rng = SplitMix64(state: 1)
        addresses.shuffle(using: &rng)
        addresses = Array(addresses.prefix(100_000))
        #expect(addresses.count == 100_000)

        for load in symbolizer.loads {
            print("load \(load.path): \(load.symbolCount) symbols in \(load.duration)")
        }
        let coldStart = ContinuousClock.now
        let cold = addresses.map { symbolizer.symbolize($0, in: maps, isReturnAddress: false) }
        let coldTime = ContinuousClock.now - coldStart
        let warmStart = ContinuousClock.now
        let warm = addresses.map { symbolizer.symbolize($0, in: maps, isReturnAddress: false) }
        let warmTime = ContinuousClock.now - warmStart
        let unknown = cold.filter { $0.function.contains("+0x") || $0.binary == "[unknown]" }.count
        print("first pass (lookup + demangle + simplify): \(coldTime) for \(addresses.count) addresses")
        print("second pass (address cache): \(warmTime)")
        print("unnamed: \(unknown)")
        #expect(cold == warm)
        #expect(unknown == 0)
    }
}
