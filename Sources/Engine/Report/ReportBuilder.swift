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
        for sample in capture.samples {
            let route = index.span(tid: sample.tid, timeNs: sample.timeNs).map { capture.spans[$0].route }
                ?? Self.unattributedRoute
            countsByRoute[route, default: [:]][sample.stack, default: 0] += 1
        }

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
            routeReports.append(ProfileReport(scope: .route(route), metadata: metadata,
                                              requests: RequestSummary(spans: spansByRoute[route] ?? []),
                                              tree: tree))
        }
        let session = ProfileReport(scope: .session, metadata: metadata,
                                    requests: RequestSummary(spans: capture.spans), tree: sessionTree)
        return (session, routeReports)
    }
}
