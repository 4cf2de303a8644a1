import ArgumentParser
import CProfdShim
import Foundation
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `--socket`, for the subcommands that talk to the running daemon.
struct SocketOptions: ParsableArguments {
    static let defaultPath = "/run/profd/profd.sock"

    @Option(name: .long, help: ArgumentHelp("profd's socket (default: $PROFD_SOCKET, else \(SocketOptions.defaultPath)).", valueName: "path"))
    var socket: String?

    var path: String { socket ?? Self.environmentOrDefault }

    /// `$PROFD_SOCKET`, else the default: the socket when no `--socket` is given.
    static var environmentOrDefault: String {
        if let environment = getenv("PROFD_SOCKET"), environment.pointee != 0 { return String(cString: environment) }
        return defaultPath
    }
}

/// Prints a hint line to stderr, below a `fail` message.
func hint(_ text: String) {
    writeAll(fd: STDERR_FILENO, Array("hint: \(text)\n".utf8))
}

/// Writes a line to stdout at once (not buffered): a parent reading a pipe sees it before profctl blocks.
func emitLine(_ text: String) {
    writeAll(fd: STDOUT_FILENO, Array((text + "\n").utf8))
}

/// A blocking connection to profd's socket for one control conversation. Every failure is printed (to
/// stderr, with what to do) and thrown as the documented exit code.
final class DaemonClient {
    let fd: Int32
    let path: String
    private var decoder = FrameDecoder()
    /// File descriptors that came with the daemon's bytes (SCM_RIGHTS), oldest first: one per `fileReply`.
    private var passedFds: [Int32] = []

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
        for passed in passedFds { close(passed) }
    }

    /// The fd that came with the `fileReply` just received; the caller closes it. -1 if none came.
    func takePassedFd() -> Int32 {
        passedFds.isEmpty ? -1 : passedFds.removeFirst()
    }

    /// Connects to `path`: exit 1 with a hint when no daemon listens there, 4 when the socket's
    /// permissions keep the caller out.
    static func connect(_ path: String) throws -> DaemonClient {
        switch attempt(path) {
        case .success(let client):
            return client
        case .failure(let failure):
            let shown = TerminalSafe.string(path)
            switch failure.errno {
            case ENOENT, ECONNREFUSED, ENOTDIR:
                fail("profd is not running: nothing listens on \(shown) (\(String(cString: strerror(failure.errno))))")
                hint("start it with `systemctl start profd.socket`, or run `profd` in the foreground; --socket PATH for another socket")
                throw ExitCode.failure
            case EACCES, EPERM:
                fail("permission denied on \(shown): only root and members of group profd may talk to profd")
                hint("join the group with `usermod -aG profd $USER` (then log in again); a service gets SupplementaryGroups=profd")
                throw ProfctlExit.permission
            case ENAMETOOLONG:
                fail("socket path is too long for a Unix socket: \(shown)")
                throw ExitCode.failure
            default:
                fail("cannot connect to \(shown): \(String(cString: strerror(failure.errno)))")
                throw ExitCode.failure
            }
        }
    }

    struct ConnectFailure: Error {
        var errno: Int32
    }

    /// Connects to `path`, or says why not (the errno), printing nothing.
    static func attempt(_ path: String) -> Result<DaemonClient, ConnectFailure> {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(ConnectFailure(errno: errno)) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            return .failure(ConnectFailure(errno: ENAMETOOLONG))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            buffer[bytes.count] = 0
        }
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let error = errno
            close(fd)
            return .failure(ConnectFailure(errno: error))
        }
        return .success(DaemonClient(fd: fd, path: path))
    }

    /// Sends one message, with `passing` (an open fd, or -1) attached as SCM_RIGHTS.
    func send(_ message: ProfdMessage, passing passed: Int32 = -1) throws {
        let bytes = message.encoded
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                passed >= 0 && offset == 0
                    ? profd_send_with_fd(fd, buffer.baseAddress!, buffer.count, passed)
                    : Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard sent > 0 else {
                fail("cannot send to profd on \(TerminalSafe.string(path)): \(String(cString: strerror(errno)))")
                throw ExitCode.failure
            }
            offset += sent
        }
    }

    enum Received {
        case message(ProfdMessage)
        /// `interrupt` became readable (Ctrl-C) before a message arrived.
        case interrupted
    }

    /// The next message from the daemon; waits forever, or until `interrupt` (an fd, or -1) is readable.
    /// A closed connection or an undecodable reply is exit 1.
    func receive(interrupt: Int32 = -1) throws -> Received {
        while true {
            do {
                if let message = try decoder.decodeNext() { return .message(message) }
            } catch {
                fail("undecodable reply from profd: \(error)")
                throw ExitCode.failure
            }
            var descriptors = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            if interrupt >= 0 { descriptors.append(pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), -1)
            if ready < 0 && errno == EINTR { continue }
            if descriptors.count > 1, descriptors[1].revents != 0 {
                var byte: UInt8 = 0
                _ = read(interrupt, &byte, 1)
                return .interrupted
            }
            guard descriptors[0].revents != 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var passed: Int32 = -1
            let count = buffer.withUnsafeMutableBytes { profd_recv_with_fd(fd, $0.baseAddress!, $0.count, &passed) }
            if passed >= 0 { passedFds.append(passed) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard count > 0 else {
                fail("profd closed the connection" + (count < 0 ? ": \(String(cString: strerror(errno)))" : ""))
                throw ExitCode.failure
            }
            decoder.append(buffer[0..<count])
        }
    }

    /// The next message, which must not be an error: an `error` reply is printed and thrown as its exit code.
    func reply(interrupt: Int32 = -1) throws -> Received {
        let received = try receive(interrupt: interrupt)
        if case .message(.error(let error)) = received { throw Self.exit(for: error) }
        return received
    }

    /// Prints a daemon error and returns the exit code it documents: 3 not found, 4 permission, else 1.
    static func exit(for error: ErrorReply) -> ExitCode {
        let message = TerminalSafe.string(error.message)
        switch error.code {
        case .permissionDenied:
            fail("permission denied: \(message)")
            return ProfctlExit.permission
        case .notFound:
            fail(message)
            return ProfctlExit.notFound
        case .unknownMessageType:
            fail("this profd does not know profctl's control messages (\(message)); upgrade profd")
            return ExitCode.failure
        default:
            fail("profd: \(message) (\(error.code))")
            return ExitCode.failure
        }
    }

    /// The daemon's status document (`statusRequest`), as sent and decoded.
    func status() throws -> (text: String, document: StatusDocument) {
        try send(.statusRequest)
        guard case .message(.statusReply(let reply)) = try self.reply() else {
            fail("profd answered statusRequest with something else")
            throw ExitCode.failure
        }
        do {
            return (reply.document, try JSONDecoder().decode(StatusDocument.self, from: Data(reply.document.utf8)))
        } catch {
            fail("profd's status document does not decode: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Ctrl-C (and SIGTERM) as a readable pipe, so a waiting profctl can stop its session before it exits.
enum Interrupts {
    nonisolated(unsafe) private static var writeFd: Int32 = -1

    /// Installs the handlers; returns the pipe's read end.
    static func install() -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        writeFd = fds[1]
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { _ in
                var byte: UInt8 = 1
                _ = write(Interrupts.writeFd, &byte, 1)
            }
        }
        return fds[0]
    }
}

/// `30s`, `500ms`, `2m`, `1h`, `1.5s`; a bare number is seconds. Nil when it does not parse.
func parseDurationMs(_ text: String) -> UInt64? {
    let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
    var number = Substring(text)
    var scale = 1000.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        number = text.dropLast(suffix.count)
        scale = factor
        break
    }
    guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
    return UInt64((value * scale).rounded())
}

/// `2h 13m 5s`, `12.3s`.
func humanDuration(_ ns: UInt64) -> String {
    let seconds = Double(ns) / 1e9
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    let total = Int(seconds)
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
    return h > 0 ? "\(h)h \(m)m \(s)s" : "\(m)m \(s)s"
}
