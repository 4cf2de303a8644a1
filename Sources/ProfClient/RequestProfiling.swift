#if canImport(Glibc)
import Glibc
#endif
import ProfdProtocol
import Synchronization

extension ProfClient {
    /// What a framework integration learns about one request while it runs.
    ///
    /// `profileRequest` hands it to the body; the integration fills in the matched route pattern and the
    /// status as soon as it knows them (for Hummingbird, only after the router has run). It belongs to the
    /// one task that runs the request.
    public final class RequestSpan: @unchecked Sendable {
        /// The matched route pattern (`/users/:id`), once known. The report is named after it; until it is
        /// set, the raw path stands in.
        public var route: String?
        /// The HTTP status, once known. nil at the end means 200, or 500 if the body threw.
        public var status: Int?
        /// Whether this request is being profiled (profiling on, picked by `sampledPercentage`).
        public let isProfiled: Bool

        init(isProfiled: Bool) {
            self.isProfiled = isProfiled
        }
    }

    /// Profiles one request: the entry point for middleware and tracers.
    ///
    /// The request is picked by `Configuration.sampledPercentage` (a deterministic share, not a random draw,
    /// so 10% is exactly every tenth request). A picked request runs on the client's attribution pool
    /// (`Configuration.executorThreads`), so its samples are attributed job by job however often it
    /// suspends; a request not picked runs as if profd were absent, at the cost of one atomic increment.
    ///
    /// The report's route is `"<method> <span.route ?? path>"`. Route allow and deny lists
    /// (`includedRoutes`, `excludedRoutes`) are applied by the daemon to that final name, because
    /// frameworks such as Hummingbird know the route pattern only after the handler ran.
    public func profileRequest<T>(
        method: String,
        path: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RequestSpan) async throws -> T
    ) async rethrows -> T {
        guard core.profiling.load(ordering: .relaxed), core.picksNextRequest() else {
            return try await body(RequestSpan(isProfiled: false))
        }
        let request = RequestSpan(isProfiled: true)
        // The clock is read for the printed line only, not on every request.
        let began = core.configuration.printEachRequest ? ContinuousClock.now : nil
        let beginRoute = Self.routeName(method: method, route: path)
        do {
            let result = try await withSpan(route: beginRoute, on: attributionPool, status: { _ in request.status ?? 200 }, isolation: isolation) {
                try await body(request)
            } failureStatus: {
                request.status ?? 500
            } endRoute: {
                request.route.map { Self.routeName(method: method, route: $0) }
            }
            report(request, method: method, path: path, began: began, failed: false)
            return result
        } catch {
            report(request, method: method, path: path, began: began, failed: true)
            throw error
        }
    }

    /// Whether to profile the next request: true while profiling for exactly `sampledPercentage` percent of
    /// calls, spread evenly. `profileRequest` calls it; integrations that begin spans themselves (the
    /// tracer) call it once per request.
    public func picksNextRequest() -> Bool {
        core.profiling.load(ordering: .relaxed) && core.picksNextRequest()
    }

    /// The route name of requests that matched no route (404s), shared by every integration so that an app
    /// keeps its report names when it moves between them; never the raw URL, which would give every
    /// scanner's probe a report of its own.
    public static let unmatchedRoute = "(unmatched)"

    /// `"GET /users/:id"`: the name a request's route report gets.
    public static func routeName(method: String, route: String) -> String {
        method.isEmpty ? route : "\(method) \(route)"
    }

    /// Prints one line per request to standard error when `printEachRequest` is set, skipping the routes
    /// the session's route filters leave out of the reports.
    private func report(_ request: RequestSpan, method: String, path: String, began: ContinuousClock.Instant?, failed: Bool) {
        let configuration = core.configuration
        guard let began else { return }
        let elapsed = ContinuousClock.now - began
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let status = request.status ?? (failed ? 500 : 200)
        let route = Self.routeName(method: method, route: request.route ?? path)
        guard RoutePattern.selects(route, included: configuration.includedRoutes, excluded: configuration.excludedRoutes) else { return }
        let line = "profd: \(TerminalSafe.string(route)) \(status) \(Self.formatMs(ms)) ms (\(TerminalSafe.string(path)))\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// `TerminalSafe.string(_:)`, as the printed line uses it, for tests.
    public static func printableForTests(_ text: String) -> String { TerminalSafe.string(text) }

    static func formatMs(_ ms: Double) -> String {
        let tenths = Int((ms * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

}

extension ClientCore {
    /// Whether the next request is profiled: exactly `sampledPercentage` percent of requests, spread evenly.
    func picksNextRequest() -> Bool {
        let percentage = configuration.sampledPercentage
        if percentage >= 100 { return true }
        if percentage <= 0 { return false }
        let n = Double(requestCounter.wrappingAdd(1, ordering: .relaxed).newValue)
        return (n * percentage / 100).rounded(.down) != ((n - 1) * percentage / 100).rounded(.down)
    }
}
