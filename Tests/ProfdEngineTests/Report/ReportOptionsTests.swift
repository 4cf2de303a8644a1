import Foundation
import ProfdEngine
import ProfdProtocol
import Testing

@Suite("Report options: route filters, kept requests, formats")
struct ReportOptionsTests {
    @Test("route patterns: * spans any run of characters, everything else is literal", arguments: [
        ("GET /users/:id", "GET /users/:id", true),
        ("GET /users/:id", "GET /users/*", true),
        ("GET /users/:id", "*", true),
        ("GET /users/:id", "* /users/*", true),
        ("POST /users/:id", "GET *", false),
        ("GET /users", "GET /users/*", false),
        ("GET /health", "GET /health*", true),
        ("GET /a*b", "GET /a*b", true),
        ("", "*", true),
        ("x", "", false),
    ])
    func patterns(route: String, pattern: String, matches: Bool) {
        #expect(RoutePattern.matches(route, pattern: pattern) == matches)
    }

    @Test("a pathological pattern does not blow up")
    func pathologicalPattern() {
        let route = String(repeating: "a", count: 2000) + "b"
        let pattern = String(repeating: "*a", count: 500) + "c"
        #expect(!RoutePattern.matches(route, pattern: pattern))
    }

    @Test("excluded routes win over included ones; empty include list takes all")
    func includeExclude() {
        let options = ReportOptions(includedRoutes: ["GET /api/*"], excludedRoutes: ["GET /api/health"])
        #expect(options.reports(route: "GET /api/users/:id"))
        #expect(!options.reports(route: "GET /api/health"))
        #expect(!options.reports(route: "GET /compute"))
        #expect(ReportOptions().reports(route: "anything"))
    }

    @Test("an excluded route gets no report, and its samples are counted, not given to (unattributed)")
    func excludedRouteSamples() {
        let options = ReportOptions(excludedRoutes: ["/hash"])
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: ReportFixtures.capture(), options: options)
            .build(symbolize: ReportFixtures.symbolize)
        #expect(reports.routes.map(\.scope) == [.route("/compute")])
        #expect(reports.session.metadata.excludedRequests == 1)
        #expect(reports.session.metadata.excludedSamples == 5)
        #expect(reports.session.requests.count == 2)
        let unattributed = reports.session.tree.root.children.map { reports.session.tree.nodes[$0].frame?.function }
        #expect(!unattributed.contains("/hash"))
        #expect(TextRenderer().render(reports.session).contains("excluded routes: 1 requests, 5 samples left out"))
    }

    @Test("requests at least as slow as the threshold keep a report with their own samples only")
    func keptRequests() throws {
        let options = ReportOptions(slowThresholdNs: 1_000)
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: ReportFixtures.capture(), options: options,
                                    wallClockTime: { "t\($0)" })
            .build(symbolize: ReportFixtures.symbolize)
        // Spans 1 (/compute, 1000 ns) and 2 (/hash, 1000 ns) are finished and slow enough; span 3 is unfinished.
        #expect(reports.requests.count == 2)
        guard case .request(let first) = reports.requests[0].scope, case .request(let second) = reports.requests[1].scope else {
            Issue.record("not request reports"); return
        }
        #expect(first.route == "/compute" && first.spanId == 1 && first.wallNs == 1_000 && first.startedAt == "t1000")
        #expect(second.route == "/hash" && second.status == 200)
        #expect(reports.requests[0].samples == 10)
        #expect(reports.requests[1].samples == 5)
        #expect(reports.session.keptRequests.map(\.spanId) == [1, 2])
        #expect(ReportBuilder(metadata: ReportFixtures.metadata, capture: ReportFixtures.capture(),
                              options: ReportOptions(slowThresholdNs: 1_001)).build(symbolize: ReportFixtures.symbolize).requests.isEmpty)
    }

    @Test("the keep policy: slow, server errors, and a reproducible random share, decided at the end")
    func keepPolicy() {
        let policy = ReportOptions(slowThresholdNs: 100, keepServerErrors: true, keptBasisPoints: 1_000)
        #expect(policy.keepReason(wallNs: 100, status: 200, spanId: 1) == .slow)
        #expect(policy.keepReason(wallNs: 5, status: 503, spanId: 1) == .serverError)
        #expect(ReportOptions(keepServerErrors: false).keepReason(wallNs: 5, status: 503, spanId: 1) == nil)
        #expect(ReportOptions().keepReason(wallNs: 5, status: 404, spanId: 1) == nil)
        // 10%: about a tenth of 20 000 consecutive ids, and the same ids every time.
        let picked = (1...20_000).filter { policy.keepReason(wallNs: 5, status: 200, spanId: UInt64($0)) == .sampled }
        #expect((1_800...2_200).contains(picked.count), "\(picked.count)")
        #expect(picked == (1...20_000).filter { policy.keepReason(wallNs: 5, status: 200, spanId: UInt64($0)) != nil })
        #expect(ReportOptions(keptBasisPoints: 10_000).keepReason(wallNs: 0, status: 0, spanId: 77) == .sampled)
    }

    @Test("a server error keeps its report by default, with its reason")
    func serverErrorKept() {
        var capture = ReportFixtures.capture()
        capture.spans[1].status = 502
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build(symbolize: ReportFixtures.symbolize)
        #expect(reports.session.keptRequests.map(\.spanId) == [2])
        #expect(reports.session.keptRequests.first?.reason == .serverError)
    }

    @Test("request file names: placeholders expanded, unsafe characters folded, never hidden")
    func requestFileNames() {
        let request = KeptRequest(spanId: 42, route: "GET /users/:id", status: 404, beginNs: 0, endNs: 12_500_000,
                                  time: TimeBreakdown(), startedAt: "2026-11-26T13:45:01.123Z")
        #expect(RequestFileName.make(template: "{time}-{route}-{id}", request: request) == "20261126T134501.123Z-users_id-42")
        #expect(RequestFileName.make(template: "{method}_{status}_{ms}ms", request: request) == "GET_404_12ms")
        #expect(RequestFileName.make(template: "../../etc/passwd", request: request) == "_.._etc_passwd")
        #expect(RequestFileName.make(template: "///", request: request) == "request-42")
    }

    @Test("the store writes the chosen formats, kept requests under requests/, and lists them in the session")
    func storeFormats() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-options-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: ReportFixtures.capture(),
                                    options: ReportOptions(slowThresholdNs: 0), wallClockTime: { _ in "2026-11-26T13:45:01.123Z" })
            .build(symbolize: ReportFixtures.symbolize)
        let directory = try ReportStore(stateDirectory: root).write(
            session: reports.session, routes: reports.routes, requests: reports.requests,
            formats: [.json, .html], requestFileName: "{route}")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["requests", "routes", "session.html", "session.json"])
        let requestFiles = try FileManager.default.contentsOfDirectory(atPath: directory + "/requests").sorted()
        // Two /compute requests would share a name: the second gets its span id appended.
        #expect(requestFiles == ["compute.html", "compute.json", "hash.html", "hash.json"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/session.json"))) as? [String: Any]
        let kept = json?["keptRequests"] as? [[String: Any]]
        #expect(kept?.count == 2)
        #expect((kept?.first?["files"] as? [String: String])?["html"] == "requests/compute.html")
        let request = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/requests/hash.json"))) as? [String: Any]
        #expect(request?["kind"] as? String == "request")
        #expect((request?["request"] as? [String: Any])?["spanId"] as? Int == 2)
    }

    @Test("HTML escapes routes and symbols: a <script> route is text, not code")
    func htmlEscaping() {
        var capture = Capture()
        let route = "<script>alert(1)</script>\u{1B}[31m"
        capture.spans = [SpanRecord(spanId: 1, route: route, threadId: 1, beginNs: 0, endNs: 10, status: 200)]
        capture.add(tid: 1, timeNs: 5, addresses: [0x1002], inKernel: false)
        let reports = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture).build { _ in
            [Frame(function: "f<img src=x onerror=alert(2)>", binary: ReportFixtures.executable)]
        }
        for html in [HTMLRenderer().render(reports.routes[0]), HTMLRenderer().render(reports.session)] {
            #expect(!html.contains("<script>alert"))
            #expect(!html.contains("<img"))
            #expect(!html.contains("\u{1B}"))
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || html.contains("&lt;img"))
        }
        #expect(HTMLRenderer().render(reports.routes[0]).contains("f&lt;img src=x onerror=alert(2)&gt;"))
    }
}
