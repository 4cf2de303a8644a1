#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim

/// A failed system call on the client socket: the operation and its `errno`.
struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var errno: Int32

    var description: String { "\(operation): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// What a non-blocking receive produced.
enum ReceiveResult {
    case bytes(Int)
    case wouldBlock
    case closed
    case failed(SocketError)
}

/// A non-blocking, close-on-exec Unix stream socket connected to the daemon. Every system call of the
/// client goes through here; each retries `EINTR` and never raises `SIGPIPE`.
final class UnixSocket {
    private let fd: Int32
    /// `/proc/self/maps`, opened by this process, to hand to profd with the first bytes sent. profd
    /// runs as its own user with only CAP_PERFMON, so it may not open another user's maps itself; an fd
    /// opened here carries this process's permission, and profd checks that it is a procfs file.
    private var mapsToPass: Int32 = -1

    private init(fd: Int32) {
        self.fd = fd
        mapsToPass = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
    }

    deinit {
        _ = Glibc.close(fd)
        if mapsToPass >= 0 { _ = Glibc.close(mapsToPass) }
    }

    /// Connects to `path` without blocking. Wraps `socket(2)` and `connect(2)`.
    ///
    /// Fails with the `connect` errno (`ENOENT`, `ECONNREFUSED`, `EAGAIN` when the backlog is full) or
    /// `ENAMETOOLONG` if `path` does not fit in `sockaddr_un`.
    static func connect(path: String, sendBufferSize: Int?) -> Result<UnixSocket, SocketError> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { sunPath -> Bool in
            guard pathBytes.count < sunPath.count, !pathBytes.contains(0) else { return false }
            sunPath.copyBytes(from: pathBytes)
            return true
        }
        guard fits else { return .failure(SocketError(operation: "connect(\(path))", errno: ENAMETOOLONG)) }

        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { return .failure(SocketError(operation: "socket", errno: errno)) }
        let socket = UnixSocket(fd: fd)
        if let size = sendBufferSize {
            var value = Int32(clamping: size)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, socklen_t(MemoryLayout<Int32>.size))
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                retryingEINTR { Glibc.connect(fd, generic, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard result == 0 else { return .failure(SocketError(operation: "connect(\(path))", errno: errno)) }
        return .success(socket)
    }

    /// Writes as much of `bytes` as fits without blocking; returns the count (0 when the buffer is full).
    /// Wraps `send(2)` with `MSG_DONTWAIT | MSG_NOSIGNAL`.
    func send(_ bytes: UnsafeRawBufferPointer) -> Result<Int, SocketError> {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return .success(0) }
        if mapsToPass >= 0 {
            let n = retryingEINTR { profd_send_with_fd(fd, base, bytes.count, mapsToPass) }
            if n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                // Passed, or refused (an LSM may forbid passing fds): either way send plain bytes from now on.
                _ = Glibc.close(mapsToPass)
                mapsToPass = -1
            }
            if n >= 0 { return .success(n) }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .success(0) }
        }
        let flags = Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)
        let n = retryingEINTR { Glibc.send(fd, base, bytes.count, flags) }
        if n >= 0 { return .success(n) }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .success(0) }
        return .failure(SocketError(operation: "send", errno: errno))
    }

    /// Reads what is available without blocking. Wraps `recv(2)` with `MSG_DONTWAIT`.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .wouldBlock }
        let n = retryingEINTR { recv(fd, base, buffer.count, Int32(MSG_DONTWAIT)) }
        if n > 0 { return .bytes(n) }
        if n == 0 { return .closed }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
        return .failed(SocketError(operation: "recv", errno: errno))
    }
}

/// Repeats `call` while it fails with `EINTR`.
private func retryingEINTR<T: FixedWidthInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// Names the calling thread `name` (at most 15 bytes) so it is recognizable in `top` and in profiles.
/// Writes `/proc/thread-self/comm`; failures are ignored.
func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { _ = Glibc.close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { raw in retryingEINTR { Glibc.write(fd, raw.baseAddress, raw.count) } }
}
