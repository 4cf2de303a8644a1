import Testing

@testable import ProfdEngine

@Suite struct DemanglerTests {
    /// Mangled names taken with `nm` from `.build-sym/debug/profd` and libswiftCore, and their full demangling.
    /// In process, `swift_demangle` with flags 0 prints `Swift.Array<T>` and `Swift.Optional<T>`, not `[T]`, `T?`.
    static let swiftCases: [(String, String)] = [
        ("$sSS5countSivg", "Swift.String.count.getter : Swift.Int"),
        (
            "$s11ProfdEngine0B5ErrorV__5errnoA2C4CodeV_SSs5Int32VSgtcfC",
            "ProfdEngine.EngineError.init(_: ProfdEngine.EngineError.Code, _: Swift.String, errno: Swift.Optional<Swift.Int32>) -> ProfdEngine.EngineError"
        ),
        (
            "$s11ProfdEngine9SpanIndexV5spans9openEndNsACSayAA0C6RecordVG_s6UInt64VtcfcSbAC8Interval33_287602E47E7C4D04A6069388CBDA4BA0LLV_AMtXEfU_",
            "closure #1 (ProfdEngine.SpanIndex.(Interval in _287602E47E7C4D04A6069388CBDA4BA0), ProfdEngine.SpanIndex.(Interval in _287602E47E7C4D04A6069388CBDA4BA0)) -> Swift.Bool in ProfdEngine.SpanIndex.init(spans: Swift.Array<ProfdEngine.SpanRecord>, openEndNs: Swift.UInt64) -> ProfdEngine.SpanIndex"
        ),
        (
            "$s14ArgumentParser07CommandB0V5parse9argumentsAA08ParsableC0_pSaySSG_tYaAA0C5ErrorVYKFTY0_",
            "(1) suspend resume partial function for ArgumentParser.CommandParser.parse(arguments: Swift.Array<Swift.String>) async throws(ArgumentParser.CommandError) -> ArgumentParser.ParsableCommand"
        ),
        (
            "$sSa5index_8offsetBy07limitedC0SiSgSi_S2itFTf4nnnd_nTm",
            "merged function signature specialization <Arg[3] = Dead> of Swift.Array.index(_: Swift.Int, offsetBy: Swift.Int, limitedBy: Swift.Int) -> Swift.Optional<Swift.Int>"
        ),
        (
            "$sSW4load14fromByteOffset2asxSi_xmtlFSi_Tt1g5",
            "generic specialization <Swift.Int> of Swift.UnsafeRawBufferPointer.load<A>(fromByteOffset: Swift.Int, as: A.Type) -> A"
        ),
    ]

    @Test(arguments: swiftCases)
    func demanglesSwift(mangled: String, expected: String) {
        #expect(Demangler.isSwiftMangled(mangled))
        #expect(Demangler.demangle(mangled) == expected)
    }

    @Test func demanglesCxx() {
        #expect(Demangler.demangle("_ZNSt6vectorIiSaIiEE9push_backERKi") == "std::vector<int, std::allocator<int> >::push_back(int const&)")
        #expect(Demangler.demangle("_ZN5swift10fatalErrorEjPKcz") == "swift::fatalError(unsigned int, char const*, ...)")
    }

    @Test(arguments: ["malloc", "swift_retain", "_Znotmangled", "$sNotReallyMangled", ""])
    func leavesOtherNamesUnchanged(name: String) {
        #expect(Demangler.demangle(name) == name)
    }
}
