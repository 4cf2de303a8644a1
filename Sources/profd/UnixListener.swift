#if canImport(Glibc)
import Glibc
#endif
import CProfdShim

/// The daemon's listening Unix stream socket.
struct UnixListener {
    let fd: Int32
    /// The socket file this process created, removed again by `close()`; nil for a socket systemd
    /// passed (`profd.socket` owns that file, and keeps it across restarts of the service).
    let path: String?

    /// A listening socket systemd opened for us (socket activation).
    static func adopted(fd: Int32) -> UnixListener {
        UnixListener(fd: fd, path: nil)
    }

    /// Binds and listens on `path`, creating its parent directory. A stale socket file left by a dead
    /// daemon is replaced; a live one (another profd answers) is an error.
    static func bind(path: String, mode: UInt32) throws(DaemonError) -> UnixListener {
        let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty { try makeDirectories(parent) }
        if isSocketFile(path) {
            if canConnect(path) { throw DaemonError("another profd is already listening on \(path)") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("socket()", errno: errno) }
        // Bind and listen under a temporary name, then rename into place: the socket file appears only
        // once it accepts connections, so a client that sees it never gets ECONNREFUSED.
        let staging = "\(path).\(getpid()).tmp"
        unlink(staging)
        var address = try socketAddress(staging)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { let e = errno; _ = Glibc.close(fd); throw DaemonError("bind \(staging)", errno: e) }
        chmod(staging, mode_t(mode))
        guard listen(fd, 128) == 0 else { let e = errno; _ = Glibc.close(fd); unlink(staging); throw DaemonError("listen \(path)", errno: e) }
        guard rename(staging, path) == 0 else { let e = errno; _ = Glibc.close(fd); unlink(staging); throw DaemonError("rename \(staging) to \(path)", errno: e) }
        return UnixListener(fd: fd, path: path)
    }

    /// Accepts one pending connection as a non-blocking fd, or nil when none is pending.
    func accept() -> Int32? {
        let client = profd_accept_nonblocking(fd)
        return client >= 0 ? client : nil
    }

    func close() {
        _ = Glibc.close(fd)
        if let path { unlink(path) }
    }

    static func socketAddress(_ path: String) throws(DaemonError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { throw DaemonError("socket path is longer than \(capacity - 1) bytes: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            buffer[bytes.count] = 0
        }
        return address
    }

    private static func isSocketFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    private static func canConnect(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = try? socketAddress(path) else { return false }
        defer { _ = Glibc.close(fd) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }

    private static func makeDirectories(_ path: String) throws(DaemonError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw DaemonError("create directory \(current)", errno: errno)
            }
        }
    }
}
