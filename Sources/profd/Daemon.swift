#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Logging
import ProfdEngine
import ProfdProtocol
import Synchronization

/// The profd event loop: accepts clients, runs their sessions' samplers and hands finished sessions to
/// the report writer. Everything except report writing happens on the one thread that calls `run()`;
/// the only cross-thread entry is `requestShutdown()` (an atomic flag and the wake pipe), which is what
/// makes the `@unchecked Sendable` sound.
final class Daemon: @unchecked Sendable {
    // Internal rather than private where Control.swift (the control plane) needs them.
    let configuration: DaemonConfiguration
    var logger: Logger
    private let store: ReportStore
    let writer: ReportWriter
    private var listener: UnixListener?
    var connections: [UInt64: ClientConnection] = [:]
    private var nextSerial: UInt64 = 1
    var sessionCounter = 0
    /// Finished report writes, posted by the writer's queue and picked up by the loop.
    let outcomes = OutcomeQueue()
    let wake: WakePipe
    private let stopRequested = Atomic<Bool>(false)
    private let serviceManager = ServiceManager()
    var status: DaemonStatus
    /// Until when someone is looking (a status request, as `profctl top` sends every refresh): only
    /// then do running sessions pay for `top.json`.
    var topWatchedUntilNs: UInt64 = 0
    /// Set when watching begins: the next loop writes every session's snapshot without waiting.
    var topStartsNow = false
    static let topWatchNs: UInt64 = 5_000_000_000
    /// Attach sessions and per-session rates (Control.swift).
    var control = ControlState()
    /// Whose each stored session is, for reads through the daemon (ReportAccess.swift).
    let owners = SessionOwners()
    /// What running sessions' captures, and those the writer still holds, may take (`--max-capture-memory`).
    let captureMemory: CaptureMemoryBudget
    /// Bytes of finished sessions' captures, by session id, given back when the writer reports the session.
    var heldCaptureBytes: [String: Int] = [:]

    init(configuration: DaemonConfiguration, logger: Logger) throws(DaemonError) {
        self.configuration = configuration
        self.logger = logger
        self.store = ReportStore(stateDirectory: configuration.stateDirectory)
        self.writer = ReportWriter(store: store, logger: logger, retention: configuration.retention)
        self.wake = try WakePipe()
        self.captureMemory = CaptureMemoryBudget(limitBytes: configuration.limits.maximumCaptureBytes)
        self.status = DaemonStatus(stateDirectory: configuration.stateDirectory)
        self.status.retentionLimitBytes = configuration.retention.maximumBytes == 0 ? nil : configuration.retention.maximumBytes
    }

    /// Asks the loop to finish; safe from any thread (the lifecycle's graceful-shutdown handler).
    func requestShutdown() {
        stopRequested.store(true, ordering: .releasing)
        WakePipe.signal(wake.writeFd)
    }

    /// Recovers the state directory, takes the listening socket (from systemd, or binds it), says
    /// READY=1, and serves until `requestShutdown()`; then finishes every open session's reports, marked
    /// incomplete, and returns.
    func run() throws(DaemonError) {
        do throws(EngineError) {
            // Only here, at start: no writer of an earlier daemon is still running.
            for name in try store.recover() {
                logger.notice("removed a leftover temporary", metadata: ["profd.path": "\(store.sessionsDirectory)/\(name)"])
            }
        } catch {
            throw DaemonError("cannot prepare state directory \(configuration.stateDirectory): \(error)")
        }
        status.usage = store.usage()
        store.clearLive()
        owners.scanInBackground(store)  // report access
        writer.scheduleRetention(everySeconds: configuration.retentionIntervalSeconds)
        let listener: UnixListener
        if let passed = SocketActivation.adoptListener() {
            listener = UnixListener.adopted(fd: passed)
        } else {
            listener = try UnixListener.bind(path: configuration.socketPath, mode: configuration.socketMode)
        }
        self.listener = listener
        FaultHooks.installIfEnabled(logger: logger)
        logger.info("profd listening", metadata: [
            "profd.socket": "\(listener.path ?? "passed by systemd")", "profd.state_dir": "\(configuration.stateDirectory)",
            "profd.version": "\(ProfdVersion.string)", "profd.sessions_on_disk": "\(status.usage.sessions)",
            "profd.disk_bytes": "\(status.usage.bytes)",
            "profd.retention_max_age_s": "\(configuration.retention.maximumAgeSeconds)",
            "profd.retention_max_bytes": "\(configuration.retention.maximumBytes)",
            "profd.watchdog_ms": "\(serviceManager.watchdogPeriodNs.map { String($0 / 500_000) } ?? "off")",
        ])
        serviceManager.ready(status: status.line(sessions: [], writing: 0))

        var lastWatchdogNs: UInt64 = 0
        var lastStatusNs: UInt64 = profd_monotonic_ns()
        while !stopRequested.load(ordering: .acquiring) {
            pollOnce(timeoutMs: 100)
            FaultHooks.stallIfRequested()
            let now = profd_monotonic_ns()
            if let period = serviceManager.watchdogPeriodNs, now &- lastWatchdogNs >= period {
                serviceManager.watchdog()
                lastWatchdogNs = now
            }
            // The rate is measured over whole intervals; a session starting or ending shows at once.
            let due = now &- lastStatusNs >= DaemonStatus.intervalNs
            if due || status.sessionsChanged {
                publishStatus(nowNs: now, sinceNs: due ? lastStatusNs : nil)
                if due { lastStatusNs = now }
            }
        }

        let open = connections.values.filter { $0.session != nil }.count + control.attach.values.filter { !$0.writing }.count
        logger.info("profd shutting down", metadata: ["profd.open_sessions": "\(open)"])
        serviceManager.stopping(status: "stopping: writing the reports of \(open) open session\(open == 1 ? "" : "s")")
        listener.close()
        for connection in Array(connections.values) {
            finishSession(of: connection, reason: "daemon-shutdown")
            connection.close()
        }
        connections.removeAll()
        finishAllAttach(reason: "daemon-shutdown")  // control
        // Symbolizing a big session takes a while: keep the watchdog fed while the writer finishes.
        writer.waitForAll { [serviceManager] in serviceManager.watchdog() }
        deliverOutcomes()
    }

    /// Sends `STATUS=` when the line changed: what is being profiled, at what rate, and what is on disk.
    private func publishStatus(nowNs: UInt64, sinceNs: UInt64?) {
        let sessions = connections.values.compactMap { connection in
            connection.session.map { DaemonStatus.Active(pid: $0.peer.pid, unit: $0.unit) }
        } + attachStatusEntries  // control
        if let sinceNs { status.sampleRate(over: nowNs &- sinceNs) }
        status.sessionsChanged = false
        let line = status.line(sessions: sessions, writing: writer.pending)
        if line != status.lastPublished {
            serviceManager.status(line)
            status.lastPublished = line
        }
    }

    private func pollOnce(timeoutMs: Int32) {
        guard let listener else { return }
        var descriptors: [pollfd] = [pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0),
                                     pollfd(fd: wake.readFd, events: Int16(POLLIN), revents: 0)]
        enum Owner { case none, connection(UInt64), sampler(ProfilingSession) }
        var owners: [Owner] = [.none, .none]
        for connection in connections.values {
            descriptors.append(pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0))
            owners.append(.connection(connection.serial))
            guard let session = connection.session else { continue }
            for fd in session.pollDescriptors {
                descriptors.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                owners.append(.sampler(session))
            }
        }
        let controlStart = descriptors.count  // control: attach sessions' rings and targets' pidfds
        let controlDescriptors = controlPollDescriptors()
        for entry in controlDescriptors {
            descriptors.append(pollfd(fd: entry.fd, events: Int16(POLLIN), revents: 0))
            owners.append(.none)
        }
        let ready = poll(&descriptors, nfds_t(descriptors.count), timeoutMs)
        if ready < 0 && errno != EINTR {
            logger.error("poll failed", metadata: ["profd.errno": "\(errno)"])
        }
        if descriptors[1].revents != 0 { wake.drain() }
        if descriptors[0].revents & Int16(POLLIN) != 0 { acceptPending(listener) }
        for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
            switch owners[index] {
            case .connection(let serial):
                if let connection = connections[serial] { service(connection) }
            case .sampler(let session):
                // A ring whose threads all exited reports POLLHUP forever; stop polling it.
                if descriptor.revents & Int16(POLLHUP | POLLERR) != 0 { session.descriptorHungUp(descriptor.fd) }
            case .none:
                break
            }
        }
        serviceControl(controlDescriptors.enumerated().map { index, entry in
            (entry.owner, entry.fd, descriptors[controlStart + index].revents)
        })
        let now = profd_monotonic_ns()
        for connection in connections.values {
            guard let session = connection.session else { continue }
            let before = session.sampleCount
            session.drain()
            status.samplesSinceLastStatus += session.sampleCount - before
            session.rescanIfDue(nowNs: now)
            if session.processExited {
                // Whoever still holds this socket is not the process that connected (it was handed on).
                disconnect(connection, reason: "client-exited")
                continue
            }
            for job in session.dueLiveRequests(nowNs: now, limit: writer.liveSlotsFree) { writer.submitLive(job) }
            if now < topWatchedUntilNs {
                if let snapshot = session.topSnapshot(nowNs: now, now: topStartsNow) { writer.submitTop(snapshot) }
            } else {
                session.skipTop(nowNs: now)
            }
        }
        topStartsNow = false
        controlTick(nowNs: now)
        deliverOutcomes()
    }

    private func acceptPending(_ listener: UnixListener) {
        while let fd = listener.accept() {
            guard let peer = PeerIdentity.of(socket: fd) else {
                logger.warning("rejected a connection without peer credentials")
                _ = close(fd)
                continue
            }
            guard let pidfd = PeerProcess.pidfd(socket: fd, pid: peer.pid) else {
                logger.warning("rejected a connection whose process has exited", metadata: [
                    "profd.client_pid": "\(peer.pid)", "profd.client_uid": "\(peer.uid)", "profd.errno": "\(errno)",
                ])
                _ = close(fd)
                continue
            }
            let connection = ClientConnection(serial: nextSerial, fd: fd, peer: peer, pidfd: pidfd,
                                              maximumMessageBytes: configuration.limits.maximumMessageBytes)
            nextSerial += 1
            guard connections.count < configuration.limits.maximumConnections else {
                refuse(connection, "profd serves at most \(configuration.limits.maximumConnections) connections")
                continue
            }
            let sameUser = connections.values.lazy.filter { $0.peer.uid == peer.uid }.count
            guard sameUser < configuration.limits.maximumConnectionsPerUid else {
                refuse(connection, "profd serves at most \(configuration.limits.maximumConnectionsPerUid) connections per user")
                continue
            }
            connections[connection.serial] = connection
            logger.debug("client connected", metadata: metadata(connection))
        }
    }

    /// Turns a new connection away at a limit: an error reply, a log line, the connection closed.
    private func refuse(_ connection: ClientConnection, _ reason: String) {
        logger.warning("connection refused: limit reached", metadata: metadata(connection, ["profd.error": "\(reason)"]))
        connection.send(.error(ErrorReply(code: .limitExceeded, message: reason)))
        connection.close()
    }

    private func service(_ connection: ClientConnection) {
        switch connection.read() {
        case .messages(let messages):
            for message in messages where !connection.closed {
                handle(message, from: connection)
            }
        case .endOfStream(let error):
            if let error {
                // A protocol error like any other (a client killed while writing, or a broken one): warning.
                logger.warning("client closed mid-frame", metadata: metadata(connection, ["profd.error": "\(error)"]))
            }
            disconnect(connection, reason: "client-disconnected")
        case .protocolError(let error, let decoded):
            for message in decoded where !connection.closed {
                handle(message, from: connection)
            }
            logger.warning("protocol error; closing connection", metadata: metadata(connection, ["profd.error": "\(error)"]))
            connection.send(.error(error.reply))
            disconnect(connection, reason: "client-disconnected")
        }
    }

    private func handle(_ message: ProfdMessage, from connection: ClientConnection) {
        if handleControl(message, from: connection) { return }  // control: status, attach
        switch (message, connection.state) {
        case (.hello(let hello), .connected):
            connection.state = .introduced(service: hello.service)
            connection.send(.helloAck(HelloAck(daemonVersion: ProfdVersion.string)))
        case (.startSession(let start), .introduced(let service)):
            startSession(for: connection, service: service, frequencyHz: Int(start.frequencyHz),
                         options: ReportOptions(start.options))
        case (.spanBegin(let span), .profiling(_, let session)):
            session.beginSpan(spanId: span.spanId, route: span.route, threadId: span.threadId, timeNs: span.timeNs)
        case (.spanEnd(let span), .profiling(_, let session)):
            session.endSpan(spanId: span.spanId, threadId: span.threadId, timeNs: span.timeNs, status: span.httpStatus, route: span.route)
        case (.runSlices(let batch), .profiling(_, let session)):
            session.addSlices(batch.slices)
        case (.spanBegin, .introduced), (.spanEnd, .introduced), (.spanBegin, .stopping), (.spanEnd, .stopping),
             (.runSlices, .introduced), (.runSlices, .stopping):
            // Spans racing a stop or a failed start are harmless; the client counts them as sent.
            break
        case (.startSession, .stopping(_, let previous)):
            // Not fatal: the client may simply be quick. It can start again once `sessionStopped` arrives.
            connection.send(.error(ErrorReply(code: .protocolViolation,
                                              message: "session \(previous) is still being written; start again after sessionStopped")))
        case (.stopSession, .profiling(let service, let session)):
            connection.state = .stopping(service: service, sessionId: session.id)
            submit(session, of: connection, reason: "stopped")
        default:
            violation(connection, "\(message.type) is not allowed \(connection.state.name)")
        }
    }

    private func startSession(for connection: ClientConnection, service: String, frequencyHz: Int, options: ReportOptions) {
        let running = connections.values.lazy.filter { $0.session != nil }.count
        guard running < configuration.limits.maximumSessions else {
            logger.warning("session refused: limit reached", metadata: metadata(connection, ["profd.sessions": "\(running)"]))
            connection.send(.error(ErrorReply(code: .limitExceeded,
                                              message: "profd profiles at most \(configuration.limits.maximumSessions) sessions at once; try again later")))
            return
        }
        sessionCounter += 1
        let id = "\(WallClock.now().compact)-\(connection.peer.pid)-\(sessionCounter)"
        do throws(EngineError) {
            let session = try ProfilingSession(id: id, peer: connection.peer, service: service,
                                               frequencyHz: frequencyHz, reportOptions: options,
                                               passedMaps: connection.passedMaps, pidfd: connection.pidfd,
                                               captureMemory: captureMemory,
                                               configuration: configuration)
            connection.state = .profiling(service: service, session: session)
            status.sessionsChanged = true
            connection.send(.sessionStarted(SessionStarted(sessionId: id, frequencyHz: UInt32(frequencyHz))))
            logger.info("session started", metadata: metadata(connection, [
                "profd.session": "\(id)", "profd.frequency_hz": "\(frequencyHz)", "profd.service": "\(service)",
            ], unit: session.unit))
        } catch {
            logger.error("cannot start sampling", metadata: metadata(connection, ["profd.error": "\(error)"]))
            let code: ErrorReply.Code = (error.errno == EACCES || error.errno == EPERM) ? .permissionDenied : .internal
            connection.send(.error(ErrorReply(code: code, message: "cannot sample pid \(connection.peer.pid): \(error)")))
        }
    }

    private func violation(_ connection: ClientConnection, _ reason: String) {
        logger.warning("protocol violation; closing connection", metadata: metadata(connection, ["profd.error": "\(reason)"]))
        connection.send(.error(ErrorReply(code: .protocolViolation, message: reason)))
        disconnect(connection, reason: "client-disconnected")
    }

    /// Closes a connection; an open session still gets its reports.
    private func disconnect(_ connection: ClientConnection, reason: String) {
        finishSession(of: connection, reason: reason)
        controlConnectionClosed(connection.serial)
        connection.close()
        connections[connection.serial] = nil
        logger.debug("client disconnected", metadata: metadata(connection))
    }

    private func finishSession(of connection: ClientConnection, reason: String) {
        guard case .profiling(let service, let session) = connection.state else { return }
        connection.state = .stopping(service: service, sessionId: session.id)
        submit(session, of: connection, reason: reason)
    }

    private func submit(_ session: ProfilingSession, of connection: ClientConnection, reason: String) {
        let job = session.finish(reason: reason)
        holdCaptureMemory(of: session)
        rememberOwner(of: session)  // report access
        status.sessionsChanged = true
        // Kept requests that ended in the last moments: their samples are all in now.
        for live in session.dueLiveRequests(nowNs: .max, limit: writer.liveSlotsFree) { writer.submitLive(live) }
        logger.info("session stopped", metadata: metadata(connection, [
            "profd.session": "\(session.id)", "profd.reason": "\(reason)",
            "profd.samples": "\(job.capture.samples.count)", "profd.spans": "\(job.capture.spans.count)",
            "profd.suppressed_spans": "\(session.suppressedSpans)", "profd.skipped_live_requests": "\(session.live.skipped)",
        ], unit: session.unit))
        let outcomes = self.outcomes
        let wakeFd = wake.writeFd
        writer.submit(job, connection: connection.serial) { outcome in
            outcomes.pending.withLock { $0.append(outcome) }
            WakePipe.signal(wakeFd)
        }
    }

    /// The session's capture stays charged to the budget until the writer is done with it.
    func holdCaptureMemory(of session: ProfilingSession) {
        heldCaptureBytes[session.id, default: 0] += session.chargedBytes
        if session.droppedForMemory > 0 {
            logger.warning("capture memory budget reached; records dropped", metadata: [
                "profd.session": "\(session.id)", "profd.dropped": "\(session.droppedForMemory)",
                "profd.budget_bytes": "\(captureMemory.limitBytes)", "profd.used_bytes": "\(captureMemory.usedBytes)",
            ])
        }
    }

    private func deliverOutcomes() {
        let finished = outcomes.pending.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for outcome in finished {
            captureMemory.release(heldCaptureBytes.removeValue(forKey: outcome.sessionId) ?? 0)
            let connection = connections[outcome.connection]
            switch outcome.result {
            case .success(let directory):
                // The disk use (with this session, after retention) comes from the writer: `takeUsage()` below.
                status.sessionsChanged = true
                var fields: Logger.Metadata = [:]
                if let unit = outcome.clientUnit { fields["profd.client_unit"] = "\(unit)" }
                logger.info("reports written", metadata: fields.merging([
                    "profd.session": "\(outcome.sessionId)", "profd.directory": "\(directory)",
                    "profd.client_pid": "\(outcome.clientPid)",
                    "profd.skipped_kept_requests": "\(outcome.skippedKeptRequests)",
                    "profd.elapsed_ms": "\(outcome.elapsed.components.seconds * 1000 + outcome.elapsed.components.attoseconds / 1_000_000_000_000_000)",
                ]) { own, _ in own })
                connection?.send(.sessionStopped(SessionStopped(sessionId: outcome.sessionId, reportDirectory: directory)))
            case .failure(let error):
                let errnoName = error.errno.map { Self.errnoName($0) } ?? "-"
                let hint = error.errno == ENOSPC ? " (ENOSPC: the disk of \(configuration.stateDirectory) is full; earlier reports are untouched)" : ""
                logger.error("cannot write reports of session \(outcome.sessionId)\(hint)", metadata: [
                    "profd.session": "\(outcome.sessionId)", "profd.error": "\(error)",
                    "profd.errno": "\(errnoName)", "profd.client_pid": "\(outcome.clientPid)"])
                connection?.send(.error(ErrorReply(code: .internal, message: "reports of session \(outcome.sessionId) were not written: \(error)")))
            }
            if let connection, case .stopping(let service, _) = connection.state {
                connection.state = .introduced(service: service)
            }
            deliverControlOutcome(outcome)
        }
        // The writer measures the store after each write's retention pass (before posting its outcome) and
        // every minute: a whole snapshot, so no walk of the disk on the loop.
        if let usage = writer.takeUsage(), usage != status.usage {
            status.usage = usage
            status.sessionsChanged = true
        }
    }

    /// `ENOSPC`, `EACCES`, … for log lines.
    static func errnoName(_ code: Int32) -> String {
        switch code {
        case ENOSPC: "ENOSPC"
        case EDQUOT: "EDQUOT"
        case EACCES: "EACCES"
        case EPERM: "EPERM"
        case ELOOP: "ELOOP"
        case ENOTDIR: "ENOTDIR"
        case EEXIST: "EEXIST"
        case EROFS: "EROFS"
        case EIO: "EIO"
        default: "errno \(code)"
        }
    }

    /// Log metadata naming the client (and its systemd unit, when known), plus `extra`.
    private func metadata(_ connection: ClientConnection, _ extra: Logger.Metadata = [:], unit: String? = nil) -> Logger.Metadata {
        var client: Logger.Metadata = ["profd.client_pid": "\(connection.peer.pid)", "profd.client_uid": "\(connection.peer.uid)"]
        if let unit { client["profd.client_unit"] = "\(unit)" }
        return extra.merging(client) { own, _ in own }
    }
}

extension ReportOptions {
    /// The options a client sent, or the defaults.
    init(_ wire: SessionOptions?) {
        guard let wire else { self.init(); return }
        var formats: Set<Format> = []
        if wire.formats & SessionOptions.formatText != 0 { formats.insert(.text) }
        if wire.formats & SessionOptions.formatJSON != 0 { formats.insert(.json) }
        if wire.formats & SessionOptions.formatHTML != 0 { formats.insert(.html) }
        self.init(formats: formats, slowThresholdNs: wire.slowThresholdNs, requestFileName: wire.reportFileName,
                  includedRoutes: wire.includedRoutes, excludedRoutes: wire.excludedRoutes,
                  keepServerErrors: wire.keepServerErrors, keptBasisPoints: Int(wire.keptBasisPoints),
                  logKeptRequests: wire.logKeptRequests)
    }
}

extension ClientConnection.State {
    /// "before hello", "after hello", … for error messages.
    var name: String {
        switch self {
        case .connected: "before hello"
        case .introduced: "outside a session"
        case .profiling: "during a session"
        case .stopping: "while a session is stopping"
        }
    }
}

/// Report-writer results waiting for the event loop; shared between the writer's queue and the loop.
final class OutcomeQueue: Sendable {
    let pending = Mutex<[ReportWriter.Outcome]>([])
}
