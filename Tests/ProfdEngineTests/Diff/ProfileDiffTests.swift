import Foundation
import ProfdEngine
import ProfdProtocol
import Testing

/// Two small session reports, "before" (A) and "after" (B), with every kind of row a diff has: a function
/// that got faster, one that got slower, one that is gone, two that are new (one recursive), library and
/// kernel frames, and idle time outside requests. B's executable was rebuilt at another path. Counts are
/// large enough that some changes are beyond sampling noise (hashPayload, [kernel], the new ones) and some
/// are not (addNumbers, randomNumber, epoll_wait).
enum DiffFixtures {
    static let executableA = "/srv/app/.build/release/demo-app"
    static let executableB = "/srv/app-v2/.build/release/demo-app"
    static let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    static let route = "GET /compute"

    static func metadata(id: String, executable: String, startedAt: String) -> SessionMetadata {
        SessionMetadata(id: id, service: "demo-app", pid: 4242, uid: 1000, executable: executable, startedAt: startedAt,
                        endedAt: startedAt, durationNs: 1_000_000_000, frequencyHz: 1000, endReason: "stopped",
                        complete: true, daemonVersion: "0.1.0")
    }

    /// A session report from stacks (root first, below the route frame) with counts; `idle` samples of
    /// epoll_wait fall outside any request.
    static func session(_ meta: SessionMetadata, requests: Int, stacks: [([String], Int)], idle: Int) -> ProfileReport {
        let executable = meta.executable ?? ""
        func frame(_ name: String) -> Frame {
            switch name {
            case "[kernel]": .kernel
            case "getrandom", "epoll_wait": Frame(function: name, binary: libc)
            default: Frame(function: name, binary: executable)
            }
        }
        var tree = CallTree()
        var routeSamples = 0
        for (names, count) in stacks {
            tree.add(rootFirst: [Frame(function: route, binary: ReportBuilder.routeBinary)] + names.map(frame), count: count)
            routeSamples += count
        }
        if idle > 0 {
            tree.add(rootFirst: [Frame(function: ReportBuilder.unattributedRoute, binary: ReportBuilder.routeBinary), frame("epoll_wait")], count: idle)
        }
        var summary = RequestSummary()
        summary.count = requests
        summary.statusCounts = ["200": requests]
        let routes = [RouteSummary(route: route, requests: requests, samples: routeSamples,
                                   cpuNs: UInt64(routeSamples) * meta.periodNs,
                                   files: ["json": "routes/GET%20%2Fcompute.json", "text": "routes/GET%20%2Fcompute.txt"])]
        return ProfileReport(scope: .session, metadata: meta, requests: summary, tree: tree, routes: routes)
    }

    static func before() -> ProfileReport {
        let main = ["DemoApp.main()", "DemoApp.handler(_:)"]
        return session(metadata(id: "20261126T100000.000Z-4242-1", executable: executableA, startedAt: "2026-11-26T10:00:00.000Z"),
                       requests: 20,
                       stacks: [(main + ["DemoApp.randomNumber()", "getrandom", "[kernel]"], 60),
                                (main + ["DemoApp.randomNumber()"], 20),
                                (main + ["DemoApp.addNumbers(_:_:)"], 20),
                                (main + ["DemoApp.hashPayload(rounds:)"], 40)],
                       idle: 20)
    }

    static func after() -> ProfileReport {
        let main = ["DemoApp.main()", "DemoApp.handler(_:)"]
        return session(metadata(id: "20261126T110000.000Z-4242-1", executable: executableB, startedAt: "2026-11-26T11:00:00.000Z"),
                       requests: 40,
                       stacks: [(main + ["DemoApp.randomNumber()", "getrandom", "[kernel]"], 60),
                                (main + ["DemoApp.randomNumber()"], 20),
                                (main + ["DemoApp.addNumbers(_:_:)"], 60),
                                (main + ["DemoApp.fastHash(_:)"], 40),
                                (main + ["DemoApp.fib(_:)", "DemoApp.fib(_:)", "DemoApp.fib(_:)"], 40)],
                       idle: 20)
    }

    /// The fixtures as the checked-in JSON reports the golden tests (and profctl's) read.
    static func storedReports() throws -> (a: ProfileReport, b: ProfileReport) {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Golden")
        let a = try Data(contentsOf: directory.appendingPathComponent("diff-a.session.json"))
        let b = try Data(contentsOf: directory.appendingPathComponent("diff-b.session.json"))
        return (try ProfileReport(jsonReport: Array(a)), try ProfileReport(jsonReport: Array(b)))
    }
}

@Suite("ProfileDiff")
struct ProfileDiffTests {
    private func row(_ diff: ProfileDiff, _ function: String) throws -> ProfileDiff.Row {
        try #require(diff.functions.first { $0.function == function }, "no row for \(function)")
    }

    @Test("per request: each side's time over its own request count, sorted by the change in self time")
    func perRequest() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        #expect(diff.basis == .perRequest)
        #expect(diff.requestedBasis == nil)
        #expect(diff.a.basisCPUNs == 8_000_000)   // 160 samples × 1 ms / 20 requests
        #expect(diff.b.basisCPUNs == 6_000_000)   // 240 samples × 1 ms / 40 requests
        #expect(diff.functions.map(\.function) == [
            "DemoApp.hashPayload(rounds:)", "[kernel]", "DemoApp.fastHash(_:)", "DemoApp.fib(_:)",
            "DemoApp.randomNumber()", "DemoApp.addNumbers(_:_:)", "epoll_wait",
            "DemoApp.handler(_:)", "DemoApp.main()", "getrandom",
        ])
        let hash = try row(diff, "DemoApp.hashPayload(rounds:)")
        #expect(hash.status == .gone && hash.b == nil)
        #expect(hash.a?.selfNs == 2_000_000)
        #expect(hash.deltaSelfNs == -2_000_000)
        #expect(hash.deltaSelfShare == -0.25)      // 40 of 160 samples → none
        let add = try row(diff, "DemoApp.addNumbers(_:_:)")
        #expect(add.a?.selfNs == 1_000_000 && add.b?.selfNs == 1_500_000)
        #expect(add.deltaSelfNs == 500_000)
        #expect(add.relativeSelfChange == 0.5)
        #expect(add.deltaSelfShare == 0.125)       // 20/160 → 60/240
        let random = try row(diff, "DemoApp.randomNumber()")
        #expect(random.deltaSelfNs == -500_000 && random.deltaTotalNs == -2_000_000)
        #expect(diff.topImprovement?.function == "DemoApp.hashPayload(rounds:)")
        #expect(diff.topImprovement?.deltaNs == -2_000_000)
        #expect(diff.topRegression?.function == "DemoApp.fastHash(_:)")
    }

    @Test("the executable's functions match across a rebuild at another path; route frames are not functions")
    func identity() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        let main = try row(diff, "DemoApp.main()")
        #expect(main.status == .both && main.inExecutable)
        #expect(main.binary == DiffFixtures.executableB)
        #expect(try row(diff, "getrandom").inExecutable == false)
        #expect(!diff.functions.contains { $0.binary == ReportBuilder.routeBinary })
        // Self time of every row adds up to the whole profile on each side: nothing counted twice or lost.
        #expect(diff.functions.compactMap(\.a).map(\.selfSamples).reduce(0, +) == diff.a.samples)
        #expect(diff.functions.compactMap(\.b).map(\.selfSamples).reduce(0, +) == diff.b.samples)
    }

    @Test("recursion counts a sample once in total time")
    func recursion() throws {
        let fib = try row(ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after()), "DemoApp.fib(_:)")
        #expect(fib.status == .new)
        #expect(fib.b?.totalSamples == 40 && fib.b?.selfSamples == 40)
    }

    @Test("addresses in no mapping move with every run (ASLR): one row for all of them, on both sides")
    func unknownAddresses() throws {
        func report(_ address: String, count: Int) -> ProfileReport {
            var tree = CallTree()
            tree.add(rootFirst: [Frame(function: "App.main()", binary: "/app"), Frame(function: address, binary: "[unknown]")], count: count)
            tree.add(rootFirst: [Frame(function: "App.main()", binary: "/app"), Frame(function: "0x1234", binary: "[unknown]"),
                                 Frame(function: address, binary: "[unknown]")], count: 1)
            return ProfileReport(scope: .route("/r"), metadata: DiffFixtures.metadata(id: "s", executable: "/app", startedAt: ""),
                                 requests: RequestSummary(), tree: tree)
        }
        let diff = ProfileDiff(a: report("0x7f95fede7be1", count: 1), b: report("0x7f8540952be1", count: 3))
        let unknown = try row(diff, ProfileDiff.unknownAddress)
        #expect(unknown.status == .both)
        #expect(unknown.a?.selfSamples == 2 && unknown.b?.selfSamples == 4)
        #expect(unknown.a?.totalSamples == 2 && unknown.b?.totalSamples == 4, "a stack of two unknown addresses counts once")
        #expect(diff.functions.count == 2)
    }

    @Test("changes within sampling noise are marked, and never a top improvement or regression")
    func noise() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        #expect(try row(diff, "DemoApp.addNumbers(_:_:)").withinNoise)        // 20/20 → 60/40 per request: 0.5 ≤ 2σ ≈ 0.59
        #expect(try !row(diff, "DemoApp.hashPayload(rounds:)").withinNoise)  // 40/20 → 0: 2 > 2σ ≈ 0.63
        #expect(try !row(diff, "[kernel]").withinNoise)
        #expect(DiffTextRenderer().render(diff).contains("≈ within sampling noise"))

        func report(_ counts: [String: Int]) -> ProfileReport {
            var tree = CallTree()
            for (function, count) in counts.sorted(by: { $0.key < $1.key }) {
                tree.add(rootFirst: [Frame(function: function, binary: "/app")], count: count)
            }
            return ProfileReport(scope: .route("/r"), metadata: DiffFixtures.metadata(id: "s", executable: "/app", startedAt: ""),
                                 requests: RequestSummary(), tree: tree)
        }
        let small = ProfileDiff(a: report(["App.f()": 100, "App.g()": 2]), b: report(["App.f()": 50, "App.g()": 3]))
        #expect(small.topImprovement?.function == "App.f()")
        #expect(small.topRegression == nil, "one more sample of g is noise")
        #expect(DiffTextRenderer().render(small).contains("top regression: none beyond sampling noise"))
    }

    @Test("total basis compares raw CPU time")
    func totalBasis() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after(), basis: .total)
        #expect(diff.basis == .total)
        let add = try row(diff, "DemoApp.addNumbers(_:_:)")
        #expect(add.a?.selfNs == 20_000_000 && add.b?.selfNs == 60_000_000 && add.deltaSelfNs == 40_000_000)
        #expect(diff.functions.first?.function == "DemoApp.addNumbers(_:_:)")
        #expect(diff.topImprovement?.function == "DemoApp.hashPayload(rounds:)")
    }

    @Test("per request falls back to total when a side has no requests, and says so")
    func fallback() throws {
        var idle = DiffFixtures.before()
        idle.requests = RequestSummary()
        let diff = ProfileDiff(a: idle, b: DiffFixtures.after())
        #expect(diff.basis == .total)
        #expect(diff.requestedBasis == .perRequest)
        #expect(diff.basisNote?.contains("per-request needs requests on both sides") == true)
        #expect(DiffTextRenderer().render(diff).contains("note: per-request needs requests"))
    }

    @Test("ranking by total time puts callers whose subtree changed first")
    func totalRanking() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after(), ranking: .totalTime)
        #expect(diff.functions.first?.function == "DemoApp.hashPayload(rounds:)")
        #expect(Array(diff.functions.map(\.function).prefix(3)).contains("DemoApp.randomNumber()"))   // −2 ms total
    }

    @Test("a report against itself: every change is zero, no highlights")
    func identical() throws {
        let diff = ProfileDiff(a: DiffFixtures.after(), b: DiffFixtures.after())
        #expect(diff.functions.allSatisfy { $0.deltaSelfNs == 0 && $0.deltaTotalNs == 0 && $0.status == .both })
        #expect(diff.topImprovement == nil && diff.topRegression == nil)
    }

    @Test("two empty reports: no rows, and every renderer says so")
    func empty() throws {
        let meta = DiffFixtures.metadata(id: "s", executable: "/app", startedAt: "")
        let report = ProfileReport(scope: .session, metadata: meta, requests: RequestSummary(), tree: CallTree())
        let diff = ProfileDiff(a: report, b: report)
        #expect(diff.functions.isEmpty && diff.basis == .total)
        #expect(DiffTextRenderer().render(diff).hasSuffix("No samples on either side.\n"))
        #expect(DiffHTMLRenderer().render(diff).contains("<p>No samples on either side.</p>"))
        #expect(try JSONDecoder().decode(ProfileDiff.self, from: Data(DiffJSONRenderer().render(diff).utf8)) == diff)
    }

    @Test("limited keeps the first rows and counts the rest")
    func limited() {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        let top = diff.limited(to: 3)
        #expect(top.functions == Array(diff.functions.prefix(3)))
        #expect(top.omittedFunctions == diff.functions.count - 3)
        #expect(diff.limited(to: 100) == diff)
    }

    @Test("the JSON form decodes back to the same diff")
    func jsonRoundTrip() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        let json = try DiffJSONRenderer().render(diff)
        #expect(try JSONDecoder().decode(ProfileDiff.self, from: Data(json.utf8)) == diff)
    }

    // MARK: - Golden files: the fixtures as checked-in JSON reports, and each format of their diff

    @Test("the fixture reports are the checked-in JSON reports")
    func fixtureReports() throws {
        try GoldenFile.check(try JSONRenderer().render(DiffFixtures.before()), named: "diff-a.session.json")
        try GoldenFile.check(try JSONRenderer().render(DiffFixtures.after()), named: "diff-b.session.json")
    }

    @Test("text diff of the stored fixture reports matches the golden file")
    func goldenText() throws {
        let (a, b) = try DiffFixtures.storedReports()
        try GoldenFile.check(DiffTextRenderer().render(ProfileDiff(a: a, b: b)), named: "diff.txt")
    }

    @Test("JSON diff of the stored fixture reports matches the golden file")
    func goldenJSON() throws {
        let (a, b) = try DiffFixtures.storedReports()
        try GoldenFile.check(try DiffJSONRenderer().render(ProfileDiff(a: a, b: b)), named: "diff.json")
    }

    @Test("HTML diff of the stored fixture reports matches the golden file")
    func goldenHTML() throws {
        let (a, b) = try DiffFixtures.storedReports()
        try GoldenFile.check(DiffHTMLRenderer().render(ProfileDiff(a: a, b: b)), named: "diff.html")
    }

    // MARK: - Rendering details

    @Test("colour: red for slower, green for faster, only when asked")
    func colour() throws {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        let plain = DiffTextRenderer().render(diff)
        #expect(!plain.contains("\u{1B}"))
        let coloured = DiffTextRenderer(options: .init(colour: true)).render(diff)
        let lines = coloured.split(separator: "\n")
        let fastHash = try #require(lines.first { $0.hasSuffix("DemoApp.fastHash(_:)") })
        #expect(fastHash.contains("\u{1B}[31m") && !fastHash.contains("\u{1B}[32m") && fastHash.contains("+1.000ms"))
        let hash = try #require(lines.first { $0.hasSuffix("DemoApp.hashPayload(rounds:)") })
        #expect(hash.contains("\u{1B}[32m") && !hash.contains("\u{1B}[31m") && hash.contains("-2.000ms"))
        let add = try #require(lines.first { $0.hasSuffix("DemoApp.addNumbers(_:_:)") }, "slower, but within noise")
        #expect(!add.contains("\u{1B}") && add.contains("≈+0.500ms"))
        let getrandom = try #require(lines.first { $0.hasSuffix("getrandom  libc.so.6") }, "unchanged self time")
        #expect(!getrandom.contains("\u{1B}"))
    }

    @Test("--limit's rows and the note about the rest")
    func textLimit() {
        let diff = ProfileDiff(a: DiffFixtures.before(), b: DiffFixtures.after())
        let text = DiffTextRenderer(options: .init(limit: 2)).render(diff)
        #expect(text.contains("… 8 more functions (--limit 0 shows all)"))
        let rows = text.split(separator: "\n")
        #expect(rows.contains { $0.hasSuffix("  DemoApp.hashPayload(rounds:)") } && rows.contains { $0.hasSuffix("  [kernel]") })
        #expect(!rows.contains { $0.hasSuffix("  DemoApp.fastHash(_:)") })
        #expect(!DiffTextRenderer(options: .init(limit: 0)).render(diff).contains("more function"))
    }

    @Test("hostile names are escaped: no terminal escapes in text, no markup in HTML")
    func hostileNames() throws {
        let hostile = "App.evil\u{1B}]0;pwned\u{7}<script>alert(1)</script>"
        var a = CallTree()
        a.add(rootFirst: [Frame(function: hostile, binary: "/app")], count: 2)
        var b = CallTree()
        b.add(rootFirst: [Frame(function: hostile, binary: "/app")], count: 1)
        var meta = DiffFixtures.metadata(id: "s\u{1B}[2J", executable: "/app", startedAt: "")
        meta.service = "<b>svc</b>"
        let diff = ProfileDiff(a: ProfileReport(scope: .route("/r\u{1B}[31m<i>"), metadata: meta, requests: RequestSummary(), tree: a),
                               b: ProfileReport(scope: .route("/r"), metadata: meta, requests: RequestSummary(), tree: b))
        for colour in [false, true] {
            let text = DiffTextRenderer(options: .init(colour: colour)).render(diff)
            #expect(!text.contains("\u{1B}]") && !text.contains("\u{1B}[2J") && !text.contains("\u{1B}[31m<i>"))
            #expect(!text.contains("\u{7}"))
            #expect(text.contains("App.evil\\u{1b}]0;pwned\\u{7}"))
        }
        let html = DiffHTMLRenderer().render(diff)
        #expect(!html.contains("<script") && !html.contains("<i>") && !html.contains("\u{1B}"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src="))
    }
}
