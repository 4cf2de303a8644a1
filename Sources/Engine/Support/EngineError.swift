#if canImport(Glibc)
import Glibc
#endif

/// The one error type of the Engine: a code, a human message, and the errno behind it when a syscall failed.
public struct EngineError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Extensible error codes. Each pipeline stage declares its own codes in an extension.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// The `errno` of the failed system call, if any.
    public var errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        guard let errno else { return "\(code): \(message)" }
        return "\(code): \(message): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
