#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim

/// Samples every thread of one process with `perf_event_open(2)` software `cpu-clock` events, and records
/// the threads' context switches (`PERF_RECORD_SWITCH`: each time one leaves or enters a CPU).
///
/// Why per-CPU events: only `inherit = 1` covers threads created after the session starts, and the kernel
/// refuses to mmap an inherited per-thread (`cpu = -1`) event. So each thread present at start gets one event
/// per online CPU (`pid = tid, cpu = N`), all events of CPU N write into one ring (`PERF_EVENT_IOC_SET_OUTPUT`),
/// and threads created later inherit them (their FORK records name them). `rescanThreads()` is the safety net
/// for threads created while the events were being opened. A switch is written by the event of the CPU it
/// happens on, so a thread's switch-out and switch-in can land in different rings; inherited threads' records
/// go to the rings of the events they inherited.
///
/// Not thread-safe: use it from one thread (or one isolation domain) at a time.
public final class PerfSampler {
    /// The sampled process.
    public let pid: Int32
    public let configuration: SamplerConfiguration

    private struct Ring {
        let cpu: Int32
        /// The event the ring is mapped from; the other events of this CPU write into it.
        let fd: Int32
        let base: UnsafeMutableRawPointer
        let mappedLength: Int
        let dataSize: Int
        var tail: UInt64
    }

    private let cpus: [Int32]
    private var rings: [Ring?]
    /// Every open event fd; kept until `stop()` because closing a thread's event also ends the events its
    /// children inherited from it.
    private var eventFDs: [Int32] = []
    /// Threads whose events were opened directly.
    private var openedThreads: Set<Int32> = []
    /// Target threads known to be sampled and not yet exited.
    private var liveThreads: Set<Int32> = []
    /// Events produced outside the rings (names of threads present at start), delivered by the next drain.
    private var pendingEvents: [SamplerEvent] = []
    private var counters = SamplerStatistics()
    private let scratch: UnsafeMutableRawPointer
    private let pageSize = PerfSys.pageSize
    private var stopped = false

    /// Opens and enables events on every thread of `pid`.
    ///
    /// Throws `perfTargetNotFound` when the process does not exist, `perfPermissionDenied` (EACCES/EPERM)
    /// without root or CAP_PERFMON, `perfInvalidConfiguration`, `perfRingSetupFailed` or `perfOpenFailed`.
    public convenience init(pid: Int32, configuration: SamplerConfiguration = .init()) throws(EngineError) {
        try self.init(pid: pid, configuration: configuration, leavingUncovered: [])
    }

    /// Tests: opens like the public init but leaves the threads in `leavingUncovered` for `rescanThreads()`.
    init(pid: Int32, configuration: SamplerConfiguration, leavingUncovered: Set<Int32>) throws(EngineError) {
        self.pid = pid
        self.configuration = configuration
        self.cpus = PerfSys.onlineCPUs()
        self.rings = Array(repeating: nil, count: cpus.count)
        self.scratch = .allocate(byteCount: PerfRecordDecoder.maxRecordSize, alignment: 8)

        guard (1...100_000).contains(configuration.frequencyHz) else {
            throw EngineError(.perfInvalidConfiguration, "frequencyHz must be in 1...100000, got \(configuration.frequencyHz)")
        }
        let pages = configuration.ringDataPages
        guard pages >= 1, pages & (pages - 1) == 0, pages <= 1 << 16 else {
            throw EngineError(.perfInvalidConfiguration, "ringDataPages must be a power of two in 1...65536, got \(pages)")
        }
        guard pid > 0 else { throw EngineError(.perfTargetNotFound, "invalid pid \(pid)") }

        let initial: [Int32]
        do {
            initial = try PerfSys.threads(of: pid)
        } catch {
            throw EngineError(.perfTargetNotFound, "process \(pid) not found (/proc/\(pid)/task)", errno: error.errno)
        }
        for tid in initial where !leavingUncovered.contains(tid) {
            if try openThread(tid) { liveThreads.insert(tid) }
        }
        guard !openedThreads.isEmpty else {
            throw EngineError(.perfTargetNotFound, "process \(pid) exited before sampling started", errno: ESRCH)
        }
        // Threads created while the first events were being opened are covered by neither list nor inheritance.
        if leavingUncovered.isEmpty {
            for _ in 0..<4 {
                if try rescan() == 0 { break }
            }
        }
        for tid in liveThreads.sorted() {
            if let name = PerfSys.threadName(pid: pid, tid: tid) { pendingEvents.append(.threadName(tid: tid, name: name)) }
        }
    }

    deinit {
        stop()
        scratch.deallocate()
    }

    /// One descriptor per CPU ring, readable (`POLLIN`) once the ring is half full. Empty after `stop()`.
    /// A descriptor reports `POLLHUP` once the thread it was opened on has exited and left no inheritors;
    /// keep draining on a timer then.
    public var pollDescriptors: [Int32] {
        stopped ? [] : rings.compactMap { $0?.fd }
    }

    /// Counters since start; `threadsCovered` and `eventsOpen` are current values.
    public var statistics: SamplerStatistics {
        var snapshot = counters
        snapshot.threadsCovered = liveThreads.count
        snapshot.eventsOpen = eventFDs.count
        return snapshot
    }

    /// Consumes every complete record in every ring and hands the target's events to `body`, ring by ring
    /// (each ring is in time order; rings are not merged). Samples of other processes are counted and dropped.
    /// Context switches are counted and dropped; `drain(_:switches:)` delivers them. Does nothing after `stop()`.
    public func drain(_ body: (SamplerEvent) -> Void) {
        drain(body, switches: { _ in })
    }

    /// Like `drain(_:)`, and hands the target's context switches to `switches`, ring by ring: a thread's
    /// switch-out and its next switch-in may sit in different rings, or arrive in different drains.
    public func drain(_ body: (SamplerEvent) -> Void, switches: (ContextSwitch) -> Void) {
        guard !stopped else { return }
        if !pendingEvents.isEmpty {
            let pending = pendingEvents
            pendingEvents.removeAll()
            pending.forEach(body)
        }
        for index in rings.indices {
            guard let ring = rings[index] else { continue }
            let head = profd_perf_ring_head(ring.base)
            let data = UnsafeRawPointer(ring.base + pageSize)
            let newTail = PerfRecordDecoder.walk(
                data: data, size: ring.dataSize, tail: ring.tail, head: head, scratch: scratch
            ) { type, misc, record in
                handle(PerfRecordDecoder.decode(type: type, misc: misc, record: record), body, switches)
            }
            profd_perf_ring_set_tail(ring.base, newTail)
            counters.bytesRead &+= newTail &- ring.tail
            rings[index]?.tail = newTail
        }
    }

    /// Opens events for threads listed in `/proc/<pid>/task` that are neither opened nor known to have
    /// inherited events (by their FORK record, still in a ring or already drained). Returns how many were added.
    /// Safe to call on an exited target (returns 0).
    public func rescanThreads() -> Int {
        guard !stopped else { return 0 }
        do {
            return try rescan()
        } catch {
            return 0
        }
    }

    /// Disables and closes every event and unmaps the rings. Records not yet drained are discarded. Idempotent.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        for fd in eventFDs { try? PerfSys.disable(fd) }
        for ring in rings.compactMap({ $0 }) { _ = profd_perf_munmap(ring.base, ring.mappedLength) }
        for fd in eventFDs { PerfSys.close(fd) }
        eventFDs.removeAll()
        rings = Array(repeating: nil, count: rings.count)
        pendingEvents.removeAll()
    }

    // MARK: Private

    @inline(__always)
    private func handle(_ record: PerfRecordDecoder.Record, _ body: (SamplerEvent) -> Void,
                        _ switches: (ContextSwitch) -> Void) {
        switch record {
        case .sample(let sample):
            guard sample.pid == pid else {
                counters.foreignSamples &+= 1
                return
            }
            counters.samples &+= 1
            body(.sample(sample))
        case .fork(let forkPid, let tid, let time):
            guard forkPid == pid, liveThreads.insert(tid).inserted else { return }
            body(.threadStarted(tid: tid, timeNs: time))
        case .exit(let exitPid, let tid, let time):
            guard exitPid == pid, liveThreads.remove(tid) != nil else { return }
            body(.threadExited(tid: tid, timeNs: time))
        case .comm(let commPid, let tid, let name):
            guard commPid == pid else { return }
            body(.threadName(tid: tid, name: name))
        case .lost(let count):
            counters.lost &+= count
            body(.lost(count: count))
        case .contextSwitch(let switchPid, let contextSwitch):
            guard switchPid == pid else { return }
            counters.contextSwitches &+= 1
            switches(contextSwitch)
        case .other, .malformed:
            return
        }
    }

    /// One pass of the safety net; throws only for errors that are not "the thread is gone".
    private func rescan() throws(EngineError) -> Int {
        guard let listed = try? PerfSys.threads(of: pid) else { return 0 }
        // A thread that has run has had its FORK record written (copy_process writes it before the wakeup),
        // so check "has run" first and look for FORK records afterwards.
        var candidates = listed.filter {
            !liveThreads.contains($0) && !openedThreads.contains($0) && PerfSys.threadHasRun(pid: pid, tid: $0)
        }
        guard !candidates.isEmpty else { return 0 }
        var inherited: Set<Int32> = []
        for ring in rings.compactMap({ $0 }) {
            PerfRecordDecoder.forkedThreads(
                pid: pid, data: ring.base + pageSize, size: ring.dataSize,
                tail: ring.tail, head: profd_perf_ring_head(ring.base), scratch: scratch, into: &inherited)
        }
        candidates.removeAll { inherited.contains($0) }
        var added = 0
        for tid in candidates where try openThread(tid) {
            liveThreads.insert(tid)
            if let name = PerfSys.threadName(pid: pid, tid: tid) { pendingEvents.append(.threadName(tid: tid, name: name)) }
            added += 1
        }
        return added
    }

    /// Opens, redirects and enables one event per CPU on `tid`. Returns false when the thread is gone (ESRCH).
    private func openThread(_ tid: Int32) throws(EngineError) -> Bool {
        let dataSize = configuration.ringDataPages * pageSize
        var opened: [Int32] = []
        opened.reserveCapacity(cpus.count)
        do {
            for (index, cpu) in cpus.enumerated() {
                let fd = try PerfSys.openCPUClock(
                    tid: tid, cpu: cpu, periodNs: configuration.samplePeriodNs, wakeupBytes: UInt32(dataSize / 2))
                opened.append(fd)
                if let ring = rings[index] {
                    try PerfSys.setOutput(fd, to: ring.fd)
                } else {
                    let length = dataSize + pageSize
                    let base: UnsafeMutableRawPointer
                    do {
                        base = try PerfSys.mapRing(fd, length: length)
                    } catch {
                        throw EngineError(
                            .perfRingSetupFailed,
                            "cannot map a \(dataSize)-byte ring for CPU \(cpu) (large rings need CAP_IPC_LOCK)",
                            errno: error.errno)
                    }
                    rings[index] = Ring(cpu: cpu, fd: fd, base: base, mappedLength: length, dataSize: dataSize, tail: 0)
                }
            }
            for fd in opened { try PerfSys.enable(fd) }
        } catch let error as EngineError {
            opened.forEach(releaseUnmapped)
            throw error
        } catch let failure as PerfSys.Failure {
            opened.forEach(releaseUnmapped)
            switch failure.errno {
            case ESRCH:
                return false
            case EACCES, EPERM:
                throw EngineError(
                    .perfPermissionDenied,
                    "perf_event_open on thread \(tid) of process \(pid) was refused; run as root, grant CAP_PERFMON, "
                        + "or lower /proc/sys/kernel/perf_event_paranoid (kernel-mode samples need <= 1)",
                    errno: failure.errno)
            case EMFILE, ENFILE:
                throw EngineError(
                    .perfOpenFailed, "out of file descriptors: the sampler needs threads x CPUs event fds",
                    errno: failure.errno)
            default:
                throw EngineError(.perfOpenFailed, "perf_event_open on thread \(tid) failed", errno: failure.errno)
            }
        } catch {
            opened.forEach(releaseUnmapped)
            throw EngineError(.perfOpenFailed, "perf_event_open on thread \(tid) failed: \(error)")
        }
        eventFDs.append(contentsOf: opened)
        openedThreads.insert(tid)
        return true
    }

    /// Closes an event of a half-opened thread, unless a ring was mapped from it (rings live until `stop()`).
    private func releaseUnmapped(_ fd: Int32) {
        if rings.contains(where: { $0?.fd == fd }) {
            eventFDs.append(fd)
        } else {
            PerfSys.close(fd)
        }
    }
}
