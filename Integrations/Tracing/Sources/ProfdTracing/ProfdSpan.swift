import ProfClient
import Synchronization
import Tracing

/// A span started by ``ProfdTracer``: a profiled request if it is a recording server span, else nothing.
///
/// It is a value that shares its state: copies are the same span, and every member may be called from any
/// thread (a lock guards the state).
///
/// When a recording span ends, the request's report is named from what the span holds then:
/// 1. the `http.route` attribute (OpenTelemetry's matched route pattern, `/users/{id}`), preceded by the
///    `http.request.method` attribute (or the older `http.method`): `GET /users/:id`. Hummingbird's
///    `NotFound` (no route matched) becomes `GET (unmatched)`: one report for every unmatched URL;
/// 2. else the operation name (Hummingbird's `TracingMiddleware` renames its span to the matched route),
///    preceded by the method when the name is a path (starts with `/`);
/// and its status is the `http.response.status_code` attribute (or the older `http.status_code`), else 500
/// if the span's status was set to `.error`, else 0 (unknown).
///
/// Events, links and recorded errors are not kept: profd has nowhere to show them. A recording span that is
/// never ended is ended when its last copy is released, so it cannot hold its thread in the profile for the
/// rest of the session.
public struct ProfdSpan: Tracing.Span {
    /// The context the span was started with; the tracer adds nothing to it.
    public let context: ServiceContext
    private let initialOperationName: String
    /// The request being profiled; nil for a span that records nothing.
    let request: Request?

    init(operationName: String, context: ServiceContext, request: Request?) {
        self.initialOperationName = operationName
        self.context = context
        self.request = request
    }

    /// The operation name; for a server span, the route of last resort (see above).
    public var operationName: String {
        get { request?.state.withLock { $0.operationName } ?? initialOperationName }
        nonmutating set { request?.state.withLock { $0.operationName = newValue } }
    }

    /// The span's attributes; a span that records nothing keeps none.
    public var attributes: SpanAttributes {
        get { request?.state.withLock { $0.attributes } ?? [:] }
        nonmutating set { request?.state.withLock { $0.attributes = newValue } }
    }

    /// True for a server span that is being profiled and has not ended.
    public var isRecording: Bool {
        request?.state.withLock { !$0.ended } ?? false
    }

    /// Kept: a status of `.error` makes the request's status 500 when no HTTP status attribute is set.
    public func setStatus(_ status: SpanStatus) {
        request?.state.withLock { $0.isError = status.code == .error }
    }

    /// Ignored.
    public func addEvent(_ event: SpanEvent) {}

    /// Ignored (the status is what counts: frameworks call `setStatus(.init(code: .error))` alongside).
    public func recordError<Instant: TracerInstant>(_ error: Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {}

    /// Ignored.
    public func addLink(_ link: SpanLink) {}

    /// Ends the request on the calling thread, naming its route and status from the span (see above). Only
    /// the first call counts. `instant` is ignored: ProfClient reads the monotonic clock itself.
    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        request?.end()
    }
}

extension ProfdSpan {
    /// The shared state of a recording server span.
    final class Request: Sendable {
        struct State {
            var operationName: String
            var attributes: SpanAttributes = [:]
            var isError = false
            var ended = false
        }

        let profiler: ProfClient
        let span: ProfClient.Span
        let routeParameterStyle: ProfdTracer.RouteParameterStyle
        let state: Mutex<State>

        init(profiler: ProfClient, span: ProfClient.Span, operationName: String,
             routeParameterStyle: ProfdTracer.RouteParameterStyle) {
            self.profiler = profiler
            self.span = span
            self.routeParameterStyle = routeParameterStyle
            self.state = Mutex(State(operationName: operationName))
        }

        /// Ends the ProfClient span once, outside the lock.
        func end() {
            let ending = state.withLock { state -> State? in
                guard !state.ended else { return nil }
                state.ended = true
                return state
            }
            guard let ending else { return }
            let route = RouteNaming.route(operationName: ending.operationName, attributes: ending.attributes,
                                          style: routeParameterStyle)
            let status = RouteNaming.status(attributes: ending.attributes, isError: ending.isError)
            profiler.endSpan(span, status: status, route: route)
        }

        deinit { end() }
    }
}
