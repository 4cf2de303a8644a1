#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdEngine
import ProfdTestKit
import Testing

/// `profctl follow` against a real profd and a real client: each slow request's tree appears while the
/// session still runs, within a second of the request ending.
@Suite("profctl follow", .serialized)
struct ProfctlFollowTests {
    @Test("a slow request's tree is printed within 1 s of the request ending")
    func slowRequestsStream() throws {
        let daemon = try DaemonHarness()
        let follow = try ChildProcess(TestExecutables.path(of: "profctl"), ["follow", "--state-dir", daemon.stateDirectory])
        usleep(300_000)
        // Eight /sleepy requests of ~210 ms each (200 ms suspended, 10 ms of CPU), all over the 100 ms threshold.
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["sleepy", "--requests", "8", "--profd-socket", daemon.socketPath],
                                      environment: ["PROFD_TESTLOAD_SLOW_MS=100"])
        try client.waitUntilReady(timeoutMs: 20_000)

        var latencies: [Double] = []
        var tree: [String] = []
        var sessionEndedBefore: [Bool] = []
        while latencies.count < 8, let line = try follow.readLine(timeoutMs: 5_000) {
            let readAt = Date()
            if line.hasPrefix("── ") {
                #expect(line.contains("/sleepy") && line.contains("status 200") && line.contains("slow"), "\(line)")
                let ended = try #require(Self.endTime(ofHeader: line), "began and wall in: \(line)")
                latencies.append(readAt.timeIntervalSince(ended))
                sessionEndedBefore.append(ReportStore(stateDirectory: daemon.stateDirectory).sessionIds().count > 0)
            } else {
                tree.append(line)
            }
        }
        print("follow: latency from request end to its tree on stdout: "
              + latencies.map { String(format: "%.0f ms", $0 * 1000) }.joined(separator: ", "))
        #expect(latencies.count == 8, "one tree per slow request")
        #expect(latencies.allSatisfy { $0 < 1.0 }, "each within 1 s: \(latencies)")
        // The session lasts about 1.7 s; the first half of its requests stream well before it ends.
        #expect(sessionEndedBefore.prefix(4).allSatisfy { !$0 }, "the trees streamed while the session ran: \(sessionEndedBefore)")
        let text = tree.joined(separator: "\n")
        #expect(text.contains("burnCPU(milliseconds:)"), "the request's own work is in its tree:\n\(text.prefix(2000))")
        #expect(text.contains("suspended"), "the time breakdown is there")

        #expect(client.waitForExit().exitCode == 0)
        follow.signal(SIGTERM)
        _ = follow.waitForExit()
        #expect(daemon.stop().exitCode == 0)
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let id = try #require(store.sessionIds().last)
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: store.sessionDirectory(id) + "/requests")) ?? []
        #expect(kept.filter { $0.hasSuffix(".json") }.count == 8, "the same eight requests are in the final reports")
    }

    @Test("--json prints one report per line; -n shows the last requests already written")
    func jsonAndBacklog() throws {
        let daemon = try DaemonHarness()
        let client = try ChildProcess(TestExecutables.path(of: "profd-testload"),
                                      ["blocking", "--requests", "4", "--profd-socket", daemon.socketPath],
                                      environment: ["PROFD_TESTLOAD_SLOW_MS=50"])
        try client.waitUntilReady(timeoutMs: 20_000)
        #expect(client.waitForExit().exitCode == 0)
        // The session has ended and its live folder is kept a while for followers that were late.
        let follow = try ChildProcess(TestExecutables.path(of: "profctl"),
                                      ["follow", "--state-dir", daemon.stateDirectory, "--json", "-n", "2"])
        var reports: [[String: Any]] = []
        while reports.count < 2, let line = try follow.readLine(timeoutMs: 5_000) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "one JSON object per line")
            reports.append(object)
        }
        follow.signal(SIGTERM)
        _ = follow.waitForExit()
        #expect(reports.count == 2)
        let routes = reports.compactMap { ($0["request"] as? [String: Any])?["route"] as? String }
        #expect(routes == ["/blocking", "/blocking"], "\(routes)")
        #expect(reports.allSatisfy { $0["kind"] as? String == "request" })
        #expect(daemon.stop().exitCode == 0)
    }

    /// When the request ended, from the header's `began <RFC 3339> ` and `wall <N>ms`.
    static func endTime(ofHeader line: String) -> Date? {
        let parts = line.components(separatedBy: " · ")
        guard let began = parts.first(where: { $0.hasPrefix("began ") })?.dropFirst("began ".count),
              let wall = parts.first(where: { $0.hasPrefix("wall ") })?.dropFirst("wall ".count).replacingOccurrences(of: "ms", with: ""),
              let wallMs = Double(wall)
        else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: String(began))?.addingTimeInterval(wallMs / 1000)
    }
}
