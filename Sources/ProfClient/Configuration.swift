#if canImport(Glibc)
import Glibc
#endif

extension ProfClient {
    /// How a `ProfClient` reaches the daemon and how much it may buffer.
    public struct Configuration: Sendable {
        /// The socket path used when `PROFD_SOCKET` is unset or empty.
        public static let defaultSocketPath = "/run/profd/profd.sock"

        /// The service name shown in reports (sent in `hello`; cut to 256 UTF-8 bytes).
        public var service: String
        /// The daemon's Unix socket. Defaults to `$PROFD_SOCKET`, else `defaultSocketPath`.
        public var socketPath: String
        /// Span messages (begins + ends) buffered between flushes; more are dropped and counted. At least 1.
        public var bufferCapacity: Int = 8192
        /// How often the background thread writes buffered spans to the socket. At least 1 ms.
        public var flushInterval: Duration = .milliseconds(10)
        /// The least time between two connection attempts.
        public var reconnectInterval: Duration = .seconds(1)
        /// `SO_SNDBUF` for the client socket; nil keeps the kernel default. The socket never blocks either way.
        public var sendBufferSize: Int? = nil

        /// A configuration with defaults, reading `PROFD_SOCKET` from the environment.
        public init(service: String) {
            self.service = service
            self.socketPath = Self.socketPath(environmentValue: getenv("PROFD_SOCKET").map { String(cString: $0) })
        }

        /// The socket path for a given value of `PROFD_SOCKET`: the value unless it is nil or empty.
        public static func socketPath(environmentValue: String?) -> String {
            guard let value = environmentValue, !value.isEmpty else { return defaultSocketPath }
            return value
        }
    }
}

extension Duration {
    /// This duration in whole nanoseconds, clamped into `0...UInt64.max`.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        let fraction = UInt64(max(0, attoseconds) / 1_000_000_000)
        let (sum, overflow2) = whole.addingReportingOverflow(fraction)
        return overflow2 ? .max : sum
    }
}
