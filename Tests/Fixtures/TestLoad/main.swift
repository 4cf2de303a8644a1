// profd-testload: a real process for the real-kernel tests to profile.
//
//   profd-testload split --seconds S
//       Main thread burns S s of CPU in burnThreeQuarters() / burnOneQuarter() with a 3:1 split of equal work units.
//   profd-testload late-threads --seconds S --delay-ms D
//       Sleeps D ms, then starts two threads that each burn S − D seconds of CPU in lateThreadWorkAlpha() /
//       lateThreadWorkBeta().
//   profd-testload syscall-leaf --seconds S
//       Calls getppid() in a loop from syscallHeavyCaller(): a frameless libc leaf under a Swift caller.
//   profd-testload requests --seconds S
//       Short /work requests for S seconds of wall time; prints ProfClient's reconnect and drop counts.
//   profd-testload async-routes --requests N --bursts B --attribution task|global|thread
//       N concurrent async requests on /alpha and /beta, bursts of CPU between awaits.
//   profd-testload sleepy --requests N
//       N sequential /sleepy requests: Task.sleep 200 ms, then 10 ms of CPU.
//   profd-testload blocking --requests N
//       N sequential /blocking requests in a sync span: usleep 100 ms (the thread blocks), then 10 ms of CPU.
//   profd-testload main-exits-first --seconds S
//       The main thread exits at once; a worker burns CPU in lateThreadWorkAlpha() and ends the process.
//   profd-testload spin --seconds S
//       Burns S s of wall time on the main thread in attachTargetHotSpin(): a target for attach mode
//       (profctl start --pid), run without --profd-socket so it never talks to profd itself.
//   profd-testload open-request --seconds S [--exit-inside 1]
//       One /open-request span that burns S s of wall time in openRequestWork() and prints `in-request` once
//       the span is open: a client for tests to SIGKILL while its request is open. With `--exit-inside 1` it
//       calls exit(0) at the end, inside the span and without stopping its session.
//   profd-testload halving --requests N --half 0|1
//       N sequential /halving requests, each burning 8 ms of CPU in halvableWork(milliseconds:) (4 ms with
//       `--half 1`) and 4 ms in steadyWork(milliseconds:): the before and after of a change for `profctl diff`.
//   profd-testload flood --spans-per-second N --seconds S [--session-seconds R]
//       Open-loop /flood requests at N per second (Flood.swift) for the load test; prints one JSON line with
//       latency percentiles and ProfClient's counters, and exits (no `done`).
//
// PROFD_TESTLOAD_SLOW_MS=N in the environment keeps a report of every request of N ms or more;
// PROFD_TESTLOAD_HZ=N samples at N Hz instead of 1000.
// With `--profd-socket PATH` it profiles itself through profd with ProfClient: the session starts before
// `ready` is printed, `split` records one span per block on route /split, and at the end the session is
// stopped and `report <directory>` is printed.
//
// On startup it prints `ready <pid>` and flushes stdout; at the end it prints `done <checksum>`.
// To add a mode, add an entry to `modes`.
import Foundation
import ProfClient

/// Options after the mode name: `--name value` pairs.
struct Options {
    var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard flag.hasPrefix("--") else { fail("unexpected argument \(flag)") }
            guard let value = iterator.next() else { fail("missing value for \(flag)") }
            values[String(flag.dropFirst(2))] = value
        }
    }

    func double(_ name: String, default value: Double) -> Double {
        guard let text = values[name] else { return value }
        guard let parsed = Double(text), parsed >= 0 else { fail("--\(name) needs a non-negative number") }
        return parsed
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("profd-testload: \(message)\n".utf8))
    exit(2)
}

/// Writes one line to stdout unbuffered, so a parent reading the pipe sees it at once.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// CPU time of the calling thread: modes that promise an amount of work run for CPU time, not wall time,
/// so a busy machine (tests run in parallel) changes how long they take, not what they measure.
func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// One work unit: a fixed number of xorshift steps. Inlined so each caller's own code is the sampled leaf.
/// Each caller passes its own `salt`, so release builds cannot merge the identical-cost functions into one.
@inline(__always)
func spin(_ seed: UInt64, salt: UInt64) -> UInt64 {
    // A while loop of transparent integer operations: in debug builds a range loop calls into the
    // standard library, and a frameless leaf there hides the caller from frame-pointer unwinding.
    var x = seed | 1
    var step = 0
    while step < 50_000 {
        x ^= x &<< 13
        x ^= x &>> 7
        x ^= (x &<< 17) ^ salt
        step &+= 1
    }
    return x
}

@inline(never)
func burnThreeQuarters(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 1)
}

@inline(never)
func burnOneQuarter(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 2)
}

@inline(never)
func lateThreadWorkAlpha(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 3)
}

@inline(never)
func lateThreadWorkBeta(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 4)
}

/// `split`: blocks of 4 equal units, 3 in burnThreeQuarters and 1 in burnOneQuarter, until the time is up.
/// The single unit's place in each block is pseudo-random, so periodic sampling cannot lock onto the pattern
/// (a fixed 3-then-1 order aliases with the 1 ms sample period and skews the split when CPUs are contended).
func runSplit(_ options: Options) -> UInt64 {
    let deadline = threadCPUSeconds() + options.double("seconds", default: 2)
    var checksum: UInt64 = 0x9E37_79B9_7F4A_7C15
    while threadCPUSeconds() < deadline {
        let single = Int(checksum >> 61) & 3
        let block = { (seed: UInt64) -> UInt64 in
            var value = seed
            for place in 0..<4 {
                value = place == single ? burnOneQuarter(value) : burnThreeQuarters(value)
            }
            return value
        }
        checksum = profiler.map { $0.withSpan(route: "/split") { block(checksum) } } ?? block(checksum)
    }
    return checksum
}

/// Sets the calling thread's name (its `comm`) by writing `/proc/thread-self/comm`.
func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    _ = name.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}

/// `late-threads`: sleep, then two threads that each burn the rest of the time in CPU (their own CPU time,
/// not wall time, so that a loaded machine still gives both the same number of samples).
func runLateThreads(_ options: Options) -> UInt64 {
    let delay = options.double("delay-ms", default: 300) / 1000
    let budget = max(0.1, options.double("seconds", default: 2) - delay)
    usleep(UInt32(delay * 1e6))
    let finished = DispatchSemaphore(value: 0)
    let results = Results()
    let workers: [(String, @Sendable (UInt64) -> UInt64)] = [
        ("late-alpha", lateThreadWorkAlpha), ("late-beta", lateThreadWorkBeta),
    ]
    for (name, work) in workers {
        let thread = Thread {
            nameCurrentThread(name)
            var checksum = UInt64(name.utf8.count)
            let deadline = threadCPUSeconds() + budget
            while threadCPUSeconds() < deadline { checksum = work(checksum) }
            results.add(checksum)
            finished.signal()
        }
        thread.start()
    }
    for _ in workers { finished.wait() }
    return results.total
}

/// Checksums of the worker threads, so their work is observable.
final class Results: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var sum: UInt64 = 0
    func add(_ value: UInt64) { lock.withLock { sum ^= value } }
    var total: UInt64 { lock.withLock { sum } }
}

/// Connects to profd and waits (up to 10 s) until the session has started, so every thread the mode
/// creates is born inside the session.
func startProfiling(socket: String) -> ProfClient {
    var configuration = ProfClient.Configuration(service: "profd-testload")
    configuration.socketPath = socket
    // Kept requests (and so `profctl follow`) for requests at least this slow.
    if let raw = getenv("PROFD_TESTLOAD_SLOW_MS"), let ms = Int(String(cString: raw)) {
        configuration.slowRequestThreshold = .milliseconds(ms)
    }
    // The sampling rate, 1000 Hz unless PROFD_TESTLOAD_HZ says otherwise (to tell sampling's cost from the spans').
    configuration.frequencyHz = getenv("PROFD_TESTLOAD_HZ").flatMap { Int(String(cString: $0)) } ?? 1000
    let client = ProfClient(configuration: configuration)
    client.start()
    let deadline = monotonicSeconds() + 10
    while client.statistics.lastSessionId == nil {
        guard monotonicSeconds() < deadline else { fail("no profiling session from profd at \(socket)") }
        usleep(5_000)
    }
    return client
}

/// `main-exits-first`: a worker burns CPU in lateThreadWorkAlpha() while the main thread exits with
/// `pthread_exit`; the worker then finishes the session (if profiling) and exits the process.
func runMainExitsFirst(_ options: Options) -> UInt64 {
    let seconds = options.double("seconds", default: 1.5)
    let worker = Thread {
        nameCurrentThread("survivor")
        usleep(100_000)  // let the main thread exit first
        let deadline = threadCPUSeconds() + seconds
        var checksum: UInt64 = 3
        while threadCPUSeconds() < deadline { checksum = lateThreadWorkAlpha(checksum) }
        finish(checksum)
    }
    worker.start()
    pthread_exit(nil)
}

/// Stops profiling (printing the report directory) and prints `done`; the end of every mode.
func finish(_ checksum: UInt64) {
    if let profiler {
        guard let result = profiler.stop(timeout: .seconds(60)) else { fail("profd did not confirm the session's reports") }
        emit("report \(result.reportDirectory)")
        profiler.shutdown()
    }
    emit("done \(checksum)")
    exit(0)
}

/// Calls `getppid()` in a loop: libc's wrapper has no frame (`mov; syscall; ret`), so frame-pointer
/// unwinding alone skips this caller in every sample taken inside the syscall.
@inline(never)
func syscallHeavyCaller(until deadline: Double) -> UInt64 {
    var total: UInt64 = 0
    while monotonicSeconds() < deadline {
        var calls = 0
        while calls < 1000 {
            total &+= UInt64(getppid())
            calls &+= 1
        }
    }
    return total
}

/// `syscall-leaf`: syscallHeavyCaller() until the time is up.
func runSyscallLeaf(_ options: Options) -> UInt64 {
    syscallHeavyCaller(until: monotonicSeconds() + options.double("seconds", default: 1.5))
}

/// `requests`: a stream of short /work requests (one work unit each) for S seconds of wall time, then
/// `client reconnects=N dropped=M` with ProfClient's counters.
func runRequests(_ options: Options) -> UInt64 {
    let deadline = monotonicSeconds() + options.double("seconds", default: 3)
    var checksum: UInt64 = 11
    while monotonicSeconds() < deadline {
        checksum = profiler.map { $0.withSpan(route: "/work") { burnThreeQuarters(checksum) } } ?? burnThreeQuarters(checksum)
    }
    if let statistics = profiler?.statistics {
        emit("client reconnects=\(statistics.reconnects) dropped=\(statistics.spansDropped)")
    }
    return checksum
}

@inline(never)
func asyncBurstAlpha(_ seed: UInt64) -> UInt64 {
    var value = seed
    for _ in 0..<8 { value = spin(value, salt: 5) }
    return value
}

@inline(never)
func asyncBurstBeta(_ seed: UInt64) -> UInt64 {
    var value = seed
    for _ in 0..<8 { value = spin(value, salt: 6) }
    return value
}

/// One async request: bursts of CPU in its route's function with awaits between them, so the task
/// suspends and resumes, possibly on another thread, while other requests run in between.
func asyncRequest(route: String, bursts: Int) async -> UInt64 {
    var value = UInt64(route.utf8.count)
    for burst in 0..<bursts {
        value = route == "/alpha" ? asyncBurstAlpha(value) : asyncBurstBeta(value)
        if burst % 2 == 0 { await Task.yield() } else { try? await Task.sleep(for: .milliseconds(1)) }
    }
    return value
}

/// `async-routes --requests N --bursts B --attribution task|global|thread`: N concurrent async requests,
/// half /alpha and half /beta. `task` runs them on a dedicated 2-thread `TaskExecutorPool` with job-level
/// attribution; `global` stamps their jobs on the global executor's own threads
/// (`TaskExecutorPool.globalExecutor`, 2 threads on a 2-CPU machine); `thread` uses plain spans on the
/// global executor: the naive baseline.
func runAsyncRoutes(_ options: Options) -> UInt64 {
    let requests = Int(options.double("requests", default: 64))
    let bursts = Int(options.double("bursts", default: 20))
    let attribution = options.values["attribution"] ?? "task"
    let byTask = attribution != "thread"
    let pool = attribution == "global" ? ProfClient.TaskExecutorPool.globalExecutor : ProfClient.TaskExecutorPool(threads: 2)
    let done = DispatchSemaphore(value: 0)
    let results = Results()
    Task.detached {
        await withTaskGroup(of: UInt64.self) { group in
            for index in 0..<requests {
                let route = index % 2 == 0 ? "/alpha" : "/beta"
                group.addTask {
                    guard let profiler else { return await asyncRequest(route: route, bursts: bursts) }
                    if byTask {
                        return await profiler.withSpan(route: route, on: pool) { await asyncRequest(route: route, bursts: bursts) }
                    }
                    return await profiler.withSpan(route: route) { await asyncRequest(route: route, bursts: bursts) }
                }
            }
            for await value in group { results.add(value) }
        }
        done.signal()
    }
    done.wait()
    return results.total
}

/// Burns `milliseconds` of the calling thread's CPU time.
@inline(never)
func burnCPU(milliseconds: Double) -> UInt64 {
    let deadline = threadCPUSeconds() + milliseconds / 1000
    var value: UInt64 = 17
    while threadCPUSeconds() < deadline { value = spin(value, salt: 7) }
    return value
}

/// `sleepy --requests N`: N requests one after another on /sleepy, each awaiting `Task.sleep` for 200 ms
/// and then burning 10 ms of CPU, on a `TaskExecutorPool` (so suspension is visible to profd).
func runSleepy(_ options: Options) -> UInt64 {
    let requests = Int(options.double("requests", default: 5))
    let pool = ProfClient.TaskExecutorPool(threads: 2)
    let done = DispatchSemaphore(value: 0)
    let results = Results()
    Task.detached {
        for _ in 0..<requests {
            let work = { () async -> UInt64 in
                try? await Task.sleep(for: .milliseconds(200))
                return burnCPU(milliseconds: 10)
            }
            let value: UInt64
            if let profiler {
                value = await profiler.withSpan(route: "/sleepy", on: pool, work)
            } else {
                value = await work()
            }
            results.add(value)
        }
        done.signal()
    }
    done.wait()
    return results.total
}

/// One /blocking request's work: the thread blocks in `usleep` for 100 ms (off CPU, still holding the
/// request), then burns 10 ms of CPU.
@inline(never)
func blockThenBurn() -> UInt64 {
    usleep(100_000)
    return burnCPU(milliseconds: 10)
}

/// `blocking --requests N`: N requests one after another on /blocking, each a synchronous span on the
/// calling thread that blocks in a syscall for 100 ms and then burns 10 ms of CPU.
func runBlocking(_ options: Options) -> UInt64 {
    let requests = Int(options.double("requests", default: 5))
    var checksum: UInt64 = 0
    for _ in 0..<requests {
        checksum ^= profiler.map { $0.withSpan(route: "/blocking") { blockThenBurn() } } ?? blockThenBurn()
    }
    return checksum
}

/// The hot function of `spin`, with a name no other code has, for attach-mode tests to look for.
@inline(never)
func attachTargetHotSpin(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 10)
}

/// `spin --seconds S`: attachTargetHotSpin() until S seconds of wall time have passed.
func runSpin(_ options: Options) -> UInt64 {
    let deadline = monotonicSeconds() + options.double("seconds", default: 10)
    var checksum: UInt64 = 19
    while monotonicSeconds() < deadline { checksum = attachTargetHotSpin(checksum) }
    return checksum
}

/// Burns `milliseconds` of the calling thread's CPU time in xorshift steps, checking the clock every
/// 20 000 steps. The loop is written out in each caller (not a shared helper), so the caller's own code is
/// the sampled leaf and each caller keeps its own self time in debug builds too.
@inline(never)
func halvableWork(milliseconds: Double) -> UInt64 {
    let deadline = threadCPUSeconds() + milliseconds / 1000
    var x: UInt64 = 0x2545_F491_4F6C_DD1D
    while threadCPUSeconds() < deadline {
        var step = 0
        while step < 20_000 {
            x ^= x &<< 13
            x ^= x &>> 7
            x ^= (x &<< 17) ^ 8
            step &+= 1
        }
    }
    return x
}

/// The same work as `halvableWork(milliseconds:)`, with another salt so the two are never merged.
@inline(never)
func steadyWork(milliseconds: Double) -> UInt64 {
    let deadline = threadCPUSeconds() + milliseconds / 1000
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    while threadCPUSeconds() < deadline {
        var step = 0
        while step < 20_000 {
            x ^= x &<< 13
            x ^= x &>> 7
            x ^= (x &<< 17) ^ 9
            step &+= 1
        }
    }
    return x
}

/// `halving --requests N --half 0|1`: N sequential /halving requests, each 8 ms of CPU in
/// halvableWork(milliseconds:) (4 ms with `--half 1`: the change that halves its cost) and 4 ms in
/// steadyWork(milliseconds:). CPU-time budgets, so a loaded machine changes how long a run takes, not
/// what it measures.
func runHalving(_ options: Options) -> UInt64 {
    let requests = Int(options.double("requests", default: 100))
    let halvedMs = options.double("half", default: 0) != 0 ? 4.0 : 8.0
    let request = { () -> UInt64 in
        halvableWork(milliseconds: halvedMs) ^ steadyWork(milliseconds: 4)
    }
    var checksum: UInt64 = 0
    for _ in 0..<requests {
        checksum ^= profiler.map { $0.withSpan(route: "/halving") { request() } } ?? request()
    }
    return checksum
}

/// The hot function of `open-request`, with a name no other code has.
@inline(never)
func openRequestWork(_ seed: UInt64) -> UInt64 {
    spin(seed, salt: 11)
}

/// `open-request --seconds S`: opens one /open-request span, prints `in-request`, burns S s of wall time in
/// openRequestWork() inside it, then ends it. Tests kill the process, or let `--exit-inside 1` make it
/// `exit(0)` at the deadline without ending the span or stopping the session, while the request is open.
func runOpenRequest(_ options: Options) -> UInt64 {
    let deadline = monotonicSeconds() + options.double("seconds", default: 60)
    let exitInside = options.double("exit-inside", default: 0) != 0
    let span = profiler?.beginSpan(route: "/open-request")
    emit("in-request")
    var checksum: UInt64 = 23
    while monotonicSeconds() < deadline { checksum = openRequestWork(checksum) }
    if exitInside {
        emit("exiting inside the request")
        exit(0)
    }
    if let span { profiler?.endSpan(span, status: 200) }
    return checksum
}

let modes: [String: (Options) -> UInt64] = [
    "open-request": runOpenRequest,
    "halving": runHalving,
    "flood": runFlood,
    "async-routes": runAsyncRoutes,
    "blocking": runBlocking,
    "sleepy": runSleepy,
    "main-exits-first": runMainExitsFirst,
    "requests": runRequests,
    "syscall-leaf": runSyscallLeaf,
    "split": runSplit,
    "late-threads": runLateThreads,
    "spin": runSpin,
]

let arguments = CommandLine.arguments
guard arguments.count >= 2, let mode = modes[arguments[1]] else {
    fail("usage: profd-testload <\(modes.keys.sorted().joined(separator: "|"))> [--name value ...]")
}
let options = Options(arguments.dropFirst(2))
let profiler = options.values["profd-socket"].map(startProfiling)
emit("ready \(getpid())")
finish(mode(options))
