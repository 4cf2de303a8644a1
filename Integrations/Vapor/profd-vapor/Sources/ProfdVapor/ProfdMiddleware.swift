import ProfClient
import Vapor

/// Profiles every request that passes through it with profd: one span per request, named after the matched
/// route pattern (`GET /users/:id`), never after the raw URL, with the response's HTTP status.
///
/// Add it as the **last** global middleware, after Vapor's `ErrorMiddleware` and any other:
///
/// ```swift
/// app.middleware.use(ProfdMiddleware(profiler: profiler))
/// ```
///
/// Why last:
/// - profd attributes a request's CPU samples job by job, on the threads of the client's attribution pool
///   (`ProfClient.profileRequest`). Only work that runs inside this middleware's task is on that pool. Vapor
///   calls each further middleware and an `async` route handler through an `EventLoopFuture`, that is in a new
///   unstructured `Task`, which does not inherit the pool. When this middleware is the innermost one and the
///   route has no route-group middleware, its next responder is the route's own `AsyncResponder`, and this
///   middleware awaits the `async` handler directly, in its own task: the handler's samples are the request's.
///   Otherwise the request is still counted, timed and named, but its handler's samples are not attributed.
/// - Behind `ErrorMiddleware`, a thrown error reaches this middleware as an error, so the status it records is
///   the one `ErrorMiddleware` will send: `AbortError.status`, else 500.
///
/// A synchronous route handler (`(Request) throws -> T`) usually runs on the connection's event loop, outside
/// any task: Vapor first collects the request body there, even an empty one. Its samples are then not
/// attributed; write handlers as `async` closures.
///
/// The route: Vapor's `DefaultResponder` matches the route and sets `request.route` before it runs the global
/// middleware (they are chained per route), so the pattern is known before the handler runs. A request that
/// matched no route (Vapor answers 404) is named `"<METHOD> (unmatched)"` rather than by its path, so that a
/// scan of random URLs cannot create one report per URL.
public struct ProfdMiddleware: AsyncMiddleware {
    /// The report name of requests that matched no route (after the method: `GET (unmatched)`).
    public static let unmatchedRoute = ProfClient.unmatchedRoute

    public let profiler: ProfClient

    public init(profiler: ProfClient) {
        self.profiler = profiler
    }

    public func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        try await profiler.profileRequest(method: request.method.rawValue, path: request.url.path) { span in
            span.route = Self.routePattern(of: request)
            do {
                let response = try await next.respond(to: request)
                span.status = Int(response.status.code)
                return response
            } catch {
                span.status = Self.status(of: error)
                throw error
            }
        }
    }

    /// Replaces `AsyncMiddleware`'s bridge so that an `async` route handler right behind this middleware runs
    /// in this middleware's task (see the type's documentation).
    ///
    /// `AsyncMiddleware` would wrap `next` in `next.respond(to:).get()`. When `next` is itself an
    /// `AsyncResponder` (the route's responder for an `async` handler), its future-returning `respond(to:)`
    /// only starts a new `Task` that awaits the same `async` method, so awaiting that method directly gives
    /// the same result, while keeping the handler on the profiled task.
    public func respond(to request: Request, chainingTo next: any Responder) -> EventLoopFuture<Response> {
        let promise = request.eventLoop.makePromise(of: Response.self)
        promise.completeWithTask {
            let asyncNext: any AsyncResponder = (next as? any AsyncResponder)
                ?? AsyncBasicResponder { request in try await next.respond(to: request).get() }
            return try await self.respond(to: request, chainingTo: asyncNext)
        }
        return promise.futureResult
    }

    /// The matched route's pattern with a leading slash (`/users/:id`, `/files/**`, `/` for the root), or
    /// `unmatchedRoute` when no route matched.
    ///
    /// Parameters render as `:name`, `*` and `**` (RoutingKit's `PathComponent.description`). Empty constant
    /// components are left out, as Vapor's router leaves them out when it registers the route.
    public static func routePattern(of request: Request) -> String {
        guard let route = request.route else { return unmatchedRoute }
        return routePattern(route.path)
    }

    /// `/` followed by the components joined with `/`, leaving out empty constants.
    public static func routePattern(_ path: [PathComponent]) -> String {
        let components = path.filter { component in
            if case .constant(let text) = component { return !text.isEmpty }
            return true
        }
        return "/" + components.map(\.description).joined(separator: "/")
    }

    /// The status Vapor's `ErrorMiddleware` answers for `error`: `AbortError.status`, else 500.
    public static func status(of error: any Error) -> Int {
        if let abort = error as? any AbortError { return Int(abort.status.code) }
        return 500
    }
}
