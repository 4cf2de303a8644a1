import ProfdEngine
import Testing

@Suite("Attribution by (thread, time)")
struct AttributionTests {
    @Test("a sample belongs to the span running on its thread at its instant")
    func basic() {
        let spans = [
            SpanRecord(spanId: 1, route: "/a", threadId: 1, beginNs: 100, endNs: 200),
            SpanRecord(spanId: 2, route: "/b", threadId: 2, beginNs: 150, endNs: 250),
        ]
        let index = SpanIndex(spans: spans, openEndNs: 1_000)
        #expect(index.span(tid: 1, timeNs: 100) == 0)
        #expect(index.span(tid: 1, timeNs: 200) == 0)
        #expect(index.span(tid: 1, timeNs: 201) == nil)
        #expect(index.span(tid: 1, timeNs: 99) == nil)
        #expect(index.span(tid: 2, timeNs: 160) == 1)
        #expect(index.span(tid: 3, timeNs: 160) == nil, "another thread's span never claims a sample")
    }

    @Test("nested spans on one thread: the innermost wins, the outer resumes after it")
    func nested() {
        let spans = [
            SpanRecord(spanId: 1, route: "/outer", threadId: 7, beginNs: 100, endNs: 500),
            SpanRecord(spanId: 2, route: "/inner", threadId: 7, beginNs: 200, endNs: 300),
        ]
        let index = SpanIndex(spans: spans, openEndNs: 1_000)
        #expect(index.span(tid: 7, timeNs: 150) == 0)
        #expect(index.span(tid: 7, timeNs: 250) == 1)
        #expect(index.span(tid: 7, timeNs: 400) == 0)
    }

    @Test("an unfinished span runs until the end of the session")
    func unfinished() {
        let index = SpanIndex(spans: [SpanRecord(spanId: 1, route: "/slow", threadId: 3, beginNs: 100)], openEndNs: 900)
        #expect(index.span(tid: 3, timeNs: 900) == 0)
        #expect(index.span(tid: 3, timeNs: 901) == nil)
    }

    @Test("routes get their own samples; idle time is unattributed")
    func builderSplitsRoutes() throws {
        let fixture = ReportFixtures.reports(); let (session, routes) = (fixture.session, fixture.routes)
        #expect(routes.map(\.scope) == [.route("/compute"), .route("/hash")])
        let compute = try #require(routes.first)
        #expect(compute.samples == 11)
        #expect(compute.tree.inclusiveSamples(ofFunction: "DemoApp.randomNumber()") == 8)
        #expect(compute.tree.inclusiveSamples(ofFunction: "DemoApp.addNumbers(_:_:)") == 3)
        #expect(compute.tree.inclusiveSamples(ofFunction: "DemoApp.hashPayload(rounds:)") == 0)
        #expect(compute.requests.count == 2)
        #expect(compute.requests.unfinished == 1)
        #expect(routes[1].samples == 5)
        #expect(session.samples == 20)
        #expect(session.tree.inclusiveSamples(ofFunction: "(unattributed)") == 4)
        #expect(session.tree.inclusiveSamples(ofFunction: "[kernel]") == 10)
    }
}

@Suite("Call tree")
struct CallTreeTests {
    @Test("total and self counts add up along each path")
    func totals() {
        var tree = CallTree()
        let a = Frame(function: "a", binary: "x"), b = Frame(function: "b", binary: "x"), c = Frame(function: "c", binary: "x")
        tree.add(rootFirst: [a, b], count: 3)
        tree.add(rootFirst: [a, c], count: 1)
        tree.add(rootFirst: [a], count: 2)
        #expect(tree.totalSamples == 6)
        let aIndex = tree.root.children[0]
        #expect(tree.nodes[aIndex].totalSamples == 6)
        #expect(tree.nodes[aIndex].selfSamples == 2)
        let sorted = tree.sortedChildren(of: aIndex).map { tree.nodes[$0].frame?.function }
        #expect(sorted == ["b", "c"])
    }

    @Test("recursion is not counted twice")
    func recursion() {
        var tree = CallTree()
        let f = Frame(function: "f", binary: "x")
        tree.add(rootFirst: [f, f, f], count: 4)
        #expect(tree.inclusiveSamples(ofFunction: "f") == 4)
    }
}

@Suite("Library frame folding")
struct DisplayTreeTests {
    @Test("library chains fold away and their self time stays visible")
    func folding() throws {
        let routes = ReportFixtures.reports().routes
        let compute = try #require(routes.first)
        let display = DisplayNode.build(from: compute.tree, classifier: LibraryFrameClassifier(executablePath: ReportFixtures.executable))
        // libc → NIO → Hummingbird fold away: the handler closure is the first visible frame.
        let top = try #require(display.children.first)
        #expect(top.kind == .frame(ReportFixtures.symbols[0x1001]!))
        #expect(top.hiddenAbove == 3)
        #expect(top.totalSamples == display.totalSamples)
        let random = try #require(top.children.first)
        #expect(random.kind == .frame(ReportFixtures.symbols[0x1002]!))
        #expect(random.totalSamples == 8)
        // Int.random, getrandom and the kernel are one hidden leaf holding all 8 samples.
        #expect(random.children.count == 1)
        if case .hidden(let count, let libraries) = random.children[0].kind {
            #expect(count == 3)
            #expect(libraries == ["Swift", "libc", "kernel"])
        } else {
            Issue.record("expected a hidden-frames leaf, got \(random.children[0].kind)")
        }
        #expect(random.children[0].totalSamples == 8)
    }

    @Test("without a classifier the display tree mirrors the call tree")
    func showAll() throws {
        let routes = ReportFixtures.reports().routes
        let display = DisplayNode.build(from: routes[0].tree, classifier: nil)
        let first = try #require(display.children.first)
        #expect(first.kind == .frame(ReportFixtures.symbols[0x7f00_0001]!))
    }
}
