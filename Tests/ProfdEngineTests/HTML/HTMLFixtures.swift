import Foundation
import ProfdEngine

/// Reports for the HTML tests and the browser test: a small session with kept requests (one of them on a
/// hostile route), and a large synthetic session for the first-paint benchmark.
enum HTMLFixtures {
    static let hostileRoute = "<script>alert(1)</script>"
    static let hostileFunction = "f<img src=x onerror=alert(2)>"

    /// Four routes, 24 requests, each kept (slow threshold 0); one route and one function are hostile.
    static func reports() -> ReportBuilder.Reports {
        var capture = Capture()
        let routes: [(String, Int)] = [("GET /compute", 200), ("GET /hash", 200), (hostileRoute, 200), ("POST /orders/:id", 500)]
        var symbols = ReportFixtures.symbols
        symbols[0x1005] = Frame(function: hostileFunction, binary: ReportFixtures.executable)
        symbols[0x1006] = Frame(function: "DemoApp.Orders.save(_:)", binary: ReportFixtures.executable, file: "Sources/DemoApp/Orders.swift", line: 42)
        let stacks: [String: [[UInt64]]] = [
            "GET /compute": [[0x7f00_0011, 0x7f00_0010, 0x1002], [0x7f00_0010, 0x1002], [0x1003]],
            "GET /hash": [[0x1004]],
            hostileRoute: [[0x1005]],
            "POST /orders/:id": [[0x1006], [0x7f00_0011, 0x1006]],
        ]
        var time: UInt64 = 1_000_000
        for request in 0..<24 {
            let (route, status) = routes[request % routes.count]
            let wall = UInt64(600_000 + (request * 7919) % 2_400_000)
            let tid = Int32(11 + request % 3)
            capture.spans.append(SpanRecord(spanId: UInt64(request + 1), route: route, threadId: tid, beginNs: time,
                                            endNs: time + wall, endThreadId: tid, status: status))
            let choices = stacks[route]!
            var t = time + 10_000
            var n = 0
            while t < time + wall {
                let leaf = choices[(n * 5 + request) % choices.count]
                capture.add(tid: tid, timeNs: t, addresses: leaf + [0x1001] + ReportFixtures.base, inKernel: leaf.first == 0x7f00_0011)
                t += 100_000
                n += 1
            }
            time += 1_300_000 + UInt64(request % 5) * 400_000
        }
        for offset in 0..<6 {
            capture.add(tid: 11, timeNs: time + UInt64(offset) * 1000, addresses: [0x7f00_0020] + ReportFixtures.base, inKernel: true)
        }
        let builder = ReportBuilder(metadata: ReportFixtures.metadata, capture: capture, options: ReportOptions(slowThresholdNs: 0),
                                    wallClockTime: { ns in "2026-11-26T11:17:55.\(String(format: "%03d", Int(ns / 1_000_000 % 1000)))Z" })
        return builder.build { stack in
            stack.addresses.map { symbols[$0] ?? Frame(function: "0x" + String($0, radix: 16), binary: "[unknown]") }
        }
    }

    /// A session of `nodes` distinct frames (one tree node each) and `nodes × samplesPerNode` samples, five
    /// routes on the first level, a fifth of the frames in libraries, and `keptRequests` kept requests.
    static func big(nodes: Int = 50_000, samplesPerNode: Int = 20, keptRequests: Int = 2_000) -> ProfileReport {
        var rng = SplitMix(seed: 42)
        let executable = ReportFixtures.executable
        var frames: [Frame] = [Frame(function: "", binary: "")]
        var parent: [Int] = [-1]
        var depth: [Int] = [0]
        let routes = ["GET /users/:id", "GET /search", "POST /orders", "GET /health", "PUT /users/:id"]
        for route in routes {
            frames.append(Frame(function: route, binary: ReportBuilder.routeBinary))
            parent.append(0)
            depth.append(1)
        }
        while frames.count < nodes {
            let k = frames.count
            var p: Int
            if rng.next() % 10 < 7 && depth[k - 1] < 48 {
                p = k - 1
            } else {
                p = 1 + Int(rng.next() % UInt64(k - 1))
            }
            if depth[p] >= 64 { p = 1 + Int(rng.next() % UInt64(routes.count)) }
            let library = rng.next() % 5 == 0
            let frame = library
                ? (rng.next() % 2 == 0
                    ? Frame(function: "Swift.Array.lib\(k)(_:)", binary: executable)
                    : Frame(function: "libc_fn_\(k)", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6"))
                : Frame(function: "App\(k % 40).Service\(k % 700).handle\(k)(request:context:)", binary: executable)
            frames.append(frame)
            parent.append(p)
            depth.append(depth[p] + 1)
        }
        var tree = CallTree()
        var path: [Frame] = []
        for k in 1..<frames.count {
            path.removeAll(keepingCapacity: true)
            var j = k
            while j > 0 { path.append(frames[j]); j = parent[j] }
            tree.add(rootFirst: path.reversed(), count: samplesPerNode)
        }
        var metadata = ReportFixtures.metadata
        metadata.service = "big-synthetic"
        var report = ProfileReport(scope: .session, metadata: metadata, requests: RequestSummary(), tree: tree)
        var begin: UInt64 = 5_000_000_000
        for index in 0..<keptRequests {
            let wall = 200_000 + rng.next() % 20_000_000
            var kept = KeptRequest(spanId: UInt64(index + 1), route: routes[index % routes.count], status: index % 37 == 0 ? 500 : 200,
                                   beginNs: begin, endNs: begin + wall, time: TimeBreakdown(), startedAt: "2026-11-26T11:17:55.000Z")
            kept.files = ["html": "requests/request-\(index + 1).html"]
            report.keptRequests.append(kept)
            begin += rng.next() % 5_000_000
        }
        return report
    }
}

/// A small deterministic generator (the synthetic profile must be the same on every run).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
