import ProfdProtocol
import Synchronization

/// How a `stop()` wait ended.
enum StopOutcome: Sendable {
    case stopped(ProfClient.StopResult)
    case failed
}

/// A pending `stop()`: completed by the flusher thread, awaited by the caller.
typealias StopRequest = OneShot<StopOutcome>

/// An entry of the buffer between the app's threads and the flusher, kept in call order.
enum QueuedItem: Sendable {
    case begin(SpanBegin)
    case end(SpanEnd)
    /// One job of a span's task, run by a `ProfClient.TaskExecutorPool` thread.
    case slice(RunSlice)
    case start(frequencyHz: UInt32)
    case stop(StopRequest)
}

/// State shared by the app's threads and the flusher thread, guarded by one mutex.
struct SharedState: Sendable {
    /// Spans and session changes not yet taken by the flusher.
    var items: [QueuedItem] = []
    /// How many of `items` are span messages; bounded by `bufferCapacity`.
    var spanMessages = 0
    /// Whether `start()` was called without a later `stop()`.
    var profiling = false
    var shuttingDown = false
    var statistics = ProfClient.Statistics()
}

/// Everything the flusher thread shares with `ProfClient`. The flusher holds this, never the client, so
/// dropping the last `ProfClient` reference runs its `deinit`, which stops the thread.
final class ClientCore: Sendable {
    let configuration: ProfClient.Configuration
    /// Fast, lock-free check of `SharedState.profiling` for the early return of `beginSpan`.
    let profiling = Atomic<Bool>(false)
    let notRecorded = Atomic<Int>(0)
    let nextSpanId = Atomic<UInt64>(1)
    /// Requests seen by `profileRequest` while profiling; picks the `sampledPercentage` share.
    let requestCounter = Atomic<UInt64>(0)
    let state: Mutex<SharedState>
    let wakeup = Wakeup()

    /// Buffer slots allocated up front so appends on the hot path do not allocate; capped at 64 Ki entries.
    static func initialReservation(_ configuration: ProfClient.Configuration) -> Int {
        min(configuration.bufferCapacity, 1 << 16) + 4
    }

    init(configuration: ProfClient.Configuration) {
        var configuration = configuration
        configuration.bufferCapacity = max(1, configuration.bufferCapacity)
        configuration.flushInterval = max(.milliseconds(1), configuration.flushInterval)
        configuration.reconnectInterval = max(.zero, configuration.reconnectInterval)
        configuration.executorThreads = configuration.executorThreads.map { max(1, $0) }
        configuration.sampledPercentage = configuration.sampledPercentage.isNaN ? 100 : configuration.sampledPercentage
        self.configuration = configuration
        var initial = SharedState()
        initial.items.reserveCapacity(ClientCore.initialReservation(configuration))
        self.state = Mutex(initial)
    }
}
