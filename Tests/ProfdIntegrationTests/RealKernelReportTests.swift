#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// The whole path on the real kernel: a child process links ProfClient, profiles itself through a real
/// profd, and the reports profd writes are checked against work the child is known to have done.
@Suite("Reports of real processes", .serialized)
struct RealKernelReportTests {
    /// Runs `profd-testload` against `daemon` and returns the parsed JSON reports of its session.
    private func profile(_ daemon: DaemonHarness, _ arguments: [String]) throws -> (session: JSONRenderer.Document, routes: [String: JSONRenderer.Document]) {
        let child = try ChildProcess(TestExecutables.path(of: "profd-testload"), arguments + ["--profd-socket", daemon.socketPath])
        try child.waitUntilReady(timeoutMs: 20_000)
        var directory: String?
        while let line = try child.readLine(timeoutMs: 60_000) {
            if line.hasPrefix("report ") { directory = String(line.dropFirst("report ".count)) }
        }
        #expect(child.waitForExit().exitCode == 0)
        let sessionDirectory = try #require(directory, "profd-testload did not print its report directory")
        let sessionId = String(sessionDirectory.split(separator: "/").last ?? "")
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let decoder = JSONDecoder()
        let session = try decoder.decode(JSONRenderer.Document.self, from: Data(store.readFile(session: sessionId, relativePath: "session.json")))
        var routes: [String: JSONRenderer.Document] = [:]
        for entry in try store.routes(session: sessionId) {
            routes[entry.route] = try decoder.decode(JSONRenderer.Document.self, from: Data(store.readFile(session: sessionId, relativePath: entry.files["json"]!)))
        }
        return (session, routes)
    }

    private func samples(of suffix: String, in document: JSONRenderer.Document) -> Int {
        document.functions.filter { $0.function.hasSuffix(suffix) }.map(\.totalSamples).max() ?? 0
    }

    @Test("a known 3:1 work split shows as 75/25 within ±5 points")
    func threeToOneSplit() throws {
        let daemon = try DaemonHarness()
        let (session, routes) = try profile(daemon, ["split", "--seconds", "2"])
        let report = try #require(routes["/split"], "the /split route report exists")
        let three = samples(of: "burnThreeQuarters(_:)", in: report)
        let one = samples(of: "burnOneQuarter(_:)", in: report)
        let share = Double(three) / Double(max(1, three + one))
        print("3:1 split: burnThreeQuarters \(three), burnOneQuarter \(one) samples → \(String(format: "%.1f", 100 * share))% / \(String(format: "%.1f", 100 * (1 - share)))%")
        #expect(three + one > 1_000, "2 s of CPU at 1 kHz should give well over 1000 samples")
        #expect(abs(share - 0.75) <= 0.05)
        #expect(Double(three + one) >= 0.9 * Double(report.samples.count), "the burn functions hold the route's time")
        #expect(session.session.service == "profd-testload")
        #expect(report.requests.count > 10)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("threads started after the session began appear with their own functions")
    func lateThreads() throws {
        let daemon = try DaemonHarness()
        let (session, _) = try profile(daemon, ["late-threads", "--seconds", "1.5", "--delay-ms", "300"])
        let alpha = samples(of: "lateThreadWorkAlpha(_:)", in: session)
        let beta = samples(of: "lateThreadWorkBeta(_:)", in: session)
        print("late threads: lateThreadWorkAlpha \(alpha), lateThreadWorkBeta \(beta) samples")
        #expect(alpha > 100)
        #expect(beta > 100)
        // The two workers were created inside the session: both must be covered, not just one.
        #expect(Double(min(alpha, beta)) > 0.3 * Double(max(alpha, beta)))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a target whose main thread exits first is still profiled, and profd does not spin")
    func mainThreadExitsFirst() throws {
        let daemon = try DaemonHarness()
        let child = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                     ["main-exits-first", "--seconds", "2", "--profd-socket", daemon.socketPath])
        try child.waitUntilReady(timeoutMs: 20_000)
        // profd's CPU over one second of the session, after the main thread has gone: a loop that kept
        // polling a hung-up ring would burn that whole second.
        usleep(400_000)
        let before = ProcessCPU.threadsCPUNs(pid: daemon.process.pid)
        usleep(1_000_000)
        let during = ProcessCPU.threadsCPUNs(pid: daemon.process.pid) - before
        var directory: String?
        while let line = try child.readLine(timeoutMs: 60_000) {
            if line.hasPrefix("report ") { directory = String(line.dropFirst("report ".count)) }
        }
        #expect(child.waitForExit().exitCode == 0)
        let sessionId = String(try #require(directory).split(separator: "/").last ?? "")
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let session = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(store.readFile(session: sessionId, relativePath: "session.json")))
        let survivor = samples(of: "lateThreadWorkAlpha(_:)", in: session)
        print("main-exits-first: survivor samples \(survivor), profd CPU \(during / 1_000_000) ms in 1 s of sampling")
        #expect(survivor > 500)
        #expect(during < 300_000_000)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("the caller of a frameless leaf (a libc syscall wrapper) is not lost")
    func framelessLeafCaller() throws {
        let daemon = try DaemonHarness()
        let (session, _) = try profile(daemon, ["syscall-leaf", "--seconds", "1.5"])
        let caller = samples(of: "syscallHeavyCaller(until:)", in: session)
        let kernel = samples(of: "[kernel]", in: session)
        print("syscall-leaf: syscallHeavyCaller \(caller) of \(session.samples.count) samples, \(kernel) in the kernel")
        #expect(kernel > session.samples.count / 2, "the workload lives in the getppid syscall")
        #expect(Double(caller) >= 0.9 * Double(session.samples.count))
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a client keeps serving through a profd restart and profiles into the new daemon")
    func daemonRestart() throws {
        let first = try DaemonHarness()
        let child = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                     ["requests", "--seconds", "4", "--profd-socket", first.socketPath])
        try child.waitUntilReady(timeoutMs: 20_000)
        usleep(1_000_000)
        #expect(first.stop().exitCode == 0, "SIGTERM writes the open session's reports and exits")
        let store = ReportStore(stateDirectory: first.stateDirectory)
        let interrupted = try #require(store.sessionIds().last)
        usleep(300_000)
        let second = try DaemonHarness(reusing: first)
        var report: String?
        var counters: String?
        while let line = try child.readLine(timeoutMs: 60_000) {
            if line.hasPrefix("report ") { report = line }
            if line.hasPrefix("client ") { counters = line }
        }
        #expect(child.waitForExit().exitCode == 0)
        print("restart: \(counters ?? "no counters"), \(report ?? "no report")")
        let ids = store.sessionIds()
        #expect(ids.count == 2, "one session per daemon: \(ids)")
        let resumed = try #require(ids.last)
        #expect(resumed != interrupted)
        #expect(report == "report " + store.sessionDirectory(resumed))
        #expect(counters?.contains("reconnects=0") == false, "the client reconnected")
        let decoder = JSONDecoder()
        let before = try decoder.decode(JSONRenderer.Document.self, from: Data(store.readFile(session: interrupted, relativePath: "session.json")))
        let after = try decoder.decode(JSONRenderer.Document.self, from: Data(store.readFile(session: resumed, relativePath: "session.json")))
        #expect(before.session.endReason == "daemon-shutdown")
        #expect(before.session.complete == false, "a session cut short by SIGTERM is marked incomplete")
        #expect(after.session.endReason == "stopped")
        #expect(after.session.complete == true)
        #expect(before.requests.count > 10)
        #expect(after.requests.count > 10, "the new daemon received the client's spans")
        #expect(second.stop().exitCode == 0)
    }

    @Test("async requests interleaved on two threads are attributed by task, not by thread")
    func asyncAttribution() throws {
        var figures: [String: (own: Double, other: Double)] = [:]
        for attribution in ["thread", "task", "global"] {
            let daemon = try DaemonHarness()
            let (_, routes) = try profile(daemon, ["async-routes", "--requests", "64", "--bursts", "40", "--attribution", attribution])
            var worst = (own: 1.0, other: 0.0)
            for (route, own, other) in [("/alpha", "asyncBurstAlpha(_:)", "asyncBurstBeta(_:)"), ("/beta", "asyncBurstBeta(_:)", "asyncBurstAlpha(_:)")] {
                let report = try #require(routes[route], "\(attribution): no \(route) report")
                // By (thread, time) one route can lose most samples to the other; only the task figures are judged.
                if attribution != "thread" {
                    #expect(report.samples.count > 150, "\(route): enough samples to judge")
                }
                let total = Double(max(1, report.samples.count))
                worst.own = min(worst.own, Double(samples(of: own, in: report)) / total)
                worst.other = max(worst.other, Double(samples(of: other, in: report)) / total)
            }
            figures[attribution] = worst
            #expect(daemon.stop().exitCode == 0)
        }
        let naive = try #require(figures["thread"]), task = try #require(figures["task"]), global = try #require(figures["global"])
        print(String(format: "async attribution, worst route: by (thread, time) %.1f%% own / %.1f%% other; by task on a 2-thread pool %.1f%% own / %.1f%% other; by task on the global executor %.1f%% own / %.1f%% other",
                     100 * naive.own, 100 * naive.other, 100 * task.own, 100 * task.other, 100 * global.own, 100 * global.other))
        for (own, other) in [task, global] {
            #expect(own >= 0.95)
            #expect(other <= 0.02)
        }
    }

    @Test("a request that sleeps 200 ms and burns 10 ms shows wall, CPU and waiting time")
    func wallTime() throws {
        let daemon = try DaemonHarness()
        let (_, routes) = try profile(daemon, ["sleepy", "--requests", "5"])
        let report = try #require(routes["/sleepy"])
        let time = try #require(report.requests.time)
        #expect(time.requests == 5)
        let count = Double(time.requests)
        let wall = Double(time.wallNs) / count / 1e6, cpu = Double(time.cpuNs) / count / 1e6
        let suspended = Double(time.suspendedNs) / count / 1e6, offCPU = Double(time.offCPUNs) / count / 1e6
        print(String(format: "sleepy request (mean): wall %.1f ms, CPU %.1f ms, off CPU on a thread %.1f ms, suspended %.1f ms", wall, cpu, offCPU, suspended))
        #expect(abs(wall - 210) <= 0.2 * 210)
        #expect(abs(cpu - 10) <= 0.2 * 10)
        #expect(abs(suspended - 200) <= 0.2 * 200)
        #expect(daemon.stop().exitCode == 0)
    }

    @Test("a request that blocks its thread 100 ms in a syscall and burns 10 ms shows 100 ms off CPU")
    func offCPUTime() throws {
        let daemon = try DaemonHarness()
        let (session, routes) = try profile(daemon, ["blocking", "--requests", "5"])
        let report = try #require(routes["/blocking"])
        let time = try #require(report.requests.time)
        #expect(time.requests == 5)
        let count = Double(time.requests)
        let wall = Double(time.wallNs) / count / 1e6, cpu = Double(time.cpuNs) / count / 1e6
        let suspended = Double(time.suspendedNs) / count / 1e6, offCPU = Double(time.offCPUNs) / count / 1e6
        let sampledCPU = Double(report.samples.count) * Double(session.session.periodNs) / count / 1e6
        print(String(format: "blocking request (mean): wall %.1f ms, CPU %.1f ms (samples: %.1f ms), off CPU on a thread %.1f ms, suspended %.1f ms",
                     wall, cpu, sampledCPU, offCPU, suspended))
        #expect(time.wallNs == time.cpuNs + time.offCPUNs + time.suspendedNs)
        // Off CPU holds the 100 ms usleep, measured from the kernel's context switches, plus any time the
        // thread waited for a CPU while runnable (preempted), which a loaded machine adds to the 10 ms burn.
        // So: at least the usleep, and anything beyond it matched by wall time beyond 110 ms.
        #expect(offCPU >= 80, "the usleep, measured from the kernel's context switches")
        #expect(offCPU - 100 <= max(0, wall - 110) + 20, "off CPU beyond the usleep is time spent preempted")
        #expect(abs(cpu - 10) <= 0.2 * 10)
        #expect(abs(sampledCPU - 10) <= 0.2 * 10, "the samples agree with the switch-based CPU figure")
        #expect(suspended < 1)
        #expect(daemon.stop().exitCode == 0)
    }
}
