import ProfClient
import Tracing

/// A swift-distributed-tracing `Tracer` that profiles every server span with profd.
///
/// ```swift
/// let profiler = ProfClient(configuration: .init(service: "my-api"))
/// profiler.start()
/// InstrumentationSystem.bootstrap(ProfdTracer(profiler))
/// // Every span of kind `.server` that an instrumented framework starts (Hummingbird's
/// // `TracingMiddleware`, for one) is now a profiled request, reported per route.
/// ```
///
/// ## What is profiled
///
/// Only spans of kind `.server` are: one server span is one request. `startSpan` calls
/// `ProfClient.beginSpan` on the calling thread and `Span.end()` calls `ProfClient.endSpan` on the thread
/// that ends it; any other kind gets a span that records nothing and costs no more than a
/// `NoOpTracer` span. The report's route is decided when the span ends (see ``ProfdSpan``), so a framework
/// that learns the matched route only after routing, as Hummingbird does, still gets one report per route
/// pattern (`GET /users/:id`), never one per path (`GET /users/42`).
///
/// ## How precise it is
///
/// A tracer only sees a span begin and end: `startSpan` is synchronous and cannot run the request's body
/// on ProfClient's attribution pool. So a tracer span is attributed the plain way: every sample taken on
/// the thread that began the span, between its begin and its end, belongs to it. That is exact for a
/// handler that runs on one thread without suspending. An async handler that suspends may resume on
/// another thread (whose samples the span then misses), and while it is suspended its begin thread may run
/// other requests' work (which the span then takes). Under concurrent load of suspending handlers the
/// per-route trees therefore blur into each other; the request counts, statuses and wall times stay exact.
///
/// Where a framework integration that wraps the request with `ProfClient.profileRequest(method:path:_:)`
/// exists (a middleware), prefer it: it moves the request onto ProfClient's attribution pool and profd then
/// attributes every sample to the request whose job was running, however often it suspends. Use the
/// tracer for everything else: any framework or library that starts server spans through
/// swift-distributed-tracing, with no profd-specific code.
///
/// ## Limits
///
/// - It is not a propagating tracer: `inject` and `extract` do nothing, and ``ProfdSpan/context`` is the
///   context the span was started with. It does not export spans anywhere either.
/// - `InstrumentationSystem` holds one tracer. `MultiplexInstrument` can hold several instruments, but in
///   swift-distributed-tracing 1.x `InstrumentationSystem.tracer` is only the *first* `Tracer` inside it: a
///   `MultiplexInstrument` of ``ProfdTracer`` and another tracer (OpenTelemetry, say) starts every span
///   with whichever comes first and never with the other. So this tracer replaces an exporting tracer
///   rather than running beside it.
/// - `ProfClient.Configuration.sampledPercentage` is applied by `profileRequest` only: the tracer profiles
///   every server span while profiling is on. `includedRoutes` and `excludedRoutes` apply (profd applies
///   them to the final route name).
/// - The instants passed to `startSpan(at:)` and `end(at:)` are ignored: profd needs the monotonic time
///   at which the calling thread began and ended the request, so ProfClient reads the clock itself.
public struct ProfdTracer: Tracer {
    public typealias Span = ProfdSpan

    /// How a route pattern's parameters are written in report names.
    public enum RouteParameterStyle: Sendable, Hashable {
        /// A whole-segment capture `{id}` becomes `:id`: Hummingbird reports `/users/{id}` for a route
        /// registered as `/users/:id`, and `:id` is how profd's reports, ProfClient and ProfdHummingbird name
        /// routes (so switching between this tracer and that middleware keeps the report names). Other forms
        /// (`{name}.jpg`, `*`) stay as reported.
        case colon
        /// The route exactly as the framework reported it.
        case asReported
    }

    /// The client that records the spans; profiling is started and stopped on it, not on the tracer.
    public let profiler: ProfClient
    /// How route parameters are written in report names.
    public let routeParameterStyle: RouteParameterStyle

    /// A tracer that profiles the server spans through `profiler`.
    public init(_ profiler: ProfClient, routeParameterStyle: RouteParameterStyle = .colon) {
        self.profiler = profiler
        self.routeParameterStyle = routeParameterStyle
    }

    /// Starts a span. A `.server` span begins a profiled request on the calling thread (when profiling is
    /// on and ProfClient's buffer has room); any other span records nothing.
    public func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> ProfdSpan {
        let context = context()
        // Not a request, or not one of the `sampledPercentage` share: a span that records nothing.
        guard kind == .server, profiler.picksNextRequest() else {
            return ProfdSpan(operationName: operationName, context: context, request: nil)
        }
        // The begin route is a stand-in: the span's end always names the route.
        let span = profiler.beginSpan(route: operationName)
        guard span.isRecorded else {
            return ProfdSpan(operationName: operationName, context: context, request: nil)
        }
        let request = ProfdSpan.Request(profiler: profiler, span: span, operationName: operationName,
                                        routeParameterStyle: routeParameterStyle)
        return ProfdSpan(operationName: operationName, context: context, request: request)
    }

    /// Does nothing: ProfClient sends its buffer to profd on its own every `flushInterval`, and
    /// `ProfClient.stop()` flushes before it stops the session.
    public func forceFlush() {}

    /// Does nothing: the tracer propagates no context.
    public func inject<Carrier, Inject>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject: Injector, Carrier == Inject.Carrier {}

    /// Does nothing: the tracer propagates no context.
    public func extract<Carrier, Extract>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract: Extractor, Carrier == Extract.Carrier {}
}
