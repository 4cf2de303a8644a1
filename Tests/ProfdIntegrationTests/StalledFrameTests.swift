#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdProtocol
import ProfdTestKit
import Testing

/// A client that sends half a frame and stalls with its connection open (SECURITY.md, "Faults").
///
/// profd has no idle timeout: a stalled connection holds its slot until the client closes it. What bounds
/// the damage is `--max-connections-per-uid` (slots) and `--max-message-bytes` (what one connection may
/// buffer), and this test shows both, and that everyone else is served meanwhile.
@Suite("Faults: a stalled half frame", .serialized)
struct StalledFrameTests {
    static let maximumMessageBytes = 4096
    static let connectionsPerUid = 4

    /// A connection that said hello and then sent a frame header promising 4 000 bytes, and 1 000 of them.
    private func stalledConnection(_ socket: String) throws -> RawConnection {
        let connection = try RawConnection(path: socket)
        connection.send(.hello(Hello(service: "stalled")))
        guard case .message(.helloAck) = try connection.receive() else { throw TestKitError("no helloAck") }
        connection.send(rawFrame(type: 0x01, length: 4000, payload: [UInt8](repeating: 0x41, count: 1000)))
        return connection
    }

    @Test("half a frame, then silence: others are served, profd idles, memory and slots are bounded, the truncation is logged at close")
    func stalledHalfFrame() throws {
        let daemon = try LoggedDaemon(arguments: ["--max-message-bytes", "\(Self.maximumMessageBytes)",
                                                  "--max-connections-per-uid", "\(Self.connectionsPerUid)"])
        var stalled = [try stalledConnection(daemon.socketPath)]

        // profd neither spins nor waits on the stalled frame: it idles, and a whole session goes through.
        let cpu = DaemonProbe.cpuNs(of: daemon.process.pid, over: 1)
        let seconds = try serveOneSession(daemon.socketPath)
        print("stalled half frame: profd CPU \(cpu / 1_000_000) ms in 1 s; another client's whole session took \(String(format: "%.2f", seconds)) s")
        #expect(cpu < 300_000_000)
        #expect(seconds < 30, "served while the stalled frame is pending (30 s bound for a loaded machine)")

        // Memory: a header promising more than --max-message-bytes is refused as it arrives, so no connection
        // buffers more than that (DaemonProtocolTests "oversized length" checks the default limit).
        let oversized = try RawConnection(path: daemon.socketPath)
        oversized.send(rawFrame(type: 0x01, length: UInt32(Self.maximumMessageBytes + 1)))
        guard case .message(.error(let refusal)) = try oversized.receive() else {
            Issue.record("a frame over --max-message-bytes must be refused at its header")
            return
        }
        #expect(refusal.code == .payloadTooLarge)
        #expect(try oversized.receive() == .closed)

        // Slots: stalled connections count against --max-connections-per-uid like any other, so one uid can
        // hold at most that many; the next is refused, and a closed one frees its slot.
        stalled += try (1..<Self.connectionsPerUid).map { _ in try stalledConnection(daemon.socketPath) }
        let refused = try RawConnection(path: daemon.socketPath)
        guard case .message(.error(let limit)) = try refused.receive() else {
            Issue.record("connection \(Self.connectionsPerUid + 1) of one uid must be refused")
            return
        }
        #expect(limit.code == .limitExceeded)
        stalled.removeLast()
        #expect(DaemonProbe.waitUntil(seconds: 10) { (try? serveOneSession(daemon.socketPath)) != nil }, "a freed slot serves again")

        // The stalled clients finally close: each truncated frame is logged, and profd goes on.
        stalled.removeAll()
        let logged = DaemonProbe.waitUntil(seconds: 10) {
            daemon.log.components(separatedBy: "client closed mid-frame").count - 1 == Self.connectionsPerUid
        }
        let lines = daemon.log.split(separator: "\n").filter { $0.contains("client closed mid-frame") }
        print("stalled half frame: \(lines.first ?? "no log line")")
        #expect(logged, "one log line per truncated frame (\(Self.connectionsPerUid)), got \(lines.count)")
        #expect(lines.allSatisfy { $0.contains(" warning profd:") && $0.contains("truncated frame") && $0.contains("profd.client_pid=\(getpid())") },
                "logged as a warning, like other protocol errors, naming the client")
        #expect(daemon.isRunning)
        try serveOneSession(daemon.socketPath)
        #expect(daemon.stop().exitCode == 0)
    }
}
