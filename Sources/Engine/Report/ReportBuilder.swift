/// Turns a session's capture into reports: attribution, symbolization and tree building.
public struct ReportBuilder {
    /// Route name used for samples that fell in no request.
    public static let unattributedRoute = "(unattributed)"
    /// The synthetic binary of route frames on the session tree's first level.
    public static let routeBinary = "[route]"

    public var metadata: SessionMetadata
    public var capture: Capture
    public var options: ReportOptions
    /// RFC 3339 wall-clock time of a `CLOCK_MONOTONIC` instant, for kept requests.
    public var wallClockTime: @Sendable (UInt64) -> String
    /// At most this many requests keep a report of their own (the daemon's
    /// `--max-kept-requests-per-session`), chosen by `KeptRequestSelection`; nil: every one the policy keeps.
    /// With a limit, the metadata's `skippedKeptRequests` counts the qualifying requests left without one.
    public var maximumKeptRequests: Int?

    public init(metadata: SessionMetadata, capture: Capture, options: ReportOptions = ReportOptions(),
                maximumKeptRequests: Int? = nil,
                wallClockTime: @escaping @Sendable (UInt64) -> String = { _ in "" }) {
        self.metadata = metadata
        self.capture = capture
        self.options = options
        self.maximumKeptRequests = maximumKeptRequests
        self.wallClockTime = wallClockTime
    }

    /// The reports of one session.
    public struct Reports {
        public var session: ProfileReport
        /// One per reported route, in route order.
        public var routes: [ProfileReport]
        /// One per request the keep policy kept (at most `maximumKeptRequests`), in start order.
        public var requests: [ProfileReport]
        /// The symbolized frames (outermost first) of every stack a tree used, by stack id.
        public var framesByStack: [UInt32: [Frame]] = [:]
    }

    /// Builds the session report, one report per route, and one per kept request.
    ///
    /// Requests of excluded routes still own their samples (so those are not mistaken for unattributed
    /// work) but the samples are left out of every tree and counted in the metadata.
    ///
    /// - Parameter symbolize: maps a raw stack (leaf first) to frames, leaf first. Called once per
    ///   distinct stack that appears in a sample.
    public func build(symbolize: (StackTable.Stack) -> [Frame]) -> Reports {
        // Unfinished requests run until the last thing the session saw.
        let endNs = max(capture.samples.lazy.map(\.timeNs).max() ?? 0,
                        capture.spans.lazy.map { max($0.beginNs, $0.endNs ?? 0) }.max() ?? 0)
        let index = SpanIndex(spans: capture.spans, slices: capture.slices, openEndNs: endNs)

        // Count samples per (route, stack); most sessions have few routes and few thousand stacks.
        // Whether each span's route is reported, decided once per route and then read by index, so the
        // sample loop below hashes no route string for it.
        var reportedRoutes: [String: Bool] = [:]
        let isReported = capture.spans.map { span in
            if let known = reportedRoutes[span.route] { return known }
            let answer = options.reports(route: span.route)
            reportedRoutes[span.route] = answer
            return answer
        }
        let qualifyingSpans = keptSpanIndexes(isReported: isReported)
        let keptSpans = KeptRequestSelection.mostUseful(qualifyingSpans, of: capture.spans, limit: maximumKeptRequests)
        var countsByKept: [Int: [UInt32: Int]] = [:]
        for span in keptSpans { countsByKept[span] = [:] }

        var countsByRoute: [String: [UInt32: Int]] = [:]
        var samplesBySpan = [Int](repeating: 0, count: capture.spans.count)
        var excludedSamples = 0
        for sample in capture.samples {
            let span = index.span(tid: sample.tid, timeNs: sample.timeNs)
            if let span {
                samplesBySpan[span] += 1
                guard isReported[span] else { excludedSamples += 1; continue }
                countsByKept[span]?[sample.stack, default: 0] += 1
            }
            let route = span.map { capture.spans[$0].route } ?? Self.unattributedRoute
            countsByRoute[route, default: [:]][sample.stack, default: 0] += 1
        }
        let timeBySpan = timeBreakdowns(samplesBySpan: samplesBySpan)
        var timeByRoute: [String: TimeBreakdown] = [:]
        for (span, time) in timeBySpan where isReported[span] {
            timeByRoute[capture.spans[span].route, default: TimeBreakdown()].add(time)
        }
        var metadata = self.metadata
        metadata.excludedSamples = excludedSamples
        metadata.excludedRequests = isReported.lazy.filter { !$0 }.count
        if maximumKeptRequests != nil { metadata.skippedKeptRequests = qualifyingSpans.count - keptSpans.count }

        var framesByStack: [UInt32: [Frame]] = [:]
        func rootFirst(_ id: UInt32) -> [Frame] {
            if let frames = framesByStack[id] { return frames }
            let frames = Self.rootFirstFrames(of: capture.stacks[id], symbolize: symbolize)
            framesByStack[id] = frames
            return frames
        }

        let reportedSpans = capture.spans.indices.filter { isReported[$0] }.map { capture.spans[$0] }
        let spansByRoute = Dictionary(grouping: reportedSpans, by: \.route)
        let routeNames = Set(spansByRoute.keys).union(countsByRoute.keys)
            .filter { $0 != Self.unattributedRoute }
            .sorted()

        var sessionTree = CallTree()
        // An attach session has no spans: every sample is the process's, and its tree is the process
        // itself rather than one `(unattributed)` route frame over everything.
        let wholeProcess = metadata.isAttach
        var routeReports: [ProfileReport] = []
        for route in routeNames + [Self.unattributedRoute] {
            let counts = countsByRoute[route] ?? [:]
            if route == Self.unattributedRoute && counts.isEmpty { continue }
            var tree = CallTree()
            let routeFrame = Frame(function: route, binary: Self.routeBinary)
            for (stack, count) in counts.sorted(by: { $0.key < $1.key }) {
                let frames = rootFirst(stack)
                tree.add(rootFirst: frames, count: count)
                sessionTree.add(rootFirst: wholeProcess ? frames : [routeFrame] + frames, count: count)
            }
            guard route != Self.unattributedRoute else { continue }
            var requests = RequestSummary(spans: spansByRoute[route] ?? [])
            requests.time = timeByRoute[route]
            routeReports.append(ProfileReport(scope: .route(route), metadata: metadata, requests: requests, tree: tree))
        }
        var requestReports: [ProfileReport] = []
        for span in keptSpans {
            let record = capture.spans[span]
            guard let end = record.endNs else { continue }
            let time = timeBySpan[span] ?? TimeBreakdown()
            let kept = KeptRequest(spanId: record.spanId, route: record.route, status: record.status,
                                   beginNs: record.beginNs, endNs: end, time: time,
                                   startedAt: wallClockTime(record.beginNs),
                                   reason: options.keepReason(wallNs: end - record.beginNs, status: record.status,
                                                              spanId: record.spanId))
            var tree = CallTree()
            for (stack, count) in (countsByKept[span] ?? [:]).sorted(by: { $0.key < $1.key }) {
                tree.add(rootFirst: rootFirst(stack), count: count)
            }
            var summary = RequestSummary(spans: [record])
            summary.time = time
            requestReports.append(ProfileReport(scope: .request(kept), metadata: metadata, requests: summary, tree: tree))
        }

        var requests = RequestSummary(spans: reportedSpans)
        if !timeByRoute.isEmpty {
            requests.time = timeByRoute.values.reduce(into: TimeBreakdown()) { $0.add($1) }
        }
        var session = ProfileReport(scope: .session, metadata: metadata, requests: requests, tree: sessionTree)
        session.keptRequests = requestReports.compactMap { if case .request(let kept) = $0.scope { kept } else { nil } }
        return Reports(session: session, routes: routeReports, requests: requestReports, framesByStack: framesByStack)
    }

    /// A stack's frames, outermost first, with `[kernel]` last when the sample was taken in the kernel.
    public static func rootFirstFrames(of stack: StackTable.Stack, symbolize: (StackTable.Stack) -> [Frame]) -> [Frame] {
        var frames = Array(symbolize(stack).reversed())
        if stack.inKernel { frames.append(.kernel) }
        return frames
    }

    /// Finished, reported spans that the keep policy keeps, in start order.
    private func keptSpanIndexes(isReported: [Bool]) -> [Int] {
        capture.spans.indices.filter { index in
            let span = capture.spans[index]
            guard let end = span.endNs, end >= span.beginNs, isReported[index] else { return false }
            return options.keepReason(wallNs: end - span.beginNs, status: span.status, spanId: span.spanId) != nil
        }.sorted { capture.spans[$0].beginNs < capture.spans[$1].beginNs }
    }

    /// Wall, CPU, off-CPU and suspended time of each finished request, by span index.
    ///
    /// A request's time on a thread is its run slices, or for a request without slices its begin thread
    /// from begin to end; the rest of its wall time is suspended. When the session recorded context
    /// switches, off CPU is exact: the overlap of the time on a thread with that thread's off-CPU intervals
    /// (blocked, sleeping, or preempted and waiting for a CPU), and CPU is the rest of the time on a thread.
    /// Samples only estimate CPU time, so the exact split replaces their figure, which can be a few periods
    /// above or below it. Without switch records (older captures), for a request that ended after the
    /// session began dropping them, or one that ran on a thread with no switch records (not covered by the
    /// sampler then), CPU is samples × period and off CPU the rest of the time on a thread.
    private func timeBreakdowns(samplesBySpan: [Int]) -> [Int: TimeBreakdown] {
        var slicesBySpan: [Int: [RunSliceRecord]] = [:]
        for slice in capture.slices where capture.spans.indices.contains(slice.span) && slice.endNs >= slice.beginNs {
            slicesBySpan[slice.span, default: []].append(slice)
        }
        let offCPUByThread = capture.switches.isEmpty ? nil : capture.offCPUIntervals()
        let switchesCompleteUntil = capture.switchesCompleteUntilNs ?? .max
        var result: [Int: TimeBreakdown] = [:]
        for (index, span) in capture.spans.enumerated() {
            guard let end = span.endNs, end >= span.beginNs else { continue }
            let wall = end - span.beginNs
            let windows = slicesBySpan[index].map { $0.map { (tid: $0.threadId, beginNs: $0.beginNs, endNs: $0.endNs) } }
                ?? [(tid: span.threadId, beginNs: span.beginNs, endNs: end)]
            let onThread = min(windows.reduce(0) { $0 + ($1.endNs - $1.beginNs) }, wall)
            var time = TimeBreakdown()
            if let offCPUByThread, end <= switchesCompleteUntil, windows.allSatisfy({ offCPUByThread[$0.tid] != nil }) {
                var offCPU: UInt64 = 0
                for window in windows {
                    offCPU += offCPUByThread[window.tid]?.overlap(beginNs: window.beginNs, endNs: window.endNs) ?? 0
                }
                offCPU = min(offCPU, onThread)
                time = TimeBreakdown(requests: 1, wallNs: wall, cpuNs: onThread - offCPU, offCPUNs: offCPU,
                                     suspendedNs: wall - onThread)
            } else {
                time.add(wallNs: wall, cpuNs: UInt64(samplesBySpan[index]) * metadata.periodNs, onThreadNs: onThread)
            }
            result[index] = time
        }
        return result
    }
}
