// `flood`: an open-loop stream of tiny requests at a fixed rate, for the load test (Tests/Load/span-flood.sh).
import Foundation
import ProfClient

/// `CLOCK_MONOTONIC` in nanoseconds.
func monotonicNs() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// One request's real work: a few thousand xorshift steps (about 2 µs in release), small enough that the
/// profiler's per-request costs (two span messages, the odd sample interrupt) show in its latency.
@inline(never)
func floodRequestWork(_ seed: UInt64) -> UInt64 {
    var x = seed | 1
    var step = 0
    while step < 2_000 {
        x ^= x &<< 13
        x ^= x &>> 7
        x ^= (x &<< 17) ^ 11
        step &+= 1
    }
    return x
}

/// Stops and restarts the session every `seconds` on its own thread, the way a service profiles in windows:
/// each window's reports are written while the next one records. `stop()` blocks until the report is
/// written, so this keeps it off the request loop. Requests begun between a stop and the next start are
/// not recorded (counted by ProfClient as `spansNotRecorded`).
final class SessionRotation: @unchecked Sendable {  // `reports` and `finished` are guarded by `lock`
    private let lock = NSLock()
    private var reports: [String] = []
    private var failures = 0
    private var finished = false
    private let exited = DispatchSemaphore(value: 0)

    init(client: ProfClient, seconds: Double) {
        Thread {
            nameCurrentThread("rotation")
            while true {
                let deadline = monotonicSeconds() + seconds
                while monotonicSeconds() < deadline {
                    if self.lock.withLock({ self.finished }) { self.exited.signal(); return }
                    usleep(20_000)
                }
                self.record(client.stop(timeout: .seconds(60)))
                client.start()
            }
        }.start()
    }

    private func record(_ result: ProfClient.StopResult?) {
        lock.withLock {
            if let result { reports.append(result.reportDirectory) } else { failures += 1 }
        }
    }

    /// Ends the rotation (waiting for a stop in progress), stops the last session and returns every
    /// session's report directory and the count of stops that got no report.
    func finish(client: ProfClient) -> (reports: [String], failures: Int) {
        lock.withLock { finished = true }
        exited.wait()
        record(client.stop(timeout: .seconds(60)))
        return lock.withLock { (reports, failures) }
    }
}

/// Latency percentiles in microseconds of `samples` (nanoseconds), sorted in place.
func percentilesUs(_ samples: inout [UInt32]) -> [String: Double] {
    guard !samples.isEmpty else { return [:] }
    samples.sort()
    func at(_ q: Double) -> Double { Double(samples[min(samples.count - 1, Int(Double(samples.count) * q))]) / 1000 }
    return ["p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": Double(samples[samples.count - 1]) / 1000]
}

/// `flood --spans-per-second N --seconds S [--session-seconds R]`: requests on /flood scheduled open-loop
/// at N per second for S seconds (a request late for its slot starts at once; slots are never skipped, so
/// a stall is paid back). Each request is one span around `floodRequestWork`. Profiled with
/// `--profd-socket`, otherwise ProfClient is created but never started (its not-profiling fast path).
/// With R > 0 the session is rotated every R seconds (SessionRotation). Prints one JSON line: the rate
/// achieved, latency percentiles of the request itself (service: begin to end, span calls included) and
/// from its scheduled slot (response: queueing behind late slots included), and ProfClient's counters.
func runFlood(_ options: Options) -> UInt64 {
    let rate = max(1, options.double("spans-per-second", default: 12_500))
    let seconds = options.double("seconds", default: 10)
    let rotateSeconds = options.double("session-seconds", default: 0)
    let client = profiler ?? ProfClient(configuration: ProfClient.Configuration(service: "profd-testload"))
    let rotation = profiler != nil && rotateSeconds > 0 ? SessionRotation(client: client, seconds: rotateSeconds) : nil

    let total = Int(rate * seconds)
    var service = [UInt32](repeating: 0, count: total)
    var response = [UInt32](repeating: 0, count: total)
    let slotNs = 1e9 / rate
    let startNs = monotonicNs()
    var checksum: UInt64 = 23
    for index in 0..<total {
        let slot = startNs + UInt64(Double(index) * slotNs)
        var now = monotonicNs()
        if slot > now + 200_000 {  // more than 200 µs early: sleep until the slot (a burst of requests per wake-up)
            usleep(UInt32((slot - now) / 1000))
            now = monotonicNs()
        }
        let begin = now
        let span = client.beginSpan(route: "/flood")
        checksum = floodRequestWork(checksum)
        client.endSpan(span, status: 200)
        let end = monotonicNs()
        service[index] = UInt32(clamping: end - begin)
        response[index] = UInt32(clamping: end - min(begin, slot))
    }
    let elapsed = Double(monotonicNs() - startNs) / 1e9

    let (reports, failedStops): ([String], Int)
    if let rotation {
        (reports, failedStops) = rotation.finish(client: client)
    } else if profiler != nil {
        let result = client.stop(timeout: .seconds(60))
        (reports, failedStops) = (result.map { [$0.reportDirectory] } ?? [], result == nil ? 1 : 0)
    } else {
        (reports, failedStops) = ([], 0)
    }
    let statistics = client.statistics
    client.shutdown()
    let line: [String: Any] = [
        "pid": Int(getpid()), "profiled": profiler != nil, "requests": total, "seconds": elapsed,
        "targetRate": rate, "achievedRate": Double(total) / elapsed,
        "serviceUs": percentilesUs(&service), "responseUs": percentilesUs(&response),
        "spansRecorded": statistics.spansRecorded, "spansNotRecorded": statistics.spansNotRecorded,
        "spansSent": statistics.spansSent, "spansDropped": statistics.spansDropped,
        "messagesDropped": statistics.messagesDropped, "connects": statistics.connects,
        "reconnects": statistics.reconnects, "lastError": statistics.lastError ?? "",
        "reports": reports, "failedStops": failedStops, "checksum": String(checksum),
    ]
    let data = (try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data("{}".utf8)
    emit(String(decoding: data, as: UTF8.self))
    exit(0)
}
