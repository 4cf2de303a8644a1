/// How the sampler samples: rate and ring size.
public struct SamplerConfiguration: Sendable, Equatable {
    /// Samples per second of CPU time per thread. Each sample stands for exactly `1e9 / frequencyHz` ns of CPU.
    /// Must be in 1...100_000.
    public var frequencyHz: Int
    /// Data pages of each per-CPU ring (excluding the control page). Must be a power of two.
    /// The default, 64 pages, is 256 KiB per CPU; rings of 16 MiB or more need CAP_IPC_LOCK.
    public var ringDataPages: Int

    public init(frequencyHz: Int = 1000, ringDataPages: Int = 64) {
        self.frequencyHz = frequencyHz
        self.ringDataPages = ringDataPages
    }

    /// CPU time each sample represents, in nanoseconds.
    public var samplePeriodNs: UInt64 { UInt64(1_000_000_000 / max(frequencyHz, 1)) }
}

/// One `PERF_RECORD_SAMPLE` of the target, decoded.
public struct RawSample: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    /// CLOCK_MONOTONIC nanoseconds, comparable to `clock_gettime(CLOCK_MONOTONIC)` in the target.
    public var timeNs: UInt64
    public var cpu: UInt32
    /// The thread was in the kernel (a syscall, a page fault) when sampled; `callchain` is the user stack
    /// that entered the kernel, so a report can show a `[kernel]` leaf on top of it.
    public var inKernel: Bool
    /// User IPs, leaf first: index 0 is the sampled (or kernel-entry) IP, the rest are return addresses.
    /// Context markers are stripped.
    public var callchain: [UInt64]
    /// The two words at the user stack pointer (0 when the kernel could not read them). When the leaf
    /// function has no frame of its own yet (or any more), its return address is here and not in
    /// `callchain`; `Symbolizer.repairedCallchain` puts it back.
    public var stackWords: StackWords

    public init(pid: Int32, tid: Int32, timeNs: UInt64, cpu: UInt32, inKernel: Bool, callchain: [UInt64],
                stackWords: StackWords = StackWords()) {
        self.pid = pid
        self.tid = tid
        self.timeNs = timeNs
        self.cpu = cpu
        self.inKernel = inKernel
        self.callchain = callchain
        self.stackWords = stackWords
    }
}

/// A sampled thread left or entered a CPU: one `PERF_RECORD_SWITCH`, written by the kernel's scheduler.
///
/// A thread is off CPU from a switch-out (or preemption) to its next switch-in. The two records of one
/// interval can come from different CPUs' rings, so sort a thread's switches by time before pairing them.
public struct ContextSwitch: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        /// The thread left the CPU because it blocked or slept (a syscall, a lock, a sleep).
        case switchOut
        /// The thread left the CPU while still runnable: preempted, waiting in the run queue.
        case preempted
        /// The thread got a CPU again.
        case switchIn
    }

    // Stored time first: 16 bytes a record, as the capture keeps them.
    /// `CLOCK_MONOTONIC` nanoseconds, comparable with samples and spans.
    public var timeNs: UInt64
    public var tid: Int32
    public var kind: Kind

    public init(tid: Int32, timeNs: UInt64, kind: Kind) {
        self.tid = tid
        self.timeNs = timeNs
        self.kind = kind
    }

    /// A switch-out of either kind.
    public var isOut: Bool { kind != .switchIn }
}

/// What `PerfSampler.drain` delivers, in ring order per CPU (rings are not merged by time).
public enum SamplerEvent: Sendable, Equatable {
    case sample(RawSample)
    /// A thread of the target was created during the session (a `PERF_RECORD_FORK`).
    case threadStarted(tid: Int32, timeNs: UInt64)
    /// A thread of the target ended (a `PERF_RECORD_EXIT`).
    case threadExited(tid: Int32, timeNs: UInt64)
    /// A thread's name: read from /proc for threads present at start, then from `PERF_RECORD_COMM`.
    case threadName(tid: Int32, name: String)
    /// The kernel dropped this many records because a ring was full (`PERF_RECORD_LOST`/`LOST_SAMPLES`).
    case lost(count: UInt64)
}

/// Counters of one sampler since it started.
public struct SamplerStatistics: Sendable, Equatable {
    /// Samples of the target delivered by `drain`.
    public var samples: UInt64 = 0
    /// Records the kernel dropped because a ring was full.
    public var lost: UInt64 = 0
    /// Samples of other processes (children the target forked inherit the events) that were discarded.
    public var foreignSamples: UInt64 = 0
    /// Target threads currently known to be sampled: opened directly or inherited, not yet exited.
    public var threadsCovered: Int = 0
    /// Open perf event file descriptors (threads opened directly × online CPUs).
    public var eventsOpen: Int = 0
    /// Context-switch records of the target delivered by `drain`.
    public var contextSwitches: UInt64 = 0
    /// Ring bytes consumed by `drain`.
    public var bytesRead: UInt64 = 0

    public init() {}
}

extension EngineError.Code {
    /// `perf_event_open(2)` failed for a reason other than permissions or a vanished target.
    public static let perfOpenFailed = Self("perf_open_failed")
    /// The sampler may not open events on the target: needs root, CAP_PERFMON, or a lower perf_event_paranoid.
    public static let perfPermissionDenied = Self("perf_permission_denied")
    /// The target process does not exist (or exited before any event was opened).
    public static let perfTargetNotFound = Self("perf_target_not_found")
    /// Mapping a ring buffer or an event ioctl failed.
    public static let perfRingSetupFailed = Self("perf_ring_setup_failed")
    /// The `SamplerConfiguration` is out of range.
    public static let perfInvalidConfiguration = Self("perf_invalid_configuration")
}

/// The top two words of a thread's user stack at a sample: `[sp]` and `[sp + 8]`.
public struct StackWords: Sendable, Hashable {
    public var top: UInt64
    public var second: UInt64

    public init(top: UInt64 = 0, second: UInt64 = 0) {
        self.top = top
        self.second = second
    }

    /// The word at `slot` (0 or 1).
    public subscript(slot: Int) -> UInt64 { slot == 0 ? top : second }
}
