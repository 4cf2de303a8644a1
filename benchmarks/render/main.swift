// profd-render-bench: time and peak memory to build and render a 1 M-sample, 50 k-frame profile.
//
//   swift build -c release --product profd-render-bench
//   for f in text json html folded speedscope pprof; do .build/release/profd-render-bench $f; done
//
// One format per process, so that the peak RSS (getrusage ru_maxrss) belongs to that format. The profile
// is synthetic but goes through the real pipeline: a Capture of 1 M samples over 50 k distinct frames,
// attributed and aggregated by ReportBuilder, then rendered.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine

let format = CommandLine.arguments.dropFirst().first ?? "text"
let frameCount = 50_000, sampleCount = 1_000_000

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Deterministic: the same profile on every run.
nonisolated(unsafe) var state: UInt64 = 42
func random() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

// A call tree of 50 k frames, mostly deep chains with branching, a fifth of them in libraries.
let executable = "/srv/app/.build/release/app"
var frames: [Frame] = []
var parent: [Int] = []
for k in 0..<frameCount {
    let p = k == 0 ? -1 : (random() % 10 < 7 ? k - 1 : Int(random() % UInt64(k)))
    parent.append(p)
    frames.append(random() % 5 == 0
        ? Frame(function: "libc_fn_\(k)", binary: "/usr/lib/x86_64-linux-gnu/libc.so.6")
        : Frame(function: "App\(k % 40).Service\(k % 700).handle\(k)(request:context:)", binary: executable))
}
var capture = Capture()
let routes = ["GET /users/:id", "GET /search", "POST /orders", "GET /health"]
for (index, route) in routes.enumerated() {
    capture.spans.append(SpanRecord(spanId: UInt64(index + 1), route: route, threadId: Int32(index + 1),
                                    beginNs: 0, endNs: UInt64(sampleCount) * 1_000_000, status: 200))
}
var leafFirst: [UInt64] = []
for sample in 0..<sampleCount {
    leafFirst.removeAll(keepingCapacity: true)
    var node = Int(random() % UInt64(frameCount))
    while node >= 0, leafFirst.count < 128 { leafFirst.append(UInt64(node)); node = parent[node] }
    capture.add(tid: Int32(sample % routes.count + 1), timeNs: UInt64(sample) * 1_000_000, addresses: leafFirst, inKernel: false)
}
let metadata = SessionMetadata(id: "bench", service: "render-bench", pid: 1, uid: 0, executable: executable,
                               startedAt: "2026-11-26T00:00:00.000Z", endedAt: "2026-11-26T00:16:40.000Z",
                               durationNs: UInt64(sampleCount) * 1_000_000, frequencyHz: 1000, endReason: "stopped",
                               daemonVersion: "bench")
let captured = now()
let baseline = peakRSSMiB()
let reports = ReportBuilder(metadata: metadata, capture: capture).build { stack in stack.addresses.map { frames[Int($0)] } }
let built = now()
let report = reports.session

let started = now()
var bytes = 0
switch format {
case "text": bytes = TextRenderer().render(report).utf8.count
case "json": bytes = try JSONRenderer().render(report).utf8.count
case "html": bytes = HTMLRenderer().render(report).utf8.count
case "folded": bytes = FoldedRenderer().render(report).utf8.count
case "speedscope": bytes = try SpeedscopeRenderer().render(report).utf8.count
case "pprof": bytes = PprofRenderer().render(report).count
case "capture":
    let archive = CaptureArchive(metadata: metadata, options: ReportOptions(), capture: capture,
                                 framesByStack: reports.framesByStack, symbolize: { stack in stack.addresses.map { frames[Int($0)] } })
    bytes = try archive.encoded().count
default:
    FileHandle.standardError.write(Data("unknown format \(format)\n".utf8))
    exit(2)
}
let rendered = now()
print(String(format: "%@: %d samples, %d tree nodes; build %.2f s; render %.2f s, %.1f MB; peak RSS %.0f MiB (%.0f MiB before build)",
             format, report.samples, report.tree.nodes.count, built - captured, rendered - started, Double(bytes) / 1e6,
             peakRSSMiB(), baseline))
