import Testing

@testable import ProfdEngine

@Suite struct SwiftNameSimplifierTests {
    static let cases: [(String, String)] = [
        ("ProfdDemo.randomNumber() -> Swift.Int", "ProfdDemo.randomNumber()"),
        ("ProfdDemo.addNumbers(Swift.Int, Swift.Int) -> Swift.Int", "ProfdDemo.addNumbers(_:_:)"),
        (
            "ProfdEngine.EngineError.init(_: ProfdEngine.EngineError.Code, _: Swift.String, errno: Swift.Int32?) -> ProfdEngine.EngineError",
            "ProfdEngine.EngineError.init(_:_:errno:)"
        ),
        ("Swift.String.count.getter : Swift.Int", "Swift.String.count.getter"),
        (
            "merged function signature specialization <Arg[3] = Dead> of Swift.Array.index(_: Swift.Int, offsetBy: Swift.Int, limitedBy: Swift.Int) -> Swift.Int?",
            "Swift.Array.index(_:offsetBy:limitedBy:)"
        ),
        (
            "generic specialization <Swift.Int> of Swift.UnsafeRawBufferPointer.load<A>(fromByteOffset: Swift.Int, as: A.Type) -> A",
            "Swift.UnsafeRawBufferPointer.load(fromByteOffset:as:)"
        ),
        (
            "closure #1 (ProfdEngine.SpanIndex.(Interval in _287602E47E7C4D04A6069388CBDA4BA0), ProfdEngine.SpanIndex.(Interval in _287602E47E7C4D04A6069388CBDA4BA0)) -> Swift.Bool in ProfdEngine.SpanIndex.init(spans: [ProfdEngine.SpanRecord], openEndNs: Swift.UInt64) -> ProfdEngine.SpanIndex",
            "closure #1 in ProfdEngine.SpanIndex.init(spans:openEndNs:)"
        ),
        (
            "(1) suspend resume partial function for ArgumentParser.CommandParser.parse(arguments: [Swift.String]) async throws(ArgumentParser.CommandError) -> ArgumentParser.ParsableCommand",
            "(1) suspend resume partial function for ArgumentParser.CommandParser.parse(arguments:)"
        ),
        (
            "(1) suspend resume partial function for static (extension in ArgumentParser):ArgumentParser.AsyncMainProtocol.main() async -> ()",
            "(1) suspend resume partial function for ArgumentParser.AsyncMainProtocol.main()"
        ),
        (
            "(2) await resume partial function for partial apply forwarder for closure #1 () async -> A? in closure #1 () async -> A? in Swift.AsyncStream.init(unfolding: () async -> A?, onCancel: (() -> ())?) -> Swift.AsyncStream<A>",
            "(2) await resume partial function for partial apply for closure #1 in closure #1 in Swift.AsyncStream.init(unfolding:onCancel:)"
        ),
        (
            "async function pointer to ProfdDemo.handle(request: Hummingbird.Request) async throws -> Swift.String",
            "async function pointer to ProfdDemo.handle(request:)"
        ),
        (
            "protocol witness for Swift.Hashable.hashValue.getter : Swift.Int in conformance ProfdEngine.SpanRecord.(CodingKeys in _526DFCCA7310682A3638C37A4D723407) : Swift.Hashable in ProfdEngine",
            "protocol witness for Swift.Hashable.hashValue.getter in conformance ProfdEngine.SpanRecord.CodingKeys"
        ),
        (
            "protocol witness for Swift.Equatable.== infix(A, A) -> Swift.Bool in conformance < where A: ~Swift.Copyable> Swift.UnsafePointer<A> : Swift.Equatable in Swift",
            "protocol witness for Swift.Equatable.== infix(_:_:) in conformance Swift.UnsafePointer"
        ),
        ("static Swift.Character.< infix(Swift.Character, Swift.Character) -> Swift.Bool", "Swift.Character.< infix(_:_:)"),
        ("static Swift.String.+= infix(inout Swift.String, Swift.String) -> ()", "Swift.String.+= infix(_:_:)"),
        (
            "static (extension in Swift):Swift.ClosedRange< where A: Swift.Strideable, A.Stride: Swift.SignedInteger>.Index.== infix((extension in Swift):Swift.ClosedRange<A>< where A: Swift.Strideable, A.Stride: Swift.SignedInteger>.Index, (extension in Swift):Swift.ClosedRange<A>< where A: Swift.Strideable, A.Stride: Swift.SignedInteger>.Index) -> Swift.Bool",
            "Swift.ClosedRange.Index.== infix(_:_:)"
        ),
        (
            "partial apply forwarder for closure #1 (Swift.UnsafePointer<Swift.Int8>) throws -> A in Swift.String.withCString<A, B where B: Swift._UnicodeEncoding>(encodedAs: B.Type, _: (Swift.UnsafePointer<B.CodeUnit>) throws -> A) throws -> A with unmangled suffix \".433\"",
            "partial apply for closure #1 in Swift.String.withCString(encodedAs:_:)"
        ),
        (
            "partial apply forwarder for reabstraction thunk helper <A where A: Swift.Sequence> from @callee_guaranteed (@in_guaranteed A.Element) -> (@out A1) to @escaping @callee_guaranteed (@in_guaranteed A.Element) -> (@out A1)",
            "partial apply for reabstraction thunk"
        ),
        (
            "implicit closure #1 (Swift.Int8) -> Swift.UInt8 in Swift.String.init<A, B where A: Swift._UnicodeEncoding, B: Swift.Sequence>(validating: B, as: A.Type) -> Swift.String?",
            "implicit closure #1 in Swift.String.init(validating:as:)"
        ),
        (
            "closure #1 @Sendable () -> () in Foundation.FileHandle.readToEndOfFileInBackgroundAndNotify(forModes: [Foundation.RunLoop.Mode]?) -> ()",
            "closure #1 in Foundation.FileHandle.readToEndOfFileInBackgroundAndNotify(forModes:)"
        ),
        (
            "$defer #1 <A><A1, B1 where B1: Swift.Error>() -> () in Swift.Array.withUnsafeMutableBufferPointer<A, B where B1: Swift.Error>((inout Swift.UnsafeMutableBufferPointer<A>) throws(B1) -> A1) throws(B1) -> A1",
            "$defer #1 in Swift.Array.withUnsafeMutableBufferPointer(_:)"
        ),
        (
            "Foundation.FileHandle.(_writeabilityHandler in _2DF8E09821905D55FA342549A73ACFB7).modify : (@Sendable (Foundation.FileHandle) -> ())?",
            "Foundation.FileHandle._writeabilityHandler.modify"
        ),
        (
            "type metadata accessor for Wrapper #1 in Foundation.DateFormatter.(in _66CE11EE7A5521424C6DC1071C50CDCF).init(state: Foundation.DateFormatter.State) -> Foundation.DateFormatter",
            "type metadata accessor for Wrapper #1 in Foundation.DateFormatter.init(state:)"
        ),
        (
            "Swift.Dictionary.init<A where A1: Swift.Sequence, A1.Element == (A, B)>(uniqueKeysWithValues: __owned A1) -> [A : B]",
            "Swift.Dictionary.init(uniqueKeysWithValues:)"
        ),
        (
            "function signature specialization <Arg[1] = [Closure Propagated : $sSS10lowercasedSSyFSSSRys5UInt8VGXEfU_, Argument Types : [Swift.UnsafeBufferPointer<Swift.UInt8>Swift.String]> of static Swift.String._fromLargeUTF8Repairing(uninitializedCapacity: Swift.Int, initializingWith: (Swift.UnsafeMutableBufferPointer<Swift.UInt8>) throws -> Swift.Int) throws -> Swift.String",
            "Swift.String._fromLargeUTF8Repairing(uninitializedCapacity:initializingWith:)"
        ),
        (
            "ProfdEngine.Renderer.render(_: ProfdEngine.Tree, into: inout Swift.String, options: (depth: Swift.Int, color: Swift.Bool)) -> ()",
            "ProfdEngine.Renderer.render(_:into:options:)"
        ),
        ("outlined destroy of [A : B]", "outlined destroy of [A : B]"),
        ("ArgumentParser.Tree.deinit", "ArgumentParser.Tree.deinit"),
        // Unbalanced or non-Swift input comes back unchanged.
        ("broken.name(Swift.Int", "broken.name(Swift.Int"),
        ("malloc", "malloc"),
        ("", ""),
    ]

    @Test(arguments: cases)
    func simplifies(full: String, expected: String) {
        #expect(SwiftNameSimplifier.simplify(full) == expected)
    }

    @Test func mangledInputNeverTrapsAndOnlyDeletesOrAddsLabelSyntax() {
        var rng = SplitMix64(state: 3)
        let alphabet = Array("()<>[]:, -#.AaZz_01 in of".utf8)
        let added = Set("_:()partial apply for reabstraction thunk".utf8)
        for (full, _) in Self.cases {
            for _ in 0 ..< 200 {
                var bytes = Array(full.utf8)
                for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) where !bytes.isEmpty {
                    let index = Int.random(in: 0 ..< bytes.count, using: &rng)
                    if Bool.random(using: &rng) {
                        bytes[index] = alphabet.randomElement(using: &rng)!
                    } else {
                        bytes.remove(at: index)
                    }
                }
                let input = String(decoding: bytes, as: UTF8.self)
                let output = SwiftNameSimplifier.simplify(input)
                let allowed = Set(input.utf8).union(added)
                #expect(output.utf8.allSatisfy(allowed.contains), "\(input) → \(output)")
            }
        }
    }

    @Test func simplifyingTwiceChangesNothing() {
        for (_, expected) in Self.cases {
            #expect(SwiftNameSimplifier.simplify(expected) == expected)
        }
    }
}
