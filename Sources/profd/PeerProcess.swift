#if canImport(Glibc)
import Glibc
#endif
import CProfdShim

/// The process that connected, pinned by a pidfd taken at accept. SO_PEERCRED names a pid, and a pid is
/// reused once its process exits: a client could hand its socket to a helper, exit, and wait for the pid
/// to name someone else's process before asking for a session. profd samples the pid only while this
/// pidfd says the process that connected is still running.
enum PeerProcess {
    /// A pidfd for the peer of `socket`: `SO_PEERPIDFD` (the kernel's own record of who connected, Linux
    /// 6.5+), else `pidfd_open(pid)` right after accept (older kernels; it only narrows the window). Nil
    /// when the process is already gone, with errno set.
    static func pidfd(socket: Int32, pid: Int32) -> Int32? {
        let fd = profd_peer_pidfd(socket)
        if fd >= 0 { return fd }
        guard errno == ENOPROTOOPT || errno == EINVAL else { return nil }
        let opened = profd_pidfd_open(pid)
        return opened >= 0 ? opened : nil
    }
}
