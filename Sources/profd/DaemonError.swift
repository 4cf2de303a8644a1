#if canImport(Glibc)
import Glibc
#endif

/// A failure of the daemon itself (socket setup, configuration), with the errno behind it.
struct DaemonError: Error, CustomStringConvertible {
    var message: String
    var errno: Int32?

    init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
