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

        // Component costs over the distinct symbols: raw lookup, demangling, simplifying.
        let mapped = addresses.compactMap { address -> (ELFSymbolTable, UInt64)? in
            guard let mapping = maps.mapping(containing: address), let table = symbolizer.symbolTable(for: mapping),
                  let vaddr = table.virtualAddress(forFileOffset: mapping.fileOffset(of: address))
            else { return nil }
            return (table, vaddr)
        }
        let lookupStart = ContinuousClock.now
        var names: Set<String> = []
        for (table, vaddr) in mapped {
            if let symbol = table.symbol(containing: vaddr) { names.insert(symbol.name) }
        }
        let lookupTime = ContinuousClock.now - lookupStart
        let demangleStart = ContinuousClock.now
        let demangled = names.map(Demangler.demangle)
        let demangleTime = ContinuousClock.now - demangleStart
        let simplifyStart = ContinuousClock.now
        let simplifiedLength = demangled.reduce(0) { $0 + SwiftNameSimplifier.simplify($1).utf8.count }
        let simplifyTime = ContinuousClock.now - simplifyStart
        print("table lookups (binary search + name copy): \(lookupTime) for \(mapped.count) addresses")
        print("demangle: \(demangleTime), simplify: \(simplifyTime) for \(names.count) distinct symbols")
        print("mean length: demangled \(demangled.reduce(0) { $0 + $1.utf8.count } / demangled.count), simplified \(simplifiedLength / demangled.count)")
        #expect(mapped.count == addresses.count)

        // libc: .dynsym plus the build-id debug file's .symtab when installed.
        let malloc = try #require(dlsym(nil, "malloc"))
        #expect(symbolizer.symbolize(UInt64(UInt(bitPattern: malloc)), in: maps, isReturnAddress: false).function == "malloc")
        for load in symbolizer.loads {
            print("load \(load.path): \(load.symbolCount) symbols in \(load.duration) debug file: \(load.debugFilePath ?? "-")")
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
