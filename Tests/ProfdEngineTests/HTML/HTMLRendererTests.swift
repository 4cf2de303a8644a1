import Foundation
@testable import ProfdEngine
import Testing

@Suite("HTML report")
struct HTMLRendererTests {
    /// The session of `ReportFixtures` with every request kept and linked as the store would link it.
    static func fixtureSession() -> ProfileReport {
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: ReportFixtures.capture(),
                                    options: ReportOptions(slowThresholdNs: 0),
                                    wallClockTime: { _ in "2026-11-26T11:17:56.000Z" })
            .build(symbolize: ReportFixtures.symbolize)
        var session = reports.session
        for index in session.keptRequests.indices {
            session.keptRequests[index].files = ["html": "requests/request-\(session.keptRequests[index].spanId).html"]
        }
        session.routes = reports.routes.map { route in
            guard case .route(let name) = route.scope else { return RouteSummary(route: "", requests: 0, samples: 0, cpuNs: 0, files: [:]) }
            return RouteSummary(route: name, requests: route.requests.count, samples: route.samples, cpuNs: route.cpuNs,
                                files: ["html": "routes/" + ReportStore.fileName(forRoute: name) + ".html"])
        }
        return session
    }

    @Test("HTML report of a route matches the golden file")
    func goldenRoute() throws {
        try GoldenFile.check(HTMLRenderer().render(ReportFixtures.reports().routes[0]), named: "route-compute.html")
    }

    @Test("HTML report of a session with kept requests matches the golden file")
    func goldenSession() throws {
        try GoldenFile.check(HTMLRenderer().render(Self.fixtureSession()), named: "session.html")
    }

    @Test("embedded JSON escapes <, >, &, U+2028, U+2029, quotes and control characters")
    func jsonStringEscaping() throws {
        #expect(HTMLReportData.jsonString("</script><b>&") == #""\u003c/script\u003e\u003cb\u003e\u0026""#)
        #expect(HTMLReportData.jsonString("a\u{2028}b\u{2029}c") == #""a\u2028b\u2029c""#)
        #expect(HTMLReportData.jsonString("q\"\\\n\u{1B}[31m\u{0}") == #""q\"\\\u000a\u001b[31m\u0000""#)
        #expect(HTMLReportData.jsonString("Swift.Array<Int>.map ✓") == #""Swift.Array\u003cInt\u003e.map ✓""#)
        // The escaped text is still JSON that decodes to the original.
        for text in ["</script>", "a\u{2028}\u{2029}", "\u{1B}[31m<img src=x onerror=alert(2)>", "é漢字🙂"] {
            let decoded = try JSONDecoder().decode(String.self, from: Data(HTMLReportData.jsonString(text).utf8))
            #expect(decoded == text)
        }
    }

    @Test("HTML text escaping covers markup, quotes and control characters")
    func htmlTextEscaping() {
        #expect(HTMLRenderer.escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;")
        #expect(HTMLRenderer.escape("a\"b'c&d") == "a&quot;b&#39;c&amp;d")
        #expect(HTMLRenderer.escape("\u{1B}[31m") == "\\u{1b}[31m")
    }

    @Test("only plain relative paths become links, percent-encoded")
    func safeLinks() {
        #expect(HTMLReportData.href("requests/GET-compute-1.html") == "requests/GET-compute-1.html")
        #expect(HTMLReportData.href("routes/GET%20%2Fcompute.html") == "routes/GET%2520%252Fcompute.html")
        #expect(HTMLReportData.href("javascript:alert(1)") == "javascript%3Aalert%281%29")
        #expect(HTMLReportData.href("routes/\"><b>.html") == "routes/%22%3E%3Cb%3E.html")
        for bad in ["/etc/passwd", "../x.html", "requests/../../x", "", ".hidden", "a//b"] {
            #expect(HTMLReportData.href(bad) == nil, "\(bad)")
        }
    }

    @Test("hostile routes and symbols never reach the page as markup; the only scripts are the report's own")
    func hostileNames() throws {
        let reports = HTMLFixtures.reports()
        let hostileRoute = try #require(reports.routes.first { $0.scope == .route(HTMLFixtures.hostileRoute) })
        let hostileRequest = try #require(reports.requests.first {
            if case .request(let kept) = $0.scope { kept.route == HTMLFixtures.hostileRoute } else { false }
        })
        var session = reports.session
        session.keptRequests[0].files = ["html": "javascript:alert(3)"]
        for report in [session, hostileRoute, hostileRequest] {
            let html = HTMLRenderer().render(report)
            #expect(!html.contains("<script>alert"))
            #expect(!html.contains("<img"))
            #expect(!html.contains("javascript:"))
            #expect(!html.contains("\u{1B}"))
            #expect(!html.contains("\u{2028}"))
            // Exactly two script elements: the JSON data and the report's code.
            #expect(html.components(separatedBy: "<script").count == 3)
            #expect(html.components(separatedBy: "</script").count == 3)
            #expect(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">"))
            // The data still names them, as JSON escapes.
            #expect(html.contains(#"\u003cscript\u003ealert(1)\u003c/script\u003e"#))
        }
        #expect(HTMLRenderer().render(session).contains(#""href":"javascript%3Aalert%283%29""#))
        #expect(HTMLRenderer().render(hostileRoute).contains("<title>profd · route &lt;script&gt;alert(1)&lt;/script&gt;</title>"))
        #expect(HTMLRenderer().render(hostileRoute).contains("f&lt;img src=x onerror=alert(2)&gt;"))
    }

    @Test("the inlined script and stylesheet cannot end their elements early and use no innerHTML")
    func assetsAreInert() {
        #expect(!HTMLAssets.script.lowercased().contains("</script"))
        #expect(!HTMLAssets.css.lowercased().contains("</style"))
        #expect(!HTMLAssets.script.contains("innerHTML"))
        #expect(!HTMLAssets.script.contains("outerHTML"))
        #expect(!HTMLAssets.script.contains("insertAdjacentHTML"))
        #expect(!HTMLAssets.script.contains("document.write"))
        #expect(!HTMLAssets.script.contains("eval("))
        #expect(!HTMLAssets.script.contains("http://") && !HTMLAssets.script.contains("https://"))
        #expect(!HTMLAssets.css.contains("url("))
    }

    @Test("the embedded trees match the text report: same nodes, same order, same sample counts")
    func embeddedTreeMatchesTextReport() throws {
        let report = ReportFixtures.reports().routes[0]
        let data = try Self.embeddedData(HTMLRenderer().render(report))
        let strings = try #require(data["strings"] as? [String])
        let stride = try #require(data["stride"] as? Int)
        let folded = try #require(data["folded"] as? [Int])
        let full = try #require(data["full"] as? [Int])
        #expect(folded.count % stride == 0 && full.count % stride == 0)
        #expect(folded[6] == folded.count / stride)            // the root's subtree is the whole tree
        #expect(full[6] == report.tree.nodes.count)            // unfolded: one entry per call-tree node
        #expect(folded[4] == report.samples && full[4] == report.samples)
        // Pre-order walk of the folded tree, printed like the text report's labels.
        var labels: [String] = []
        var index = 0
        while index < folded.count / stride {
            let base = index * stride
            labels.append(strings[folded[base + 1]] + (folded[base] == 2 ? "  " + strings[folded[base + 2]] : ""))
            index += 1
        }
        let text = TextRenderer().render(report)
        var searchFrom = text.startIndex
        for label in labels.dropFirst() {
            let range = try #require(text.range(of: label, range: searchFrom..<text.endIndex), "\(label) not in text report order")
            searchFrom = range.upperBound
        }
        #expect(labels.contains("[3 frames hidden]  Swift, libc, kernel"))
    }

    @Test("a session without kept requests says so in the timeline panel")
    func emptyTimeline() {
        let html = HTMLRenderer().render(ReportFixtures.reports().session)
        #expect(html.contains("No kept requests in this session"))
        #expect(html.contains(#""timeline":{"t0Ns":"0","requests":[]}"#))
    }

    @Test("a report without samples renders without a tree")
    func noSamples() {
        let report = ProfileReport(scope: .route("GET /idle"), metadata: ReportFixtures.metadata, requests: RequestSummary(), tree: CallTree())
        let html = HTMLRenderer().render(report)
        #expect(html.contains("No samples."))
        #expect(html.contains(#""folded":[]"#))
    }

    @Test("a 50 000-node, 1 M-sample session renders to compact data")
    func bigProfile() throws {
        let report = HTMLFixtures.big()
        #expect(report.samples > 990_000)
        let start = ContinuousClock.now
        let html = HTMLRenderer().render(report)
        let elapsed = ContinuousClock.now - start
        print("rendered \(report.tree.nodes.count) nodes, \(report.samples) samples: \(html.utf8.count) bytes in \(elapsed)")
        #expect(report.tree.nodes.count >= 50_000)
        #expect(html.utf8.count < 12_000_000)
    }

    /// Writes reports for the browser test: `PROFD_HTML_OUT=dir` (a state directory with one session of
    /// the hostile fixture, every format, and `no-samples.html`) and `PROFD_HTML_BIG_OUT=file.html` (the 50 000-node session).
    @Test("export reports for the browser test (only when PROFD_HTML_OUT or PROFD_HTML_BIG_OUT is set)")
    func exportForBrowser() throws {
        let environment = ProcessInfo.processInfo.environment
        if let directory = environment["PROFD_HTML_OUT"], !directory.isEmpty {
            let reports = HTMLFixtures.reports()
            let written = try ReportStore(stateDirectory: directory).write(
                session: reports.session, routes: reports.routes, requests: reports.requests,
                formats: [.text, .json, .html], requestFileName: "{method}-{route}-{id}")
            print("PROFD_HTML_OUT session: \(written)")
            let empty = ProfileReport(scope: .route("GET /idle"), metadata: ReportFixtures.metadata, requests: RequestSummary(), tree: CallTree())
            try HTMLRenderer().render(empty).write(toFile: directory + "/no-samples.html", atomically: true, encoding: .utf8)
        }
        if let path = environment["PROFD_HTML_BIG_OUT"], !path.isEmpty {
            let html = HTMLRenderer().render(HTMLFixtures.big())
            try html.write(toFile: path, atomically: true, encoding: .utf8)
            print("PROFD_HTML_BIG_OUT: \(path) (\(html.utf8.count) bytes)")
        }
    }

    static func embeddedData(_ html: String) throws -> [String: Any] {
        let open = try #require(html.range(of: "<script type=\"application/json\" id=\"profd-data\">"))
        let close = try #require(html.range(of: "</script>", range: open.upperBound..<html.endIndex))
        let json = String(html[open.upperBound..<close.lowerBound])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
}
