#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim
import Dispatch
import ProfdProtocol

extension ProfClient {
    /// Where requests' async work runs, so that ProfClient can tell profd which request each piece of work
    /// belongs to.
    ///
    /// An async handler suspends at every `await` and may resume on another thread, and one thread runs
    /// many requests in turn, so a request's begin and end say little about which samples are its own.
    /// `withSpan(route:on:)` runs the handler with a task executor preference (SE-0417) for this pool:
    /// every job of the request's task, and of its child tasks, is stamped with its start and end and the
    /// thread it ran on. The stamps go to profd in batches (`runSlices`) through the client's buffer, so a
    /// job costs two clock reads and one buffer append, and no system call.
    public final class TaskExecutorPool: Sendable {
        private enum Backend: Sendable {
            case threads(JobQueue)
            case globalExecutor
        }

        private let backend: Backend
        /// Dedicated threads; 0 for `globalExecutor`, which uses the global executor's threads.
        public let threadCount: Int

        /// Runs the jobs on the threads of Swift's global concurrent executor (libdispatch's pool), each
        /// wrapped in its stamps. Nothing moves to another thread pool, so entering it costs about a
        /// microsecond instead of a thread wake-up; this is what `profileRequest` uses by default.
        public static let globalExecutor = TaskExecutorPool()

        private init() {
            backend = .globalExecutor
            threadCount = 0
        }

        /// Starts `threads` dedicated threads (at least 1), named `profd-pool`: for tests and for apps that
        /// want profiled requests kept off the global executor.
        public init(threads: Int) {
            threadCount = max(1, threads)
            let queue = JobQueue()
            backend = .threads(queue)
            for _ in 0..<threadCount { queue.spawnWorker() }
        }

        deinit {
            if case .threads(let queue) = backend { queue.close() }
        }

        func submit(_ work: JobQueue.Work) {
            switch backend {
            case .threads(let queue):
                queue.push(work)
            case .globalExecutor:
                DispatchQueue.global().async { JobQueue.run(work, slot: WorkerSlot.currentOrInstalled()) }
            }
        }
    }

    /// Runs `body` inside a span whose async work runs on `pool` and is attributed job by job.
    ///
    /// Samples taken while the request's task (or a child task) runs a job belong to this request, whatever
    /// thread it runs on; samples of work the pool's threads do for no request stay `(unattributed)`. The
    /// status is `status(result)` (200 by default), or 500 if `body` throws.
    public func withSpan<T>(
        route: String,
        on pool: TaskExecutorPool,
        status: (T) -> Int = { _ in 200 },
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async rethrows -> T {
        try await withSpan(route: route, on: pool, status: status, isolation: isolation, body, failureStatus: { 500 }, endRoute: { nil })
    }

    /// `withSpan(route:on:status:_:)`, ending with `failureStatus()` if `body` throws, and with the route replaced
    /// at the end by `endRoute()` unless it is nil.
    func withSpan<T>(
        route: String,
        on pool: TaskExecutorPool,
        status: (T) -> Int,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T,
        failureStatus: () -> Int,
        endRoute: () -> String?
    ) async rethrows -> T {
        let span = beginSpan(route: route)
        guard span.isRecorded else { return try await body() }
        let executor = SpanTaskExecutor(pool: pool, spanId: span.id, core: core)
        do {
            let result = try await withTaskExecutorPreference(executor, isolation: isolation) {
                // Close the running job's slice here, on the pool thread, before `endSpan`: the job goes on
                // (the task hops back to its caller's executor), but that part is not the request's, and a
                // slice recorded after the span's end could miss a `stop()` that follows it.
                defer { executor.cutSlice() }
                return try await body()
            }
            endSpan(span, status: status(result), route: endRoute())
            return result
        } catch {
            endSpan(span, status: failureStatus(), route: endRoute())
            throw error
        }
    }
}

extension ProfClient {
    /// The bookkeeping of one job of `span`, without running anything: the two clock reads and the slice a
    /// pool thread records around each job. For `profd-client-bench` only.
    @_spi(Benchmarks)
    public func recordJobForBenchmark(of span: Span) {
        let begin = profd_monotonic_ns()
        let executor = SpanTaskExecutor(pool: attributionPool, spanId: span.id, core: core)
        executor.recordSlice(threadId: ThreadID.current, beginNs: begin, endNs: profd_monotonic_ns())
    }
}

/// The task executor of one request: runs its jobs on the pool and records each job as a run slice.
final class SpanTaskExecutor: TaskExecutor {
    let pool: ProfClient.TaskExecutorPool
    let spanId: UInt64
    let core: ClientCore

    init(pool: ProfClient.TaskExecutorPool, spanId: UInt64, core: ClientCore) {
        self.pool = pool
        self.spanId = spanId
        self.core = core
    }

    func enqueue(_ job: consuming ExecutorJob) {
        pool.submit(JobQueue.Work(job: UnownedJob(job), executor: self))
    }

    /// Ends the current job's slice now, if the calling thread is a pool thread running a job of this span.
    func cutSlice() {
        guard let slot = WorkerSlot.current, slot.executor === self else { return }
        recordSlice(threadId: slot.threadId, beginNs: slot.beginNs, endNs: profd_monotonic_ns())
        slot.executor = nil
    }

    /// Records that this span's job ran on the calling thread from `beginNs` to `endNs`.
    func recordSlice(threadId: UInt32, beginNs: UInt64, endNs: UInt64) {
        let capacity = core.configuration.bufferCapacity
        core.state.withLock { state in
            guard state.profiling, state.spanMessages < capacity else { return }
            state.items.append(.slice(RunSlice(spanId: spanId, threadId: threadId, beginNs: beginNs, endNs: endNs)))
            state.spanMessages += 1
        }
    }
}

/// A FIFO of jobs served by the pool's threads.
final class JobQueue: Sendable {
    struct Work: @unchecked Sendable {  // an UnownedJob is run exactly once, by the thread that pops it
        var job: UnownedJob
        var executor: SpanTaskExecutor
    }

    private struct State {
        var pending: [Work] = []
        var head = 0
        var closed = false
        /// Workers blocked in `wait`: a push wakes one only if some are, so a busy pool makes no futex call.
        var idle = 0
    }

    private let lock = ConditionLock()
    private nonisolated(unsafe) var state = State()  // guarded by `lock`

    func push(_ work: Work) {
        lock.withLock {
            state.pending.append(work)
            if state.idle > 0 { lock.signal() }
        }
    }

    /// The next job, or nil once the queue is closed and empty.
    private func pop() -> Work? {
        lock.withLock {
            while true {
                if state.head < state.pending.count {
                    let work = state.pending[state.head]
                    state.head += 1
                    if state.head >= 1024 && state.head * 2 >= state.pending.count {
                        state.pending.removeFirst(state.head)
                        state.head = 0
                    }
                    return work
                }
                if state.closed { return nil }
                state.idle += 1
                _ = lock.wait(untilNs: profd_monotonic_ns() &+ 1_000_000_000) { state.head < state.pending.count || state.closed }
                state.idle -= 1
            }
        }
    }

    func close() {
        lock.withLock {
            state.closed = true
            lock.broadcast()
        }
    }

    /// Starts one worker thread; it ends when the queue closes.
    func spawnWorker() {
        if let thread = startThread({ self.serve() }) { pthread_detach(thread) }
    }

    private func serve() {
        nameCurrentThread("profd-pool")
        let slot = WorkerSlot.currentOrInstalled()
        while let work = pop() { Self.run(work, slot: slot) }
    }

    /// Runs one job on the calling thread between its two stamps.
    static func run(_ work: Work, slot: WorkerSlot) {
        // A job that runs another job inline (it should not, but the slot must survive it) keeps its own.
        let outer = (slot.executor, slot.beginNs)
        slot.executor = work.executor
        slot.beginNs = profd_monotonic_ns()
        work.job.runSynchronously(on: work.executor.asUnownedTaskExecutor())
        // Nil when `cutSlice()` already recorded this job's part that belongs to the request.
        if let executor = slot.executor {
            executor.recordSlice(threadId: slot.threadId, beginNs: slot.beginNs, endNs: profd_monotonic_ns())
        }
        (slot.executor, slot.beginNs) = outer
    }
}

/// What a pool thread is running right now: only its own thread reads or writes it.
final class WorkerSlot {
    let threadId: UInt32
    var executor: SpanTaskExecutor?
    var beginNs: UInt64 = 0

    /// The slot is retained by its thread and released by the key's destructor when the thread exits.
    private static let key: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, { raw in
            guard let raw else { return }
            Unmanaged<WorkerSlot>.fromOpaque(raw).release()
        }) == 0 ? key : nil
    }()

    init(threadId: UInt32) {
        self.threadId = threadId
    }

    /// The calling thread's slot, created on its first job.
    static func currentOrInstalled() -> WorkerSlot {
        if let slot = current { return slot }
        let slot = WorkerSlot(threadId: ThreadID.current)
        if let key { pthread_setspecific(key, Unmanaged.passRetained(slot).toOpaque()) }
        return slot
    }

    /// The calling thread's slot, nil off the pool.
    static var current: WorkerSlot? {
        guard let key, let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<WorkerSlot>.fromOpaque(raw).takeUnretainedValue()
    }
}
