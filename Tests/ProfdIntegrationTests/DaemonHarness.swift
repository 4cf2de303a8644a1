#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdProtocol
import ProfdTestKit
import Testing

/// A real profd process on a private socket and state directory, stopped with SIGTERM at the end.
final class DaemonHarness {
    let stateDirectory: String
    let socketPath: String
    let process: ChildProcess
    private let ownsDirectories: Bool

    /// Starts profd; given an earlier harness's directories, a new daemon takes over its socket and state.
    /// `arguments` are added to profd's command line (e.g. `--socket-mode 666`). With `logFile`, profd's
    /// log (stderr) goes there, for tests that read what it said.
    init(reusing previous: DaemonHarness? = nil, arguments: [String] = [], logFile: String? = nil) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("profd-it-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        stateDirectory = previous?.stateDirectory ?? root + "/state"
        socketPath = previous?.socketPath ?? root + "/profd.sock"
        ownsDirectories = previous == nil
        let command = [try TestExecutables.path(of: "profd"), "--state-dir", stateDirectory, "--socket", socketPath,
                       "--log-level", "debug"] + arguments
        if let logFile {
            process = try ChildProcess("/bin/sh", ["-c", #"exec "$0" "$@" 2>"$PROFD_LOG""#] + command + ["--log-target", "stderr"],
                                       environment: ["PROFD_LOG=\(logFile)"])
        } else {
            process = try ChildProcess(command[0], Array(command.dropFirst()))
        }
        let deadline = Date().addingTimeInterval(10)
        while access(socketPath, F_OK) != 0 {
            guard Date() < deadline else { throw TestKitError("profd did not create \(socketPath)") }
            if process.reapIfExited() != nil { throw TestKitError("profd exited at startup") }
            usleep(20_000)
        }
    }

    /// Whether the daemon process is still running.
    var isRunning: Bool { process.reapIfExited() == nil }

    /// SIGTERM, then the exit status. Every JSON report the daemon wrote must validate against
    /// docs/report-schema.json (checked with Debian's python3-jsonschema; a failure is a test issue).
    func stop() -> ChildExit {
        process.signal(SIGTERM)
        let exit = process.waitForExit()
        validateReports()
        return exit
    }

    private func validateReports() {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        do {
            let validator = try ChildProcess("/usr/bin/python3", [root.path + "/Tests/validate-reports.py", stateDirectory])
            var output: [String] = []
            while let line = try validator.readLine() { output.append(line) }
            let result = validator.waitForExit()
            if result.exitCode != 0 {
                Issue.record("reports in \(stateDirectory) do not match docs/report-schema.json: \(output.joined(separator: "\n"))")
            }
        } catch {
            Issue.record("cannot run Tests/validate-reports.py (is python3-jsonschema installed?): \(error)")
        }
    }

    deinit {
        process.signal(SIGKILL)
        if ownsDirectories {
            try? FileManager.default.removeItem(atPath: (stateDirectory as NSString).deletingLastPathComponent)
        }
    }
}

extension ChildProcess {
    /// The directory from a `profd-testload` client's `report DIR` line, reading its output until then;
    /// nil if it ended without one.
    func reportDirectory(timeoutMs: Int32) throws -> String? {
        while let line = try readLine(timeoutMs: timeoutMs) {
            if line.hasPrefix("report ") { return String(line.dropFirst("report ".count)) }
        }
        return nil
    }
}

/// A blocking test client that speaks raw bytes, so tests can send exactly the frames they want.
final class RawConnection {
    let fd: Int32
    private var decoder = FrameDecoder()

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { close(fd); throw TestKitError("connect \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    func send(_ message: ProfdMessage) { send(message.encoded) }

    /// Closes the sending half, so the daemon sees end of stream.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    enum Reply: Equatable {
        case message(ProfdMessage)
        case closed
    }

    /// The next message from the daemon, or `.closed` at end of stream. Throws on timeout.
    func receive() throws -> Reply {
        while true {
            if let message = try decoder.decodeNext() { return .message(message) }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if count == 0 || (count < 0 && errno == ECONNRESET) { return .closed }
            guard count > 0 else { throw TestKitError("no reply from profd: errno \(errno)") }
            decoder.append(buffer[0..<count])
        }
    }
}

/// A frame header followed by `payload`, with every field chosen by the test.
func rawFrame(magic: (UInt8, UInt8) = (0x50, 0x46), version: UInt8 = 1, type: UInt8, length: UInt32? = nil, payload: [UInt8] = []) -> [UInt8] {
    let length = length ?? UInt32(payload.count)
    return [magic.0, magic.1, version, type,
            UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)] + payload
}
