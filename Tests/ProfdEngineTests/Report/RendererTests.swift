import Foundation
import ProfdEngine
import ProfdProtocol
import Testing

@Suite("Renderers")
struct RendererTests {
    @Test("text report of a route matches the golden file")
    func textRoute() throws {
        let routes = ReportFixtures.reports().routes
        try GoldenFile.check(TextRenderer().render(routes[0]), named: "route-compute.txt")
    }

    @Test("text report of a session matches the golden file")
    func textSession() throws {
        try GoldenFile.check(TextRenderer().render(ReportFixtures.reports().session), named: "session.txt")
    }

    @Test("JSON report of a route matches the golden file")
    func jsonRoute() throws {
        let routes = ReportFixtures.reports().routes
        try GoldenFile.check(try JSONRenderer().render(routes[0]), named: "route-compute.json")
    }

    @Test("JSON names each function with its sample counts")
    func jsonFunctions() throws {
        let routes = ReportFixtures.reports().routes
        let json = try JSONRenderer(prettyPrinted: false).render(routes[0])
        let document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json.utf8))
        let random = try #require(document.functions.first { $0.function == "DemoApp.randomNumber()" })
        #expect(random.totalSamples == 8)
        #expect(random.totalNs == 8_000_000)
        #expect(document.schemaVersion == 1)
        #expect(document.route == "/compute")
        #expect(document.tree.totalSamples == 11)
    }

    @Test("terminal escapes in untrusted names are made visible", arguments: [
        ("/a\u{1B}[31mred", "/a\\u{1b}[31mred"),
        ("tab\there", "tab\\u{9}here"),
        ("nul\u{0}", "nul\\u{0}"),
        ("back\\slash", "back\\\\slash"),
        ("ünïcödé ok", "ünïcödé ok"),
    ])
    func terminalSafe(input: String, expected: String) {
        #expect(TerminalSafe.string(input) == expected)
    }

    @Test("a hostile route never reaches the text output raw")
    func hostileRoute() throws {
        var capture = Capture()
        let route = "/x\u{1B}]0;pwned\u{7}<script>"
        capture.spans = [SpanRecord(spanId: 1, route: route, threadId: 1, beginNs: 0, endNs: 10, status: 200)]
        capture.add(tid: 1, timeNs: 5, addresses: [0x1002], inKernel: false)
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build(symbolize: ReportFixtures.symbolize)
        let (session, routes) = (reports.session, reports.routes)
        for text in [TextRenderer().render(routes[0]), TextRenderer().render(session)] {
            #expect(!text.contains("\u{1B}"))
            #expect(!text.contains("\u{7}"))
        }
        let json = try JSONRenderer().render(routes[0])
        #expect(!json.contains("\u{1B}"))
        let decoded = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(json.utf8))
        #expect(decoded.route == route, "JSON keeps the exact route, escaped by JSON rules")
    }
}
