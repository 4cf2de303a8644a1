/// Turns a session's capture into reports: attribution, symbolization and tree building.
public struct ReportBuilder {
    /// Route name used for samples that fell in no request.
    public static let unattributedRoute = "(unattributed)"
    /// The synthetic binary of route frames on the session tree's first level.
    public static let routeBinary = "[route]"

    public var metadata: SessionMetadata
    public var capture: Capture

    public init(metadata: SessionMetadata, capture: Capture) {
        self.metadata = metadata
        self.capture = capture
    }

    /// Builds the session report and one report per route, in route order.
    ///
    /// - Parameter symbolize: maps a raw stack (leaf first) to frames, leaf first. Called once per
    ///   distinct stack that appears in a sample.
    public func build(symbolize: (StackTable.Stack) -> [Frame]) -> (session: ProfileReport, routes: [ProfileReport]) {
        // Unfinished requests run until the last thing the session saw.
        let endNs = max(capture.samples.lazy.map(\.timeNs).max() ?? 0,
                        capture.spans.lazy.map { max($0.beginNs, $0.endNs ?? 0) }.max() ?? 0)
        let index = SpanIndex(spans: capture.spans, slices: capture.slices, openEndNs: endNs)

        // Count samples per (route, stack); most sessions have few routes and few thousand stacks.
        var countsByRoute: [String: [UInt32: Int]] = [:]
        var samplesBySpan = [Int](repeating: 0, count: capture.spans.count)
        for sample in capture.samples {
            let span = index.span(tid: sample.tid, timeNs: sample.timeNs)
            if let span { samplesBySpan[span] += 1 }
            let route = span.map { capture.spans[$0].route } ?? Self.unattributedRoute
            countsByRoute[route, default: [:]][sample.stack, default: 0] += 1
        }
        let timeByRoute = timeBreakdowns(samplesBySpan: samplesBySpan)

        var framesByStack: [UInt32: [Frame]] = [:]
        func rootFirst(_ id: UInt32) -> [Frame] {
            if let frames = framesByStack[id] { return frames }
            let stack = capture.stacks[id]
            var frames = Array(symbolize(stack).reversed())
            if stack.inKernel { frames.append(.kernel) }
            framesByStack[id] = frames
            return frames
        }

        let spansByRoute = Dictionary(grouping: capture.spans, by: \.route)
        let routeNames = Set(spansByRoute.keys).union(countsByRoute.keys)
            .filter { $0 != Self.unattributedRoute }
            .sorted()

        var sessionTree = CallTree()
        var routeReports: [ProfileReport] = []
        for route in routeNames + [Self.unattributedRoute] {
            let counts = countsByRoute[route] ?? [:]
            if route == Self.unattributedRoute && counts.isEmpty { continue }
            var tree = CallTree()
            let routeFrame = Frame(function: route, binary: Self.routeBinary)
            for (stack, count) in counts.sorted(by: { $0.key < $1.key }) {
                let frames = rootFirst(stack)
                tree.add(rootFirst: frames, count: count)
                sessionTree.add(rootFirst: [routeFrame] + frames, count: count)
            }
            guard route != Self.unattributedRoute else { continue }
            var requests = RequestSummary(spans: spansByRoute[route] ?? [])
            requests.time = timeByRoute[route]
            routeReports.append(ProfileReport(scope: .route(route), metadata: metadata, requests: requests, tree: tree))
        }
        var requests = RequestSummary(spans: capture.spans)
        if !timeByRoute.isEmpty {
            requests.time = timeByRoute.values.reduce(into: TimeBreakdown()) { $0.add($1) }
        }
        let session = ProfileReport(scope: .session, metadata: metadata, requests: requests, tree: sessionTree)
        return (session, routeReports)
    }

    /// Wall, CPU, off-CPU and suspended time of the finished requests, per route.
    private func timeBreakdowns(samplesBySpan: [Int]) -> [String: TimeBreakdown] {
        var onThreadBySpan: [Int: UInt64] = [:]
        for slice in capture.slices where capture.spans.indices.contains(slice.span) {
            onThreadBySpan[slice.span, default: 0] += slice.endNs - slice.beginNs
        }
        var result: [String: TimeBreakdown] = [:]
        for (index, span) in capture.spans.enumerated() {
            guard let end = span.endNs, end >= span.beginNs else { continue }
            let wall = end - span.beginNs
            result[span.route, default: TimeBreakdown()].add(
                wallNs: wall, cpuNs: UInt64(samplesBySpan[index]) * metadata.periodNs,
                onThreadNs: onThreadBySpan[index] ?? wall)
        }
        return result
    }
}
