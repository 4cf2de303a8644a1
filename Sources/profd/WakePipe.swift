#if canImport(Glibc)
import Glibc
#endif
import CProfdShim

/// A self-pipe that wakes the event loop from other threads and from signal handlers.
struct WakePipe {
    let readFd: Int32
    let writeFd: Int32

    init() throws(DaemonError) {
        var fds: [Int32] = [0, 0]
        guard profd_pipe_nonblocking(&fds) == 0 else { throw DaemonError("pipe2", errno: errno) }
        readFd = fds[0]
        writeFd = fds[1]
    }

    /// Async-signal-safe: one `write(2)`; a full pipe already means "wake up".
    static func signal(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readFd, &buffer, buffer.count) > 0 {}
    }
}

/// SIGTERM / SIGINT handling: the handler only sets a flag and writes to the wake pipe.
enum ShutdownSignal {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0
    nonisolated(unsafe) private static var wakeFd: Int32 = -1

    static var requested: Bool { flag != 0 }

    static func install(wakeFd fd: Int32) {
        wakeFd = fd
        let handler: @convention(c) (Int32) -> Void = { _ in
            ShutdownSignal.flag = 1
            WakePipe.signal(ShutdownSignal.wakeFd)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        signal(SIGPIPE, SIG_IGN)
        // A parent may have spawned us with these blocked (signal masks are inherited); unblock them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
