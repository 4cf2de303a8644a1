import Dispatch
import ProfClient
import Vapor

/// Starts a profd session when the application boots and stops it when the application shuts down.
///
/// ```swift
/// app.lifecycle.use(ProfdLifecycle(profiler: profiler))
/// ```
///
/// It prints nothing: `onStop` receives what `ProfClient.stop()` returned (where profd wrote the reports, or
/// nil when there was no session or no daemon), for the app to log as it likes.
///
/// The session starts in `willBoot`, before the server binds, so the first request is profiled. `start()` never
/// blocks and connects in the background; with no daemon running, spans are dropped and counted, and the app
/// runs as usual. The session stops in `shutdown`, where `stop()` waits (at most `stopTimeout`) until profd has
/// written the reports. Vapor runs lifecycle handlers' shutdown *before* it shuts down its storage, and with it
/// the HTTP server that `serve` started: a request still running at that moment ends after the session and is
/// reported as unfinished. Where that matters, shut the server down first (`await app.server.shutdown()`).
/// The profiler itself is not shut down: the app owns it.
public struct ProfdLifecycle: LifecycleHandler {
    public let profiler: ProfClient
    public let stopTimeout: Duration
    public let onStop: @Sendable (ProfClient.StopResult?) -> Void

    public init(
        profiler: ProfClient,
        stopTimeout: Duration = .seconds(30),
        onStop: @escaping @Sendable (ProfClient.StopResult?) -> Void = { _ in }
    ) {
        self.profiler = profiler
        self.stopTimeout = stopTimeout
        self.onStop = onStop
    }

    public func willBoot(_ application: Application) throws {
        profiler.start()
    }

    /// Called by the blocking `Application.shutdown()`.
    public func shutdown(_ application: Application) {
        onStop(profiler.stop(timeout: stopTimeout))
    }

    /// Called by `Application.asyncShutdown()`. `stop()` blocks its thread while profd writes the reports, so it
    /// runs on a Dispatch thread rather than holding one of the few threads of Swift's cooperative pool.
    public func shutdownAsync(_ application: Application) async {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<ProfClient.StopResult?, Never>) in
            DispatchQueue.global().async { [profiler, stopTimeout] in
                continuation.resume(returning: profiler.stop(timeout: stopTimeout))
            }
        }
        onStop(result)
    }
}

extension Application {
    /// Profiles the application with profd: adds `ProfdMiddleware` as the last global middleware (call it after
    /// adding your other middleware, see `ProfdMiddleware`) and `ProfdLifecycle`, which starts the session on
    /// boot and stops it on shutdown.
    public func useProfd(
        _ profiler: ProfClient,
        onStop: @escaping @Sendable (ProfClient.StopResult?) -> Void = { _ in }
    ) {
        middleware.use(ProfdMiddleware(profiler: profiler))
        lifecycle.use(ProfdLifecycle(profiler: profiler, onStop: onStop))
    }
}
