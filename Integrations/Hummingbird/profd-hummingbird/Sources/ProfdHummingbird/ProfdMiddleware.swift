import Hummingbird
import ProfClient

/// Profiles every request that passes through it with profd, one report per route.
///
/// ```swift
/// let profiler = ProfClient(configuration: .init(service: "my-api"))
/// profiler.start()
/// let router = Router()
/// router.add(middleware: ProfdMiddleware(profiler: profiler))   // before the routes
/// router.get("/users/:id") { request, context in ... }
/// ```
///
/// Each request is handed to `ProfClient.profileRequest`, which picks it by `sampledPercentage` and runs it
/// on the client's attribution pool, so its samples are attributed to it however often the handler suspends.
/// The report is named `"<method> <route pattern>"`, for example `"GET /users/:id"`, never after the raw URL:
/// one report per route, not one per user id.
///
/// Where the route comes from: Hummingbird stores the matched pattern in `context.endpointPath`, and only
/// the router sets it. With `Router` that happens before the endpoint's middleware chain runs, with
/// `RouterBuilder` (HummingbirdRouter) while `next` runs, so this middleware reads it after `next` has
/// returned or thrown, which is right for both.
///
/// Things to know:
/// - `Router` applies a middleware only to routes added *after* it, so add this one first.
/// - Hummingbird writes captures as `{id}` whatever the route was written with; whole-segment captures are
///   shown as `:id`, the way routes are usually written (`/users/{id}` and `/users/:id` are the same route
///   to Hummingbird). Other forms (`{name}.jpg`, `*`, `**`) are kept as Hummingbird spells them.
/// - A request that no route matched is named `unmatchedRoute` (`"GET (unmatched)"`): naming it after the
///   raw path would give every mistyped or scanned URL a report of its own.
/// - The status is the response's, or for a thrown error its `HTTPResponseError.status`, else 500, as
///   Hummingbird would answer.
/// - The span ends when the handler returns its `Response`. A streamed body is written after that and is not
///   part of the request's profile.
/// - `excludedRoutes`/`includedRoutes` in `ProfClient.Configuration` match these final names
///   (`"GET /health"`), because the route is known only after the handler ran.
public struct ProfdMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The route name of requests that matched no route (Hummingbird's `NotFound`).
    public static var unmatchedRoute: String { ProfClient.unmatchedRoute }

    /// The client that the requests are reported to.
    public let profiler: ProfClient

    /// A middleware reporting to `profiler`. Start the profiler (`profiler.start()`) for requests to be
    /// profiled; until then, and after `stop()`, requests pass through at the cost of one atomic load.
    public init(profiler: ProfClient) {
        self.profiler = profiler
    }

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await profiler.profileRequest(method: request.method.rawValue, path: request.uri.path) { span in
            do {
                let response = try await next(request, context)
                span.route = Self.route(endpointPath: context.endpointPath)
                span.status = Int(response.status.code)
                return response
            } catch {
                span.route = Self.route(endpointPath: context.endpointPath)
                span.status = Int((error as? any HTTPResponseError)?.status.code ?? 500)
                throw error
            }
        }
    }

    /// The route a report is named after, from Hummingbird's `endpointPath`.
    ///
    /// nil (no router ran, or a middleware answered) and Hummingbird's `NotFound` become `unmatchedRoute`.
    /// Other values that are not paths are Hummingbird's own markers (`FileMiddleware` for files it served)
    /// and are shown in parentheses, so they cannot be mistaken for a route. Whole-segment captures
    /// (`{id}`) become `:id`.
    public static func route(endpointPath: String?) -> String {
        guard let endpointPath, endpointPath != "NotFound" else { return unmatchedRoute }
        guard endpointPath.hasPrefix("/") else { return "(\(endpointPath))" }
        // Runs once per profiled request: routes without captures cost no allocation.
        guard endpointPath.utf8.contains(UInt8(ascii: "{")) else { return endpointPath }
        let segments = endpointPath.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            guard segment.count > 2, segment.first == "{", segment.last == "}" else { return String(segment) }
            let name = segment.dropFirst().dropLast()
            guard !name.contains("{"), !name.contains("}") else { return String(segment) }
            return ":" + name
        }
        return segments.joined(separator: "/")
    }
}
