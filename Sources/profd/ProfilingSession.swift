#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import ProfdEngine
import ProfdProtocol

/// The kernel's word on who is at the other end of a connection (SO_PEERCRED), taken once at accept.
struct PeerIdentity: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
    /// Supplementary groups (`SO_PEERGROUPS`), for the admin group; empty when unknown.
    var groups: [UInt32] = []

    /// Reads the peer credentials of a connected Unix socket: SO_PEERCRED, plus SO_PEERGROUPS.
    static func of(socket fd: Int32) -> PeerIdentity? {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        guard profd_peer_credentials(fd, &pid, &uid, &gid) == 0, pid > 0 else { return nil }
        var count: Int32 = 0
        var groups: [UInt32] = []
        if let list = profd_peer_groups(fd, &count) {
            groups = Array(UnsafeBufferPointer(start: list, count: Int(max(count, 0))))
            free(list)
        }
        return PeerIdentity(pid: pid, uid: uid, gid: gid, groups: groups)
    }

    /// The primary gid and every supplementary group.
    func isMember(of group: UInt32) -> Bool { gid == group || groups.contains(group) }
}

/// One client's profiling session: its sampler, the samples and spans recorded so far, and the memory
/// maps needed to symbolize them later (the process may be gone by then).
final class ProfilingSession {
    let id: String
    let peer: PeerIdentity
    let service: String
    let frequencyHz: Int
    let startedAt: WallClock.Instant
    let executable: String?
    /// The client's systemd unit, from its cgroup (`sd_pid_get_unit`); nil outside systemd.
    let unit: String?
    /// The client's own `/proc/self/maps` fd, used when profd may not open `/proc/PID/maps` (another
    /// user's process: profd holds CAP_PERFMON, not CAP_SYS_PTRACE). Borrowed from the connection.
    private let passedMaps: Int32
    /// The sampled process's pidfd (borrowed), or -1: proof that `peer.pid` still names the process that
    /// asked, checked before and after the events are opened and before every rescan of its threads.
    private let pidfd: Int32
    /// Set once the pidfd says the process exited: its pid may name another process from now on.
    private(set) var processExited = false
    /// What the client asked of the reports (formats, kept requests, route filters).
    let reportOptions: ReportOptions
    /// `SessionMetadata.attachMode` for a session profctl started on a process without ProfClient.
    let mode: String?
    private let limits: DaemonConfiguration.Limits
    private let rescanIntervalNs: UInt64
    private var sampler: PerfSampler?
    private(set) var capture = Capture()
    private(set) var maps: ProcessMaps
    private(set) var openSpans: [UInt64: Int] = [:]
    /// Every span of the session by id: slices may arrive after their span ended.
    private var spanIndexById: [UInt64: Int] = [:]
    private var lastRescanNs: UInt64
    /// The client's allowance of span begins per second, and the spans refused beyond it.
    private var spanBucket: TokenBucket
    private(set) var suppressedSpans: UInt64 = 0
    /// The daemon-wide budget for captures, and what this session's capture holds of it.
    private let captureMemory: CaptureMemoryBudget
    private(set) var chargedBytes = 0
    /// Samples, spans, slices and switches this session dropped because the budget was exhausted.
    private(set) var droppedForMemory = 0
    /// Where `profctl follow` and `profctl top` stand in this session (ProfilingSession+Live.swift).
    var live = LiveFeedState()

    /// Starts sampling every thread of `peer.pid`. Throws if the kernel refuses (process gone, no permission).
    init(id: String, peer: PeerIdentity, service: String, frequencyHz: Int, reportOptions: ReportOptions = ReportOptions(),
         passedMaps: Int32 = -1, pidfd: Int32 = -1, mode: String? = nil, captureMemory: CaptureMemoryBudget,
         configuration: DaemonConfiguration) throws(EngineError) {
        self.id = id
        self.mode = mode
        self.reportOptions = reportOptions
        self.peer = peer
        self.service = service
        self.frequencyHz = frequencyHz
        self.limits = configuration.limits
        self.rescanIntervalNs = configuration.rescanIntervalNs
        self.startedAt = WallClock.now()
        self.passedMaps = passedMaps
        self.pidfd = pidfd
        self.captureMemory = captureMemory
        let exited = EngineError(.perfTargetNotFound, "process \(peer.pid) has exited; its pid is not profiled", errno: ESRCH)
        guard pidfd < 0 || pidfdAlive(pidfd) else { throw exited }
        self.unit = systemdUnit(ofPid: peer.pid)
        let maps = Self.readMaps(pid: peer.pid, passed: passedMaps) ?? ProcessMaps(parsing: "")
        self.maps = maps
        self.executable = Self.executablePath(pid: peer.pid) ?? maps.firstExecutablePath
        let sampler = try PerfSampler(pid: peer.pid, configuration: SamplerConfiguration(frequencyHz: frequencyHz, ringDataPages: configuration.ringDataPages))
        // The process may have exited, and its pid been reused, between the check above and the open.
        guard pidfd < 0 || pidfdAlive(pidfd) else {
            sampler.stop()
            throw exited
        }
        self.sampler = sampler
        self.lastRescanNs = profd_monotonic_ns()
        self.spanBucket = TokenBucket(ratePerSecond: configuration.limits.maximumSpansPerSecond)
    }

    /// Ring fds that reported POLLHUP (their thread exited). They stay readable forever, so the loop stops
    /// polling them and drains them on its timer instead.
    private var hungUp: Set<Int32> = []

    var pollDescriptors: [Int32] { (sampler?.pollDescriptors ?? []).filter { !hungUp.contains($0) } }

    func descriptorHungUp(_ fd: Int32) {
        hungUp.insert(fd)
    }
    var sampleCount: Int { capture.samples.count }

    /// Moves every record from the kernel rings into the capture, enforcing the sample limit (context
    /// switches, 16 bytes each like samples, have a limit of the same count of their own).
    func drain() {
        guard let sampler else { return }
        let maximumSamples = limits.maximumSamplesPerSession
        sampler.drain({ event in
            switch event {
            case .sample(let sample):
                if capture.samples.count < maximumSamples && !memoryRefuses() {
                    let stacksBefore = capture.stacks.count
                    capture.add(tid: sample.tid, timeNs: sample.timeNs, addresses: sample.callchain,
                                inKernel: sample.inKernel, stackWords: codeWords(sample.stackWords))
                    charge(CaptureCost.sample
                           + (capture.stacks.count > stacksBefore ? CaptureCost.stack(frames: sample.callchain.count) : 0))
                } else {
                    capture.droppedSamples += 1
                }
            case .threadName(let tid, let name):
                capture.threadNames[tid] = name
            case .lost(let count):
                capture.lostSamples += count
            case .threadStarted, .threadExited:
                break
            }
        }, switches: { contextSwitch in
            let kept = capture.switches.count
            // An exhausted budget drops it like the limit does, so the off-CPU time stays marked incomplete.
            capture.add(contextSwitch, limit: kept < maximumSamples && memoryRefuses() ? kept : maximumSamples)
            if capture.switches.count > kept { charge(CaptureCost.contextSwitch) }
        })
    }

    /// True, counting the refusal, when the daemon-wide budget has no room for another record.
    private func memoryRefuses() -> Bool {
        guard captureMemory.exhausted else { return false }
        droppedForMemory += 1
        return true
    }

    private func charge(_ bytes: Int) {
        chargedBytes += bytes
        captureMemory.charge(bytes)
    }

    /// Keeps only stack words that point into mapped code: candidates for a skipped return address.
    private func codeWords(_ words: StackWords) -> StackWords {
        StackWords(top: maps.mapping(containing: words.top) != nil ? words.top : 0,
                   second: maps.mapping(containing: words.second) != nil ? words.second : 0)
    }

    /// Covers threads the sampler missed and refreshes the memory maps, at most once per rescan interval.
    func rescanIfDue(nowNs: UInt64) {
        guard let sampler, !processExited, nowNs &- lastRescanNs >= rescanIntervalNs else { return }
        lastRescanNs = nowNs
        if pidfd >= 0 && !pidfdAlive(pidfd) {
            processExited = true
            return
        }
        _ = sampler.rescanThreads()
        if let fresh = Self.readMaps(pid: peer.pid, passed: passedMaps) { maps.merge(fresh) }
    }

    /// `/proc/PID/maps` when profd may read it, else the client's passed maps fd.
    private static func readMaps(pid: Int32, passed: Int32) -> ProcessMaps? {
        if !FaultHooks.denyProcMaps, let own = try? ProcessMaps.read(pid: pid) { return own }
        guard passed >= 0 else { return nil }
        return try? ProcessMaps.read(fd: passed)
    }

    func beginSpan(spanId: UInt64, route: String, threadId: UInt32, timeNs: UInt64) {
        // Its end and slices find no span and are ignored, so one check suppresses the whole span.
        guard spanBucket.take(nowNs: profd_monotonic_ns()) else {
            suppressedSpans += 1
            return
        }
        guard capture.spans.count < limits.maximumSpansPerSession && !memoryRefuses() else {
            capture.droppedSpans += 1
            return
        }
        charge(CaptureCost.span(routeBytes: route.utf8.count))
        openSpans[spanId] = capture.spans.count
        spanIndexById[spanId] = capture.spans.count
        capture.spans.append(SpanRecord(spanId: spanId, route: route, threadId: Int32(bitPattern: threadId), beginNs: timeNs))
    }

    func endSpan(spanId: UInt64, threadId: UInt32, timeNs: UInt64, status: UInt16, route: String) {
        // A span whose begin was dropped (limit, client buffer) has nothing to close.
        guard let index = openSpans.removeValue(forKey: spanId) else { return }
        capture.spans[index].endNs = timeNs
        capture.spans[index].endThreadId = Int32(bitPattern: threadId)
        capture.spans[index].status = Int(status)
        if !route.isEmpty { capture.spans[index].route = route }
        let record = capture.spans[index]
        if timeNs >= record.beginNs, reportOptions.reports(route: record.route),
           reportOptions.keepReason(wallNs: timeNs - record.beginNs, status: record.status, spanId: spanId) != nil {
            live.keep(span: index, endedAtNs: timeNs, limit: limits.maximumKeptRequestsPerSession)
        }
    }

    /// Records where spans' async work ran. Slices of unknown spans (their begin was dropped) are ignored;
    /// slices count against the span limit, so memory stays bounded.
    func addSlices(_ slices: [RunSlice]) {
        for slice in slices {
            guard let index = spanIndexById[slice.spanId] else { continue }
            guard capture.spans.count + capture.slices.count < 4 * limits.maximumSpansPerSession && !memoryRefuses() else {
                capture.droppedSpans += 1
                continue
            }
            charge(CaptureCost.slice)
            capture.slices.append(RunSliceRecord(span: index, threadId: Int32(bitPattern: slice.threadId),
                                                 beginNs: slice.beginNs, endNs: slice.endNs))
        }
    }

    /// Stops sampling and hands back everything needed to write the reports.
    func finish(reason: String) -> ReportJob {
        drain()
        if let fresh = Self.readMaps(pid: peer.pid, passed: passedMaps) { maps.merge(fresh) }
        sampler?.stop()
        sampler = nil
        return job(capture: capture, reason: reason)
    }

    /// `capture` with this session's metadata as of now, ready for the report writer. `reason` is the
    /// end reason, or `running` for a kept request written while the session goes on.
    func job(capture: Capture, reason: String) -> ReportJob {
        let now = WallClock.now()
        let running = reason == "running"
        var metadata = SessionMetadata(
            id: id, service: service, pid: peer.pid, uid: peer.uid, executable: executable,
            startedAt: startedAt.rfc3339, endedAt: now.rfc3339,
            durationNs: now.monotonicNs &- startedAt.monotonicNs, frequencyHz: frequencyHz, endReason: reason,
            lostSamples: capture.lostSamples, droppedSamples: capture.droppedSamples, droppedSpans: capture.droppedSpans,
            unit: unit, complete: running ? nil : reason == "stopped" || reason == "duration-elapsed", mode: mode,
            daemonVersion: ProfdVersion.string)
        if mode == nil && !running { metadata.suppressedSpans = suppressedSpans }
        let start = startedAt
        // A live copy's capture holds its one request; the session's limit applies to the final reports.
        return ReportJob(metadata: metadata, capture: capture, maps: maps, options: reportOptions,
                         maximumKeptRequests: running ? nil : limits.maximumKeptRequestsPerSession,
                         wallClockTime: { start.at(monotonicNs: $0).rfc3339 })
    }

    private static func executablePath(pid: Int32) -> String? {
        guard !FaultHooks.denyProcMaps else { return nil }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A finished session's data, handed from the event loop to the report writer.
struct ReportJob: Sendable {
    var metadata: SessionMetadata
    var capture: Capture
    var maps: ProcessMaps
    var options: ReportOptions
    /// Requests that may keep a report of their own (`--max-kept-requests-per-session`); nil: no limit.
    var maximumKeptRequests: Int?
    /// RFC 3339 time of a monotonic instant of this session.
    var wallClockTime: @Sendable (UInt64) -> String
}
