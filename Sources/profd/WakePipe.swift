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
