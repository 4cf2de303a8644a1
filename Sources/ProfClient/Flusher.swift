#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim
import ProfdProtocol

/// The background thread of a `ProfClient`: owns the connection, writes buffered spans, reads replies.
///
/// Confined to its own pthread; only `ClientCore` is shared. Nothing here blocks: the socket is non-blocking,
/// and the thread sleeps between ticks on a condition variable that `start`/`stop`/`shutdown` signal.
final class Flusher {
    /// What a frame in the outgoing buffer is, for accounting and for what may be dropped.
    private enum FrameKind {
        /// hello, startSession, stopSession: never dropped while connected.
        case control
        case spanBegin
        case spanEnd
        /// A `runSlices` batch; dropping it loses attribution marks, not spans.
        case slices
    }

    /// A request sent to the daemon that gets exactly one reply, in order.
    private enum PendingReply {
        case hello
        case start
        case stop(StopRequest)
    }

    /// Counter increments and latest values to publish into `SharedState.statistics` after a tick.
    private struct StatisticsDelta {
        var spansSent = 0
        var spansDropped = 0
        var messagesDropped = 0
        var connects = 0
        var reconnects = 0
        var lastSessionId: String?
        var daemonVersion: String?
        var lastError: String?
    }

    /// More control frames than this waiting behind a full socket means the daemon is stuck: disconnect.
    private static let maximumHeldControlFrames = 32
    private static let receiveChunk = 16 * 1024

    private let core: ClientCore
    private let configuration: ProfClient.Configuration
    private var socket: UnixSocket?
    private var decoder = FrameDecoder()
    private var everConnected = false
    private var lastConnectAttemptNs: UInt64?
    /// The session frequency `start()` asked for, nil after `stop()`: re-sent after every reconnect.
    private var sessionFrequency: UInt32?
    /// Whether a startSession without a later stopSession was queued on the current connection.
    private var wireSessionActive = false
    private var pendingReplies: [PendingReply] = []

    /// The unsent rest of a frame that was partly written: it goes out before any other byte.
    private var tail: [UInt8] = []
    private var tailKind = FrameKind.control
    /// Run slices taken from the buffer, sent in batches.
    private var pendingSlices: [RunSlice] = []
    /// Control frames that did not fit into the socket; sent (after `tail`) before anything new.
    private var heldControl: [[UInt8]] = []
    /// This tick's outgoing bytes and, for each frame in them, its end offset and kind.
    private var out: [UInt8] = []
    private var frames: [(end: Int, kind: FrameKind)] = []
    /// The flusher's half of the double buffer swapped with `SharedState.items`.
    private var taken: [QueuedItem] = []
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private var delta = StatisticsDelta()

    private init(core: ClientCore) {
        self.core = core
        self.configuration = core.configuration
        self.receiveBuffer = .allocate(byteCount: Self.receiveChunk, alignment: 8)
        taken.reserveCapacity(ClientCore.initialReservation(configuration))
    }

    deinit { receiveBuffer.deallocate() }

    /// Starts the flusher thread for `core`; nil if the thread cannot be created.
    static func spawnThread(core: ClientCore) -> pthread_t? {
        // The flusher is created on, and only ever touched by, its own thread.
        startThread { Flusher(core: core).run() }
    }

    private func run() {
        nameCurrentThread("profd-client")
        let flushNs = configuration.flushInterval.clampedNanoseconds
        let idleNs = max(flushNs, 250_000_000)
        while true {
            let idle = sessionFrequency == nil && pendingReplies.isEmpty && tail.isEmpty && heldControl.isEmpty
            core.wakeup.sleep(timeoutNs: idle ? idleNs : flushNs)
            if !tick() { break }
        }
        disconnect(reason: nil)
        publishStatistics()
    }

    /// One flush: take buffered items, read replies, (re)connect, write. Returns false once shutting down.
    private func tick() -> Bool {
        let shuttingDown = core.state.withLock { state -> Bool in
            swap(&state.items, &taken)
            state.spanMessages = 0
            return state.shuttingDown
        }
        receive()
        let wantsSession = sessionFrequency != nil || taken.contains { if case .start = $0 { true } else { false } }
        if socket == nil, wantsSession, !shuttingDown { connectIfDue() }

        for frame in heldControl { append(frame, kind: .control) }
        heldControl.removeAll()
        for item in taken { process(item) }
        flushSlices()
        taken.removeAll(keepingCapacity: true)
        write()
        publishStatistics()
        return !shuttingDown
    }

    private func process(_ item: QueuedItem) {
        switch item {
        case .start(let frequency):
            sessionFrequency = frequency
            if socket != nil, !wireSessionActive { sendStart(frequency) }
        case .begin(let begin):
            queueSpan(.spanBegin(begin), kind: .spanBegin)
        case .end(let end):
            flushSlices()
            queueSpan(.spanEnd(end), kind: .spanEnd)
        case .slice(let slice):
            pendingSlices.append(slice)
            if pendingSlices.count == RunSlices.maximumCount { flushSlices() }
        case .stop(let request):
            sessionFrequency = nil
            if socket != nil, wireSessionActive {
                queue(.stopSession)
                pendingReplies.append(.stop(request))
                wireSessionActive = false
            } else {
                request.complete(.failed)
            }
        }
    }

    // MARK: Connection

    private func connectIfDue() {
        let now = profd_monotonic_ns()
        if let last = lastConnectAttemptNs, now &- last < configuration.reconnectInterval.clampedNanoseconds { return }
        lastConnectAttemptNs = now
        switch UnixSocket.connect(path: configuration.socketPath, sendBufferSize: configuration.sendBufferSize) {
        case .failure(let error):
            delta.lastError = error.description
        case .success(let connected):
            socket = connected
            decoder = FrameDecoder()
            delta.connects += 1
            if everConnected { delta.reconnects += 1 }
            everConnected = true
            queue(.hello(Hello(service: configuration.service)))
            pendingReplies.append(.hello)
            if let frequency = sessionFrequency { sendStart(frequency) }
        }
    }

    private func sendStart(_ frequency: UInt32) {
        queue(.startSession(StartSession(frequencyHz: frequency, options: configuration.sessionOptions)))
        pendingReplies.append(.start)
        wireSessionActive = true
    }

    /// Closes the connection: unsent span frames are dropped, waiting `stop()`s get nil. Keeps
    /// `sessionFrequency`, so the next connection starts the session again.
    private func disconnect(reason: String?) {
        for frame in frames { drop(frame.kind) }
        out.removeAll(keepingCapacity: true)
        frames.removeAll(keepingCapacity: true)
        if !tail.isEmpty { drop(tailKind) }
        tail = []
        heldControl.removeAll()
        for case .stop(let request) in pendingReplies { request.complete(.failed) }
        pendingReplies.removeAll()
        wireSessionActive = false
        if socket != nil, let reason { delta.lastError = reason }
        socket = nil
    }

    // MARK: Writing

    private func queue(_ message: ProfdMessage) {
        message.encode(into: &out)
        frames.append((out.count, .control))
    }

    /// Sends the slices gathered so far as one `runSlices` message, before any later span message.
    private func flushSlices() {
        guard !pendingSlices.isEmpty else { return }
        queueSpan(.runSlices(RunSlices(slices: pendingSlices)), kind: .slices)
        pendingSlices.removeAll(keepingCapacity: true)
    }

    private func queueSpan(_ message: ProfdMessage, kind: FrameKind) {
        guard socket != nil, wireSessionActive else { return drop(kind) }
        message.encode(into: &out)
        frames.append((out.count, kind))
    }

    private func append(_ frame: [UInt8], kind: FrameKind) {
        out.append(contentsOf: frame)
        frames.append((out.count, kind))
    }

    private func drop(_ kind: FrameKind) {
        switch kind {
        case .control: break
        case .spanBegin: delta.messagesDropped += 1
        case .spanEnd: delta.messagesDropped += 1; delta.spansDropped += 1
        case .slices: delta.messagesDropped += 1
        }
    }

    /// Writes `tail`, then `out`, without blocking. Frames that do not fit: a partly written one becomes
    /// `tail`, control frames are held for the next tick, span frames are dropped.
    private func write() {
        guard let socket else { return disconnect(reason: nil) }
        if !tail.isEmpty {
            switch tail.withUnsafeBytes({ socket.send($0) }) {
            case .failure(let error):
                return disconnect(reason: error.description)
            case .success(let written):
                tail.removeFirst(written)
            }
            guard tail.isEmpty else { return keepOrDrop(fromFrame: 0, byte: 0) }
            if tailKind == .spanEnd { delta.spansSent += 1 }
        }

        var offset = 0
        var failure: SocketError?
        while offset < out.count {
            let result = out.withUnsafeBytes { socket.send(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            guard case .success(let written) = result else {
                if case .failure(let error) = result { failure = error }
                break
            }
            if written == 0 { break }
            offset += written
        }

        var index = 0
        var frameStart = 0
        while index < frames.count, frames[index].end <= offset {
            if frames[index].kind == .spanEnd { delta.spansSent += 1 }
            frameStart = frames[index].end
            index += 1
        }
        if let failure {
            frames.removeFirst(index)
            return disconnect(reason: failure.description)
        }
        if index < frames.count, offset > frameStart {
            tail = Array(out[offset..<frames[index].end])
            tailKind = frames[index].kind
            frameStart = frames[index].end
            index += 1
        }
        keepOrDrop(fromFrame: index, byte: frameStart)
    }

    /// Ends a write: frames from `fromFrame` (starting at `byte`) were not written at all.
    private func keepOrDrop(fromFrame first: Int, byte: Int) {
        var start = byte
        for frame in frames[first...] {
            if frame.kind == .control {
                heldControl.append(Array(out[start..<frame.end]))
            } else {
                drop(frame.kind)
            }
            start = frame.end
        }
        out.removeAll(keepingCapacity: true)
        frames.removeAll(keepingCapacity: true)
        if heldControl.count > Self.maximumHeldControlFrames {
            disconnect(reason: "the daemon is not reading; dropped the connection")
        }
    }

    // MARK: Reading

    private func receive() {
        for _ in 0..<8 {
            guard let socket else { return }
            switch socket.receive(into: receiveBuffer) {
            case .wouldBlock:
                return
            case .closed:
                return disconnect(reason: "the daemon closed the connection")
            case .failed(let error):
                return disconnect(reason: error.description)
            case .bytes(let count):
                decoder.append(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]))
                do {
                    while let message = try decoder.decodeNext() { handle(message) }
                } catch {
                    return disconnect(reason: "undecodable reply from the daemon: \(error)")
                }
            }
        }
    }

    private func handle(_ message: ProfdMessage) {
        switch message {
        case .helloAck(let ack):
            delta.daemonVersion = ack.daemonVersion
            popReply()
        case .sessionStarted(let started):
            delta.lastSessionId = started.sessionId
            popReply()
        case .sessionStopped(let stopped):
            delta.lastSessionId = stopped.sessionId
            let result = ProfClient.StopResult(sessionId: stopped.sessionId, reportDirectory: stopped.reportDirectory)
            if case .stop(let request) = popReply() { request.complete(.stopped(result)) }
        case .error(let reply):
            delta.lastError = "daemon error \(reply.code): \(reply.message)"
            switch popReply() {
            case .stop(let request):
                request.complete(.failed)
            case .start:
                if !pendingReplies.contains(where: { if case .start = $0 { true } else { false } }) {
                    wireSessionActive = false
                }
            case .hello, nil:
                break
            }
            if reply.code == .unsupportedVersion { disconnect(reason: delta.lastError) }
        default:
            disconnect(reason: "the daemon sent a client message (\(message.type))")
        }
    }

    @discardableResult
    private func popReply() -> PendingReply? {
        pendingReplies.isEmpty ? nil : pendingReplies.removeFirst()
    }

    private func publishStatistics() {
        let delta = self.delta
        self.delta = StatisticsDelta()
        let connected = socket != nil
        core.state.withLock { state in
            state.statistics.spansSent += delta.spansSent
            state.statistics.spansDropped += delta.spansDropped
            state.statistics.messagesDropped += delta.messagesDropped
            state.statistics.connects += delta.connects
            state.statistics.reconnects += delta.reconnects
            state.statistics.isConnected = connected
            if let id = delta.lastSessionId { state.statistics.lastSessionId = id }
            if let version = delta.daemonVersion { state.statistics.daemonVersion = version }
            if let error = delta.lastError { state.statistics.lastError = error }
        }
    }
}
