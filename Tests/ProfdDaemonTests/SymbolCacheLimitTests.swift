#if canImport(Glibc)
import Glibc
#endif
import ProfdEngine
import Testing
@testable import profd

/// A function of this test binary, to symbolize.
@_cdecl("profd_symbol_cache_test_entry")
func symbolCacheTestEntry(_ value: Int) -> Int { value &+ 1 }

@Suite("symbol cache bound")
struct SymbolCacheLimitTests {
    @Test("the limit is exceeded once the symbolizer holds more binaries than allowed, and a fresh one holds none")
    func binariesBound() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let limit = SymbolCacheLimit(binaries: 1, addresses: 1_000)
        let symbolizer = Symbolizer()
        #expect(!limit.isExceeded(by: symbolizer))
        let entry: @convention(c) (Int) -> Int = symbolCacheTestEntry
        let own = UInt64(UInt(bitPattern: unsafeBitCast(entry, to: UnsafeRawPointer.self)))
        #expect(symbolizer.symbolize(own, in: maps, isReturnAddress: false).function == "profd_symbol_cache_test_entry")
        #expect(symbolizer.cachedBinaryCount == 1 && !limit.isExceeded(by: symbolizer))
        let malloc = UInt64(UInt(bitPattern: try #require(dlsym(nil, "malloc"))))
        _ = symbolizer.symbolize(malloc, in: maps, isReturnAddress: false)
        #expect(symbolizer.cachedBinaryCount == 2 && limit.isExceeded(by: symbolizer), "libc is a second binary")
        #expect(Symbolizer().cachedBinaryCount == 0)
    }

    @Test("the address bound counts resolved addresses")
    func addressesBound() throws {
        let maps = try ProcessMaps.read(pid: getpid())
        let limit = SymbolCacheLimit(binaries: 100, addresses: 2)
        let symbolizer = Symbolizer()
        let entry: @convention(c) (Int) -> Int = symbolCacheTestEntry
        let own = UInt64(UInt(bitPattern: unsafeBitCast(entry, to: UnsafeRawPointer.self)))
        for offset in 0..<3 as Range<UInt64> { _ = symbolizer.symbolize(own + offset, in: maps, isReturnAddress: false) }
        #expect(symbolizer.cachedAddressCount >= 3 && limit.isExceeded(by: symbolizer))
    }
}
