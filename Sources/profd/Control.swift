#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Foundation
import Logging
import ProfdEngine
import ProfdProtocol

// The control plane: `statusRequest` (what is the daemon doing?) and attach sessions (`attachStart`,
// `attachStop`), which profile a running process that does not link ProfClient. The event loop in
// Daemon.swift calls in through the hooks marked "control" there.

/// A session profctl started on another process. Unlike a client's session it belongs to no connection:
/// one with a duration outlives the connection that started it, and ends by itself.
final class AttachSession {
    let session: ProfilingSession
    /// Who asked (the connection's SO_PEERCRED): this uid, or root, may stop it.
    let requester: PeerIdentity
    /// The target's pidfd: readable once the target exited, and proof that the pid was not reused.
    let pidfd: Int32
    /// The requester's open `/proc/PID/maps` of the target, or -1; borrowed by `session`.
    let mapsFd: Int32
    let durationNs: UInt64?
    /// A session without a duration ends when this connection closes (profctl was interrupted).
    let boundConnection: UInt64?
    /// Connections waiting for `sessionStopped`.
    var waiters: Set<UInt64> = []
    /// Stopped; its reports are being written.
    var writing = false

    init(session: ProfilingSession, requester: PeerIdentity, pidfd: Int32, mapsFd: Int32, durationNs: UInt64?,
         boundConnection: UInt64?) {
        self.session = session
        self.requester = requester
        self.pidfd = pidfd
        self.mapsFd = mapsFd
        self.durationNs = durationNs
        self.boundConnection = boundConnection
    }

    var deadlineNs: UInt64? { durationNs.map { session.startedAt.monotonicNs &+ $0 } }

    /// Closes the pidfd and the maps fd, once the session has read its last maps.
    func releaseDescriptors() {
        _ = Glibc.close(pidfd)
        if mapsFd >= 0 { _ = Glibc.close(mapsFd) }
    }
}

/// What the control plane keeps between loop iterations.
struct ControlState {
    /// Attach sessions one (non-root) uid may run at once.
    static let attachSessionsPerUid = 16

    let startedAt = WallClock.now()
    /// Attach sessions by id, from start until their reports are written.
    var attach: [String: AttachSession] = [:]
    /// Per-session sample rate over about the last second: sample count then, rate.
    var rates: [String: (count: Int, perSecond: Int)] = [:]
    var lastRateNs: UInt64 = profd_monotonic_ns()
}

/// The uids of a process, from `/proc/PID/status` (`Uid:` real, effective, saved, filesystem).
struct ProcessCredentials: Equatable {
    var uids: [UInt32]
    var gid: UInt32

    var real: UInt32 { uids.first ?? .max }

    /// A non-root requester may profile a process only when every uid of it is the requester's: a
    /// set-user-ID program the requester started (effective uid root) is not theirs to look into.
    func permits(_ requester: UInt32) -> Bool {
        requester == 0 || (!uids.isEmpty && uids.allSatisfy { $0 == requester })
    }

    static func read(pid: Int32) -> ProcessCredentials? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var uids: [UInt32] = []
        var gid: UInt32 = .max
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Uid:") {
                uids = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) }
            } else if line.hasPrefix("Gid:") {
                gid = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).first.flatMap { UInt32($0) } ?? .max
            }
        }
        guard uids.count == 4 else { return nil }
        return ProcessCredentials(uids: uids, gid: gid)
    }
}

/// Whether the process behind `pidfd` is still running (a pidfd turns readable when it exits).
func pidfdAlive(_ pidfd: Int32) -> Bool {
    var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
    return poll(&descriptor, 1, 0) == 0
}

/// What a control descriptor in the poll set belongs to.
enum ControlPollOwner {
    case sampler(AttachSession)
    case target(AttachSession)
}

extension Daemon {
    /// Control messages, allowed on any connection that is not running a session of its own.
    /// Returns false for a message that is not a control message.
    func handleControl(_ message: ProfdMessage, from connection: ClientConnection) -> Bool {
        switch message {
        case .statusRequest:
            let now = profd_monotonic_ns()
            // Someone starts looking: snapshot the last second at once rather than a second from now.
            if now >= topWatchedUntilNs { topStartsNow = true }
            topWatchedUntilNs = now &+ Self.topWatchNs
            connection.send(.statusReply(StatusReply(document: statusDocument(for: connection.peer))))
        case .attachStart(let request):
            if connection.session != nil {
                connection.send(.error(ErrorReply(code: .protocolViolation,
                                                  message: "attachStart is not allowed during this connection's own session")))
            } else {
                attach(request, for: connection)
            }
        case .attachStop(let request):
            stopAttach(request.sessionId, for: connection)
        case .listRequest(let request):
            list(request.directory, for: connection)
        case .openRequest(let request):
            open(request.path, for: connection)
        default:
            return false
        }
        return true
    }

    // MARK: Attach

    private func refuse(_ connection: ClientConnection, _ code: ErrorReply.Code, _ message: String) {
        logger.notice("attach refused", metadata: [
            "profd.client_pid": "\(connection.peer.pid)", "profd.client_uid": "\(connection.peer.uid)",
            "profd.error": "\(message)",
        ])
        connection.send(.error(ErrorReply(code: code, message: message)))
    }

    private func attach(_ request: AttachStart, for connection: ClientConnection) {
        let pid = Int32(request.pid)
        let requester = connection.peer
        guard pid != getpid() else { return refuse(connection, .permissionDenied, "profd does not profile itself") }
        // Attach sessions outlive their connections, so the connection limit does not bound them.
        let running = control.attach.values.filter { !$0.writing }
        guard running.count < configuration.limits.maximumConnections,
              requester.uid == 0 || running.filter({ $0.requester.uid == requester.uid }).count < ControlState.attachSessionsPerUid
        else {
            return refuse(connection, .limitExceeded, "too many attach sessions (at most \(ControlState.attachSessionsPerUid) per uid, "
                          + "\(configuration.limits.maximumConnections) in all); stop one with profctl stop")
        }
        // The pidfd pins the process: while it has not exited, `pid` names it and no other.
        let pidfd = profd_pidfd_open(pid)
        guard pidfd >= 0 else {
            let error = errno
            return error == ESRCH
                ? refuse(connection, .notFound, "no process \(pid)")
                : refuse(connection, .internal, "pidfd_open(\(pid)): \(String(cString: strerror(error)))")
        }
        var keep = false
        defer { if !keep { _ = Glibc.close(pidfd) } }
        guard let credentials = ProcessCredentials.read(pid: pid), pidfdAlive(pidfd) else {
            return refuse(connection, .notFound, "no process \(pid)")
        }
        guard permitsAttach(requester, to: credentials) else {
            return refuse(connection, .permissionDenied,
                          "pid \(pid) belongs to uid \(credentials.real) (uids \(credentials.uids.map(String.init).joined(separator: " "))); "
                          + "uid \(requester.uid) may attach only to its own processes (root and the admin group may attach to any)")
        }
        // The requester's open /proc/PID/maps of the target symbolizes it when profd (CAP_PERFMON only) may
        // not read another user's maps. Kept only if it is the target's.
        var mapsFd: Int32 = -1
        if connection.passedMaps >= 0, procLinkTarget(fd: connection.passedMaps) == "/proc/\(pid)/maps" {
            mapsFd = fcntl(connection.passedMaps, F_DUPFD_CLOEXEC, 0)
        }
        sessionCounter += 1
        let id = "\(WallClock.now().compact)-\(pid)-\(sessionCounter)"
        let session: ProfilingSession
        do throws(EngineError) {
            session = try ProfilingSession(id: id, peer: PeerIdentity(pid: pid, uid: credentials.real, gid: credentials.gid),
                                           service: Self.commandName(pid: pid) ?? "pid \(pid)",
                                           frequencyHz: Int(request.frequencyHz), passedMaps: mapsFd, pidfd: pidfd,
                                           mode: SessionMetadata.attachMode, captureMemory: captureMemory,
                                           configuration: configuration)
        } catch {
            if mapsFd >= 0 { _ = Glibc.close(mapsFd) }
            let code: ErrorReply.Code = error.code == .perfTargetNotFound || error.errno == ESRCH ? .notFound
                : (error.errno == EACCES || error.errno == EPERM) ? .permissionDenied : .internal
            return refuse(connection, code, "cannot sample pid \(pid): \(error)")
        }
        // Checked again now that the events are open: the target may have exited (and its pid been
        // reused) or changed its credentials (exec of a set-user-ID program) in between.
        guard pidfdAlive(pidfd), let again = ProcessCredentials.read(pid: pid), permitsAttach(requester, to: again) else {
            _ = session.finish(reason: "target-exited")
            captureMemory.release(session.chargedBytes)
            if mapsFd >= 0 { _ = Glibc.close(mapsFd) }
            return refuse(connection, .permissionDenied, "pid \(pid) exited or changed its credentials while profd attached")
        }
        keep = true
        let attach = AttachSession(session: session, requester: requester, pidfd: pidfd, mapsFd: mapsFd,
                                   durationNs: request.durationMs == 0 ? nil : UInt64(request.durationMs) * 1_000_000,
                                   boundConnection: request.durationMs == 0 ? connection.serial : nil)
        // The starting connection hears when the reports are written, if it is still open then.
        attach.waiters.insert(connection.serial)
        control.attach[id] = attach
        status.sessionsChanged = true
        connection.send(.sessionStarted(SessionStarted(sessionId: id, frequencyHz: request.frequencyHz)))
        var fields: Logger.Metadata = [
            "profd.session": "\(id)", "profd.mode": "attach", "profd.target_pid": "\(pid)",
            "profd.client_pid": "\(requester.pid)", "profd.client_uid": "\(requester.uid)",
            "profd.frequency_hz": "\(request.frequencyHz)", "profd.duration_ms": "\(request.durationMs)",
        ]
        if let unit = session.unit { fields["profd.client_unit"] = "\(unit)" }
        logger.info("attach session started", metadata: fields)
    }

    /// Attach: the target's four uids are the requester's, or the requester is root or an admin.
    private func permitsAttach(_ requester: PeerIdentity, to target: ProcessCredentials) -> Bool {
        configuration.access.seesEverything(requester) || target.permits(requester.uid)
    }

    private func stopAttach(_ id: String, for connection: ClientConnection) {
        let peer = connection.peer
        guard let attach = control.attach[id],
              configuration.access.permits(peer, owner: attach.requester.uid) || attach.session.peer.uid == peer.uid
        else {
            if control.attach[id] != nil {
                logger.notice("attach stop refused", metadata: [
                    "profd.session": "\(id)", "profd.client_pid": "\(peer.pid)", "profd.client_uid": "\(peer.uid)"])
            }
            let isClient = connections.values.contains { $0.session?.id == id }
            connection.send(.error(ErrorReply(code: .notFound, message: isClient
                ? "session \(id) is a client's own session; it ends when the client stops it"
                : "no attach session \(id) of uid \(peer.uid) is running")))
            return
        }
        attach.waiters.insert(connection.serial)
        finishAttach(attach, reason: "stopped")
    }

    /// Stops sampling and hands the session to the report writer; waiters hear `sessionStopped` later.
    func finishAttach(_ attach: AttachSession, reason: String) {
        guard !attach.writing else { return }
        attach.writing = true
        let job = attach.session.finish(reason: reason)
        holdCaptureMemory(of: attach.session)
        rememberOwner(of: attach.session)
        attach.releaseDescriptors()
        status.sessionsChanged = true
        logger.info("session stopped", metadata: [
            "profd.session": "\(attach.session.id)", "profd.mode": "attach", "profd.reason": "\(reason)",
            "profd.target_pid": "\(attach.session.peer.pid)", "profd.client_uid": "\(attach.requester.uid)",
            "profd.samples": "\(job.capture.samples.count)",
        ])
        let outcomes = self.outcomes
        let wakeFd = wake.writeFd
        // Connection serial 0 is never a connection's: the control hook in deliverOutcomes answers.
        writer.submit(job, connection: 0) { outcome in
            outcomes.pending.withLock { $0.append(outcome) }
            WakePipe.signal(wakeFd)
        }
    }

    /// Control hook: the descriptors of attach sessions to poll (rings, and each target's pidfd).
    func controlPollDescriptors() -> [(fd: Int32, owner: ControlPollOwner)] {
        var result: [(fd: Int32, owner: ControlPollOwner)] = []
        for attach in control.attach.values where !attach.writing {
            result.append((attach.pidfd, .target(attach)))
            for fd in attach.session.pollDescriptors { result.append((fd, .sampler(attach))) }
        }
        return result
    }

    /// Control hook: poll results for `controlPollDescriptors()`.
    func serviceControl(_ ready: [(owner: ControlPollOwner, fd: Int32, revents: Int16)]) {
        for (owner, fd, revents) in ready where revents != 0 {
            switch owner {
            case .target(let attach):
                finishAttach(attach, reason: "target-exited")
            case .sampler(let attach):
                if revents & Int16(POLLHUP | POLLERR) != 0 { attach.session.descriptorHungUp(fd) }
            }
        }
    }

    /// Control hook, once per loop iteration: drains attach sessions, ends those whose time is up, and
    /// measures every session's sample rate about once a second.
    func controlTick(nowNs now: UInt64) {
        for attach in control.attach.values where !attach.writing {
            let before = attach.session.sampleCount
            attach.session.drain()
            status.samplesSinceLastStatus += attach.session.sampleCount - before
            attach.session.rescanIfDue(nowNs: now)
            if let deadline = attach.deadlineNs, now >= deadline {
                finishAttach(attach, reason: "duration-elapsed")
            } else if !pidfdAlive(attach.pidfd) {
                finishAttach(attach, reason: "target-exited")
            }
        }
        let elapsed = now &- control.lastRateNs
        guard elapsed >= 1_000_000_000 else { return }
        control.lastRateNs = now
        // A target that became someone else's (exec of a set-user-ID program) is no longer the
        // requester's to profile: checked about once a second.
        for attach in control.attach.values where !attach.writing && !configuration.access.seesEverything(attach.requester) {
            if let credentials = ProcessCredentials.read(pid: attach.session.peer.pid), !credentials.permits(attach.requester.uid),
               pidfdAlive(attach.pidfd) {
                logger.warning("attach target changed its credentials; session stopped", metadata: [
                    "profd.session": "\(attach.session.id)", "profd.target_pid": "\(attach.session.peer.pid)",
                    "profd.client_uid": "\(attach.requester.uid)",
                ])
                finishAttach(attach, reason: "credentials-changed")
            }
        }
        var rates: [String: (count: Int, perSecond: Int)] = [:]
        for session in openSessions().map(\.session) {
            let previous = control.rates[session.id]?.count ?? 0
            let perSecond = Int(Double(session.sampleCount - previous) * 1e9 / Double(elapsed) + 0.5)
            rates[session.id] = (session.sampleCount, perSecond)
        }
        control.rates = rates
    }

    /// Control hook: a connection closed. Attach sessions without a duration that it started end
    /// (profctl was interrupted or killed); it waits for nothing any more.
    func controlConnectionClosed(_ serial: UInt64) {
        for attach in control.attach.values {
            attach.waiters.remove(serial)
            if attach.boundConnection == serial { finishAttach(attach, reason: "client-disconnected") }
        }
    }

    /// Control hook: a report set was written (or failed). Tells the attach session's waiters.
    func deliverControlOutcome(_ outcome: ReportWriter.Outcome) {
        guard outcome.connection == 0, let attach = control.attach.removeValue(forKey: outcome.sessionId) else { return }
        for serial in attach.waiters {
            guard let connection = connections[serial] else { continue }
            switch outcome.result {
            case .success(let directory):
                connection.send(.sessionStopped(SessionStopped(sessionId: outcome.sessionId, reportDirectory: directory)))
            case .failure(let error):
                connection.send(.error(ErrorReply(code: .internal, message: "reports of session \(outcome.sessionId) were not written: \(error)")))
            }
        }
    }

    /// Control hook, at shutdown: every attach session writes what it has.
    func finishAllAttach(reason: String) {
        for attach in control.attach.values { finishAttach(attach, reason: reason) }
    }

    /// Control hook, for the status line: the attach sessions being profiled.
    var attachStatusEntries: [DaemonStatus.Active] {
        control.attach.values.filter { !$0.writing }.sorted { $0.session.id < $1.session.id }
            .map { DaemonStatus.Active(pid: $0.session.peer.pid, unit: $0.session.unit) }
    }

    // MARK: Status

    /// Every session being profiled: clients' own and attach sessions.
    func openSessions() -> [(session: ProfilingSession, attach: AttachSession?)] {
        let clients = connections.values.compactMap { $0.session }.map { (session: $0, attach: AttachSession?.none) }
        let attached = control.attach.values.filter { !$0.writing }.map { (session: $0.session, attach: Optional($0)) }
        return (clients + attached).sorted { $0.session.id < $1.session.id }
    }

    /// The `statusReply` document for `peer`: root and the admin group see every session; anyone else only
    /// sessions of its own uid (as target or requester), and a count of the others.
    func statusDocument(for peer: PeerIdentity) -> String {
        let now = profd_monotonic_ns()
        var visible: [StatusDocument.Session] = []
        var hidden = 0
        for (session, attach) in openSessions() {
            let mine = configuration.access.permits(peer, owner: session.peer.uid) || attach?.requester.uid == peer.uid
            guard mine else { hidden += 1; continue }
            visible.append(StatusDocument.Session(
                id: session.id, kind: attach == nil ? "client" : "attach", pid: session.peer.pid, uid: session.peer.uid,
                requesterUid: attach?.requester.uid, unit: session.unit, service: session.service,
                executable: session.executable, startedAt: session.startedAt.rfc3339,
                elapsedNs: now &- session.startedAt.monotonicNs, durationNs: attach?.durationNs,
                frequencyHz: session.frequencyHz, state: "profiling", samples: session.sampleCount,
                samplesPerSecond: control.rates[session.id]?.perSecond ?? 0,
                lostSamples: session.capture.lostSamples, droppedSamples: session.capture.droppedSamples,
                spans: session.capture.spans.count, droppedSpans: session.capture.droppedSpans))
        }
        let writing = connections.values.filter { if case .stopping = $0.state { true } else { false } }.count
            + control.attach.values.filter(\.writing).count
        var document = StatusDocument(
            daemon: .init(version: ProfdVersion.string, pid: getpid(), startedAt: control.startedAt.rfc3339,
                          uptimeNs: now &- control.startedAt.monotonicNs, stateDirectory: configuration.stateDirectory,
                          samplesPerSecond: status.samplesPerSecond, writingSessions: writing),
            disk: .init(sessions: status.usage.sessions, bytes: status.usage.bytes, retentionLimitBytes: status.retentionLimitBytes),
            sessions: visible, otherUsersSessions: hidden)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        while true {
            let text = (try? encoder.encode(document)).map { String(decoding: TerminalSafe.json($0), as: UTF8.self) } ?? "{}"
            if text.utf8.count <= ProtocolLimits.statusDocument || document.sessions.isEmpty { return text }
            // Too many sessions for one reply: leave out the newest, and say how many.
            let cut = max(1, document.sessions.count / 8)
            document.sessions.removeLast(cut)
            document.omittedSessions += cut
        }
    }

    /// `/proc/PID/comm`, the process's command name.
    static func commandName(pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : name
    }
}

/// The path an open fd was opened with (`/proc/self/fd/N`), e.g. `/proc/4242/maps`.
func procLinkTarget(fd: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
    guard count > 0 else { return "" }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
