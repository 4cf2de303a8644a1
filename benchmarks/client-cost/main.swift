// profd-client-bench: what ProfClient costs the app per request, in nanoseconds.
//
//   swift run -c release profd-client-bench
//
// Measures, with profiling started and no daemon listening (the flusher drops what it takes, so the
// buffer never fills): a sync span (beginSpan + endSpan); the client's bookkeeping for one request whose
// one job is stamped (what the attribution costs, without moving the task); and async requests through
// `withSpan(route:on:)` / `profileRequest`, one at a time and 64 in flight, against the same requests
// without ProfClient (what moving the task onto the attribution pool costs).
import Foundation
@_spi(Benchmarks) import ProfClient

func nanoseconds(_ body: () -> Void) -> UInt64 {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return DispatchTime.now().uptimeNanoseconds - start
}

var configuration = ProfClient.Configuration(service: "bench")
configuration.socketPath = "/nonexistent/profd-bench.sock"
configuration.bufferCapacity = 1 << 20
let client = ProfClient(configuration: configuration)
client.start()

let syncIterations = 2_000_000
for _ in 0..<3 {
    let elapsed = nanoseconds {
        for _ in 0..<syncIterations {
            let span = client.beginSpan(route: "/bench")
            client.endSpan(span, status: 200)
        }
    }
    print(String(format: "sync span (beginSpan + endSpan): %.0f ns", Double(elapsed) / Double(syncIterations)))
}

for _ in 0..<3 {
    let elapsed = nanoseconds {
        for _ in 0..<syncIterations {
            let span = client.beginSpan(route: "/bench")
            client.recordJobForBenchmark(of: span)
            client.endSpan(span, status: 200)
        }
    }
    print(String(format: "request bookkeeping (beginSpan + one stamped job + endSpan): %.0f ns", Double(elapsed) / Double(syncIterations)))
}

let pool = ProfClient.TaskExecutorPool(threads: 2)
let asyncIterations = 200_000
@inline(never) func work(_ x: Int) -> Int { x &* 31 &+ 7 }

func runAsync(_ label: String, _ request: @escaping @Sendable (Int) async -> Int) {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox()
    Task.detached {
        let start = DispatchTime.now().uptimeNanoseconds
        var total = 0
        for i in 0..<asyncIterations { total &+= await request(i) }
        box.set(DispatchTime.now().uptimeNanoseconds - start, total)
        done.signal()
    }
    done.wait()
    print(String(format: "%@: %.0f ns per request", label, Double(box.elapsed) / Double(asyncIterations)))
}

final class ResultBox: @unchecked Sendable {
    var elapsed: UInt64 = 0
    var total = 0
    func set(_ elapsed: UInt64, _ total: Int) { self.elapsed = elapsed; self.total = total }
}

/// `requests` requests, `inFlight` at a time, like a loaded server: ns per request (wall / count).
func runConcurrent(_ label: String, inFlight: Int, requests: Int, _ request: @escaping @Sendable (Int) async -> Int) {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox()
    Task.detached {
        let start = DispatchTime.now().uptimeNanoseconds
        let total = await withTaskGroup(of: Int.self) { group in
            var next = 0, sum = 0
            for _ in 0..<inFlight { group.addTask { [next] in await request(next) }; next += 1 }
            while let value = await group.next() {
                sum &+= value
                if next < requests { group.addTask { [next] in await request(next) }; next += 1 }
            }
            return sum
        }
        box.set(DispatchTime.now().uptimeNanoseconds - start, total)
        done.signal()
    }
    done.wait()
    print(String(format: "%@: %.0f ns per request", label, Double(box.elapsed) / Double(requests)))
}

for _ in 0..<2 {
    runAsync("async request, no ProfClient") { i in work(i) }
    runAsync("async request, withSpan(on: pool)") { i in await client.withSpan(route: "/bench", on: pool) { work(i) } }
    runAsync("async request, profileRequest") { i in await client.profileRequest(method: "GET", path: "/bench") { _ in work(i) } }
    runConcurrent("64 in flight, no ProfClient", inFlight: 64, requests: asyncIterations) { i in await Task.yield(); return work(i) }
    runConcurrent("64 in flight, profileRequest", inFlight: 64, requests: asyncIterations) { i in
        await client.profileRequest(method: "GET", path: "/bench") { _ in await Task.yield(); return work(i) }
    }
}
client.shutdown()
