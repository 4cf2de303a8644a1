#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim
import ProfdProtocol
import Synchronization

/// The profd client linked into a web service: marks request spans and starts and stops profiling sessions.
///
/// It never blocks or crashes the app. `beginSpan`/`endSpan` only append to a bounded in-memory buffer; one
/// background thread writes it to the daemon's socket every `flushInterval`, without blocking. When the daemon
/// is absent, gone or not reading, spans are dropped and counted in `statistics`. The client reconnects at
/// most once per `reconnectInterval` and, if profiling was started, starts the session again.
public final class ProfClient: Sendable {
    let core: ClientCore
    private let thread: Mutex<pthread_t?>
    private let pool = Mutex<TaskExecutorPool?>(nil)

    /// The pool that runs profiled requests' async work; started on first use.
    var attributionPool: TaskExecutorPool {
        guard let threads = core.configuration.executorThreads else { return .globalExecutor }
        return pool.withLock { pool in
            if let pool { return pool }
            let created = TaskExecutorPool(threads: threads)
            pool = created
            return created
        }
    }

    /// Creates the client and its flusher thread. Connects only once `start()` is called.
    public init(configuration: Configuration) {
        core = ClientCore(configuration: configuration)
        let spawned = Flusher.spawnThread(core: core)
        if spawned == nil {
            core.state.withLock { $0.statistics.lastError = "could not create the flusher thread; spans are dropped" }
        }
        thread = Mutex(spawned)
    }

    deinit { shutdown() }

    /// Starts profiling: spans are recorded from now on. Never blocks.
    ///
    /// The flusher connects (if needed) and sends `hello` and `startSession`. `frequencyHz` is clamped into
    /// 1...10_000 (default: `Configuration.frequencyHz`). Does nothing while already started or after `shutdown()`.
    public func start(frequencyHz: Int? = nil) {
        let frequencyHz = frequencyHz ?? core.configuration.frequencyHz
        let range = StartSession.frequencyRange
        let frequency = UInt32(clamping: min(max(frequencyHz, Int(range.lowerBound)), Int(range.upperBound)))
        let started = core.state.withLock { state -> Bool in
            guard !state.profiling, !state.shuttingDown else { return false }
            state.profiling = true
            state.items.append(.start(frequencyHz: frequency))
            return true
        }
        guard started else { return }
        core.profiling.store(true, ordering: .releasing)
        core.wakeup.signal()
    }

    /// Stops profiling and waits for the daemon's report, blocking only the calling thread.
    ///
    /// Spans buffered so far are flushed, then `stopSession` is sent. Returns what the daemon answered in
    /// `sessionStopped`, or nil if profiling was not started, there is no connection, the connection is lost,
    /// the daemon replies with an error, or `timeout` passes. Spans are not recorded after it is called.
    @discardableResult
    public func stop(timeout: Duration = .seconds(30)) -> StopResult? {
        let request = StopRequest()
        let stopping = core.state.withLock { state -> Bool in
            guard state.profiling else { return false }
            state.profiling = false
            state.items.append(.stop(request))
            return true
        }
        guard stopping else { return nil }
        core.profiling.store(false, ordering: .releasing)
        guard thread.withLock({ $0 != nil }) else { return nil }
        core.wakeup.signal()
        guard case .stopped(let result) = request.wait(timeoutNs: timeout.clampedNanoseconds) else { return nil }
        return result
    }

    /// Marks the start of a request on the calling thread. Never blocks and makes no system call
    /// (after a thread's first span).
    ///
    /// Returns a span that is not recorded (`isRecorded == false`) when profiling is off or the buffer is full.
    public func beginSpan(route: String) -> Span {
        guard core.profiling.load(ordering: .relaxed) else {
            core.notRecorded.add(1, ordering: .relaxed)
            return Span(id: 0, route: route, beginThreadId: 0, beginTimeNs: 0, isRecorded: false)
        }
        let threadId = ThreadID.current
        let time = profd_monotonic_ns()
        let id = core.nextSpanId.wrappingAdd(1, ordering: .relaxed).oldValue
        let capacity = core.configuration.bufferCapacity
        let recorded = core.state.withLock { state -> Bool? in
            guard state.profiling else { return nil }
            guard state.spanMessages < capacity else {
                state.statistics.spansDropped += 1
                state.statistics.messagesDropped += 1
                return false
            }
            state.items.append(.begin(SpanBegin(spanId: id, threadId: threadId, timeNs: time, route: route)))
            state.spanMessages += 1
            state.statistics.spansRecorded += 1
            return true
        }
        guard let recorded else {
            core.notRecorded.add(1, ordering: .relaxed)
            return Span(id: 0, route: route, beginThreadId: 0, beginTimeNs: 0, isRecorded: false)
        }
        return Span(id: id, route: route, beginThreadId: threadId, beginTimeNs: time, isRecorded: recorded)
    }

    /// Marks the end of `span` on the calling thread (which may differ from the begin thread).
    ///
    /// `status` is the HTTP status (0 = unknown; clamped into 0...65535). `route` replaces the begin route
    /// when the matched route is known only now; nil keeps it. Does nothing for a span that was not recorded.
    public func endSpan(_ span: Span, status: Int = 0, route: String? = nil) {
        guard span.isRecorded else { return }
        let threadId = ThreadID.current
        let time = profd_monotonic_ns()
        let end = SpanEnd(spanId: span.id, threadId: threadId, timeNs: time,
                          httpStatus: UInt16(clamping: status), route: route ?? "")
        let capacity = core.configuration.bufferCapacity
        core.state.withLock { state in
            guard state.spanMessages < capacity else {
                state.statistics.spansDropped += 1
                state.statistics.messagesDropped += 1
                return
            }
            state.items.append(.end(end))
            state.spanMessages += 1
        }
    }

    /// Runs `body` inside a span. The status is `status(result)` (200 by default), or 500 if `body` throws.
    ///
    /// The end is recorded on the thread that resumes after `body`, which may differ from the begin thread.
    public func withSpan<T>(
        route: String,
        status: (T) -> Int = { _ in 200 },
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async rethrows -> T {
        let span = beginSpan(route: route)
        do {
            let result = try await body()
            endSpan(span, status: status(result))
            return result
        } catch {
            endSpan(span, status: 500)
            throw error
        }
    }

    /// Runs `body` inside a span. The status is `status(result)` (200 by default), or 500 if `body` throws.
    public func withSpan<T>(route: String, status: (T) -> Int = { _ in 200 }, _ body: () throws -> T) rethrows -> T {
        let span = beginSpan(route: route)
        do {
            let result = try body()
            endSpan(span, status: status(result))
            return result
        } catch {
            endSpan(span, status: 500)
            throw error
        }
    }

    /// A snapshot of the client's counters and connection state.
    public var statistics: Statistics {
        var statistics = core.state.withLock { $0.statistics }
        statistics.spansNotRecorded = core.notRecorded.load(ordering: .relaxed)
        return statistics
    }

    /// Stops profiling and the flusher thread after one last non-blocking flush, and closes the connection.
    ///
    /// Idempotent; `deinit` calls it. A `stop()` waiting at that moment returns nil. Blocks until the flusher
    /// thread has exited (at most one flush).
    public func shutdown() {
        core.state.withLock {
            $0.shuttingDown = true
            $0.profiling = false
        }
        core.profiling.store(false, ordering: .releasing)
        core.wakeup.signal()
        if let thread = thread.withLock({ $0.take() }) {
            pthread_join(thread, nil)
        }
    }
}
