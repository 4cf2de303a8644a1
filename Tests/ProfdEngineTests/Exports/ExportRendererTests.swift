import Foundation
import ProfdEngine
import ProfdProtocol
import Testing

@Suite("Export renderers")
struct ExportRendererTests {
    static var session: ProfileReport { ReportFixtures.reports().session }
    static var compute: ProfileReport { ReportFixtures.reports().routes[0] }

    // MARK: folded

    @Test("folded stacks of a session and of a route match the golden files")
    func foldedGolden() throws {
        try GoldenFile.check(FoldedRenderer().render(Self.session), named: "session.folded")
        try GoldenFile.check(FoldedRenderer().render(Self.compute), named: "route-compute.folded")
    }

    @Test("folded lines parse, are distinct, and their counts sum to the report's samples")
    func foldedCounts() throws {
        for report in [Self.session, Self.compute] {
            let lines = FoldedRenderer().render(report).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "", "output ends with a newline")
            var total = 0
            var stacks: Set<Substring> = []
            for line in lines.dropLast() {
                let space = try #require(line.lastIndex(of: " "))
                let count = try #require(Int(line[line.index(after: space)...]))
                #expect(count > 0)
                total += count
                #expect(stacks.insert(line[..<space]).inserted, "one line per distinct stack")
            }
            #expect(total == report.samples)
        }
        let first = FoldedRenderer().render(Self.compute).split(separator: "\n")[0]
        #expect(first.hasPrefix("NIOPosix") == false, "route trees start at the thread's outermost frame")
        #expect(first.hasPrefix("start_thread;NIOPosix.SelectableEventLoop.run();"))
    }

    @Test("folded frame names cannot break the format or reach a terminal raw")
    func foldedHostileNames() throws {
        var capture = Capture()
        let route = "/x;y\n\u{1B}[31m"
        capture.spans = [SpanRecord(spanId: 1, route: route, threadId: 1, beginNs: 0, endNs: 10, status: 200)]
        capture.add(tid: 1, timeNs: 5, addresses: [0x1, 0x2], inKernel: false)
        let names: [UInt64: String] = [0x1: "evil;leaf\nwith newline 3", 0x2: "tab\there\u{7}"]
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build { stack in
            stack.addresses.map { Frame(function: names[$0]!, binary: "/app") }
        }
        let folded = FoldedRenderer().render(reports.session)
        #expect(folded == "/x:y\\u{a}\\u{1b}[31m;tab\\u{9}here\\u{7};evil:leaf\\u{a}with newline 3 1\n")
        #expect(!folded.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test("an empty report folds to nothing")
    func foldedEmpty() {
        let report = ProfileReport(scope: .route("/idle"), metadata: ReportFixtures.metadata, requests: RequestSummary(), tree: CallTree())
        #expect(FoldedRenderer().render(report) == "")
    }

    // MARK: speedscope

    @Test("speedscope file of a session matches the golden file")
    func speedscopeGolden() throws {
        try GoldenFile.check(try SpeedscopeRenderer().render(Self.session), named: "session.speedscope.json")
        try GoldenFile.check(try SpeedscopeRenderer().render(Self.compute), named: "route-compute.speedscope.json")
    }

    @Test("speedscope files validate against the official schema")
    func speedscopeSchema() throws {
        for report in [Self.session, Self.compute] {
            let json = try SpeedscopeRenderer().render(report)
            let result = try ExternalTool.python(ExternalTool.validateSpeedscope, [ExternalTool.speedscopeSchemaPath], input: Array(json.utf8))
            #expect(result.status == 0, "schema validation failed: \(result.stdout)\(result.stderr)")
        }
    }

    @Test("a speedscope session has one profile per route, weights in nanoseconds that add up")
    func speedscopeStructure() throws {
        let file = SpeedscopeRenderer().file(Self.session)
        #expect(file.schema == "https://www.speedscope.app/file-format-schema.json")
        #expect(file.profiles.map(\.name) == ["/compute", "/hash", "(unattributed)"])
        #expect(file.profiles.map { $0.weights.reduce(0, +) } == [11_000_000, 5_000_000, 4_000_000])
        for profile in file.profiles {
            #expect(profile.type == "sampled" && profile.unit == "nanoseconds")
            #expect(profile.samples.count == profile.weights.count)
            #expect(profile.endValue == profile.weights.reduce(0, +))
            #expect(profile.samples.allSatisfy { $0.allSatisfy { file.shared.frames.indices.contains($0) } })
        }
        let hash = file.profiles[1]
        #expect(hash.samples.count == 1)
        #expect(hash.samples[0].map { file.shared.frames[$0].name }.last == "DemoApp.hashPayload(rounds:)", "stacks are root first")
        #expect(hash.samples[0].map { file.shared.frames[$0].name }.first == "start_thread")
        #expect(!file.shared.frames.contains { $0.file == "[route]" }, "routes are profiles, not frames")
    }

    @Test("speedscope JSON carries no raw control characters from hostile names")
    func speedscopeHostile() throws {
        var capture = Capture()
        capture.spans = [SpanRecord(spanId: 1, route: "/r\u{1B}]0;x\u{7}", threadId: 1, beginNs: 0, endNs: 10, status: 200)]
        capture.add(tid: 1, timeNs: 5, addresses: [0x1], inKernel: false)
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build { _ in
            [Frame(function: "f\n\u{0}\"", binary: "/app")]
        }
        let json = try SpeedscopeRenderer().render(reports.session)
        #expect(!json.dropLast().unicodeScalars.contains { $0.value < 0x20 })
        let decoded = try JSONDecoder().decode(SpeedscopeRenderer.File.self, from: Data(json.utf8))
        #expect(decoded.profiles[0].name == "/r\u{1B}]0;x\u{7}")
        #expect(decoded.shared.frames[0].name == "f\n\u{0}\"")
    }

    // MARK: pprof

    @Test("pprof protobuf of a session matches the golden file (before gzip)")
    func pprofGolden() throws {
        try GoldenFile.check(PprofRenderer().encodeProfile(Self.session).hexLines, named: "session.pprof.hex")
        try GoldenFile.check(PprofRenderer().encodeProfile(Self.compute).hexLines, named: "route-compute.pprof.hex")
    }

    @Test("pprof profile: string table, sample types, leaf-first locations, period and times")
    func pprofStructure() throws {
        let profile = try ProtoMessage(PprofRenderer().encodeProfile(Self.session))
        let strings = profile.strings(6)
        #expect(strings.first == "")
        #expect(Set(strings).count == strings.count, "each string once")
        func name(_ index: UInt64) -> String { strings[Int(index)] }
        let sampleTypes = try profile.messages(1).map { "\(name($0.varint(1)))/\(name($0.varint(2)))" }
        #expect(sampleTypes == ["samples/count", "cpu/nanoseconds"])
        let periodType = try #require(try profile.messages(11).first)
        #expect(name(periodType.varint(1)) == "cpu" && name(periodType.varint(2)) == "nanoseconds")
        #expect(profile.varint(12) == 1_000_000)
        #expect(profile.varint(10) == 10_000_000_000)
        #expect(profile.varint(9) == 1_795_691_875_123_000_000, "time_nanos is the session start, 2026-11-26T11:17:55.123Z")
        #expect(name(profile.varint(14)) == "cpu")

        let functions = Dictionary(uniqueKeysWithValues: try profile.messages(5).map { ($0.varint(1), name($0.varint(2))) })
        let locations = Dictionary(uniqueKeysWithValues: try profile.messages(4).map { location in
            (location.varint(1), try location.messages(4).map { functions[$0.varint(1)]! })
        })
        let mappingIds = Set(try profile.messages(3).map { $0.varint(1) })
        #expect(try profile.messages(4).allSatisfy { mappingIds.contains($0.varint(2)) })
        #expect(try profile.messages(3).allSatisfy { $0.varint(7) == 1 }, "has_functions: nothing left to symbolize")

        var total: UInt64 = 0
        var routeOfFunction: [String: String] = [:]
        for sample in try profile.messages(2) {
            let values = try sample.packed(2)
            #expect(values.count == 2 && values[1] == values[0] * 1_000_000)
            total += values[0]
            let stack = try sample.packed(1).map { try #require(locations[$0]?.first) }
            #expect(stack.last == "/compute" || stack.last == "/hash" || stack.last == "(unattributed)", "leaf first: the route is last")
            let label = try #require(try sample.messages(3).first)
            #expect(name(label.varint(1)) == "route")
            #expect(name(label.varint(2)) == stack.last)
            for function in stack.dropLast() { routeOfFunction[function] = name(label.varint(2)) }
        }
        #expect(total == 20)
        #expect(routeOfFunction["DemoApp.hashPayload(rounds:)"] == "/hash")
        #expect(routeOfFunction["epoll_wait"] == "(unattributed)")
    }

    @Test("pprof strings carry no raw control characters from hostile names")
    func pprofHostile() throws {
        var capture = Capture()
        let route = "/r\u{1B}]0;x\u{7}"
        capture.spans = [SpanRecord(spanId: 1, route: route, threadId: 1, beginNs: 0, endNs: 10, status: 200)]
        capture.add(tid: 1, timeNs: 5, addresses: [0x1], inKernel: false)
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build { _ in
            [Frame(function: "f\n\u{0}", binary: "/app\u{1B}")]
        }
        let strings = try ProtoMessage(PprofRenderer().encodeProfile(reports.session)).strings(6)
        #expect(strings.contains(TerminalSafe.string(route)))
        #expect(strings.contains("f\\u{a}\\u{0}"))
        #expect(!strings.joined().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
    }

    @Test("pprof output is a gzip stream that decompresses to the protobuf")
    func pprofGzip() throws {
        let raw = PprofRenderer().encodeProfile(Self.session)
        let gzipped = PprofRenderer().render(Self.session)
        let result = try ExternalTool.python("import gzip, sys; sys.stdout.write(gzip.decompress(sys.stdin.buffer.read()).hex())", input: gzipped)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == raw.hexLines.replacingOccurrences(of: "\n", with: ""))
    }

    // MARK: gzip

    @Test("CRC-32 check value")
    func crc() {
        #expect(Gzip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Gzip.crc32([]) == 0)
    }

    /// Deterministic test data: random bytes (incompressible), repeated text, or one byte repeated.
    static func data(_ kind: String, size: Int) -> [UInt8] {
        switch kind {
        case "random":
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            return (0..<size).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            }
        case "text":
            var text: [UInt8] = []
            var n = 0
            while text.count < size {
                text += Array("closure #\(n % 97) in DemoApp.handler(route: /compute/\(n % 13)) \u{1F525};".utf8)
                n += 1
            }
            return Array(text.prefix(size))
        default:
            return [UInt8](repeating: 0x41, count: size)
        }
    }

    @Test("gzip streams round-trip through python3 and pass gzip -t", arguments: [
        ("random", 0), ("random", 1), ("random", 65_535), ("random", 65_536), ("random", 200_000),
        ("text", 2), ("text", 3), ("text", 1_000), ("text", 300_000), ("same", 259), ("same", 100_000),
    ])
    func gzipRoundTrip(kind: String, size: Int) throws {
        let data = Self.data(kind, size: size)
        let gzipped = Gzip.wrap(data)
        let result = try ExternalTool.python("""
            import gzip, hashlib, sys
            data = gzip.decompress(sys.stdin.buffer.read())
            print(len(data), hashlib.sha256(data).hexdigest())
            """, input: gzipped)
        let expected = try ExternalTool.python("import hashlib, sys; d = sys.stdin.buffer.read(); print(len(d), hashlib.sha256(d).hexdigest())", input: data)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected.stdout)
        let test = try ExternalTool.run(["gzip", "-t"], input: gzipped)
        #expect(test.status == 0, "gzip -t: \(test.stderr)")
        if kind == "random" {
            #expect(gzipped.count <= data.count + 5 * (data.count / 65_535 + 1) + 18, "incompressible data is stored")
        } else if size >= 1_000 {
            #expect(gzipped.count * 4 < data.count, "repetitive data compresses: \(gzipped.count) of \(data.count)")
        }
    }

    @Test("pprof output compresses")
    func pprofCompresses() {
        let raw = PprofRenderer().encodeProfile(Self.session)
        #expect(PprofRenderer().render(Self.session).count < raw.count)
    }

    // MARK: JSON → report

    @Test("a stored JSON report decodes back to the same report", arguments: ["session", "route"])
    func decodeRoundTrip(kind: String) throws {
        let report = kind == "session" ? Self.session : Self.compute
        let json = try JSONRenderer().render(report)
        let decoded = try ProfileReport(jsonReport: Array(json.utf8))
        #expect(try JSONRenderer().render(decoded) == json)
        #expect(decoded.scope == report.scope)
        #expect(TextRenderer().render(decoded) == TextRenderer().render(report))
        #expect(FoldedRenderer().render(decoded) == FoldedRenderer().render(report))
        #expect(PprofRenderer().encodeProfile(decoded) == PprofRenderer().encodeProfile(report))
        #expect(try SpeedscopeRenderer().render(decoded) == SpeedscopeRenderer().render(report))
    }

    @Test("malformed JSON reports are rejected with a clear error", arguments: [
        "not json",
        #"{"schemaVersion": 2}"#,
    ])
    func decodeRejects(text: String) {
        #expect(throws: EngineError.self) { try ProfileReport(jsonReport: Array(text.utf8)) }
    }

    @Test("a JSON tree whose counts do not add up, or a bad kind, is rejected")
    func decodeInconsistent() throws {
        let json = try JSONRenderer().render(Self.compute)
        let inflated = json.replacingOccurrences(of: "\"kind\" : \"route\"", with: "\"kind\" : \"banana\"")
        #expect(inflated != json)
        #expect(throws: EngineError.self) { try ProfileReport(jsonReport: Array(inflated.utf8)) }
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        var tree = try #require(object["tree"] as? [String: Any])
        tree["totalSamples"] = 12
        object["tree"] = tree
        let bad = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: EngineError.self) { try ProfileReport(jsonReport: Array(bad)) }
        tree["totalSamples"] = 11
        tree["selfSamples"] = -1
        object["tree"] = tree
        let negative = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: EngineError.self) { try ProfileReport(jsonReport: Array(negative)) }
    }
}
