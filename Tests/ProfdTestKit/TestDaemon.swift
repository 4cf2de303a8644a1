#if canImport(Glibc)
import Glibc
#endif
import ProfdProtocol
import Synchronization

/// A real Unix-socket peer that speaks protocol v1 like the daemon: it accepts clients, decodes every frame
/// with `FrameDecoder`, records the messages per connection, and answers hello/start/stop.
///
/// Runs on its own pthread with `poll(2)`, so tests on the cooperative pool never wait on it.
public final class TestDaemon: Sendable {
    /// How the test daemon behaves.
    public struct Options: Sendable {
        /// Whether to read frames at all; false lets the client's socket buffer fill. See `setReading`.
        public var reading = true
        /// `SO_RCVBUF` for accepted connections; nil keeps the kernel default.
        public var receiveBufferSize: Int? = nil
        /// Sent in `sessionStarted` and `sessionStopped`.
        public var sessionId = "test-session-1"
        /// Sent in `sessionStopped`.
        public var reportDirectory = "/var/lib/profd/reports/test/test-session-1"
        /// Sent in `helloAck`.
        public var daemonVersion = "profd-test-daemon 1"
        /// Whether to answer hello, startSession and stopSession.
        public var replies = true

        public init() {}
    }

    /// What the daemon has seen so far.
    public struct Snapshot: Sendable {
        /// Decoded messages, one array per accepted connection, in arrival order.
        public var connections: [[ProfdMessage]] = []
        /// Decode errors; the connection that produced one was closed.
        public var errors: [ProtocolError] = []
        /// Connections that reached end of stream in the middle of a frame.
        public var truncatedStreams = 0
        /// All messages of all connections.
        public var messages: [ProfdMessage] { connections.flatMap { $0 } }
    }

    /// A setup step failed: the call and its errno.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private struct Shared: Sendable {
        var snapshot = Snapshot()
        var reading: Bool
        var stopping = false
    }

    /// The socket path the daemon listens on.
    public let path: String
    private let options: Options
    private let listener: Int32
    private let shared: Mutex<Shared>
    private let thread = Mutex<pthread_t?>(nil)

    /// Binds and listens on `path` (an existing socket file there is replaced) and starts serving.
    public init(path: String, options: Options = Options()) throws(Failure) {
        self.path = path
        self.options = options
        self.shared = Mutex(Shared(reading: options.reading))
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Self.failure("socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { raw -> Bool in
            guard bytes.count < raw.count else { return false }
            raw.copyBytes(from: bytes)
            return true
        }
        guard fits else {
            Glibc.close(fd)
            throw Failure(description: "socket path too long: \(path)")
        }
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = Self.failure("bind/listen \(path)")
            Glibc.close(fd)
            throw error
        }
        self.listener = fd

        let context = Unmanaged.passRetained(Server(daemon: self)).toOpaque()
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            Unmanaged<Server>.fromOpaque(context).takeRetainedValue().run()
            return nil
        }, context) == 0 else {
            Unmanaged<Server>.fromOpaque(context).release()
            Glibc.close(fd)
            throw Self.failure("pthread_create")
        }
        self.thread.withLock { $0 = thread }
    }

    deinit { close() }

    /// Everything received so far.
    public var snapshot: Snapshot { shared.withLock { $0.snapshot } }

    /// Starts or stops reading from connections (accepting continues either way).
    public func setReading(_ reading: Bool) {
        shared.withLock { $0.reading = reading }
    }

    /// Polls `snapshot` every 5 ms until `condition` holds; false if `timeout` passes first.
    public func waitUntil(timeout: Duration = .seconds(5), _ condition: (Snapshot) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            if condition(snapshot) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(snapshot)
    }

    /// Stops serving like a killed daemon: closes the listener and every connection and removes the socket
    /// file. Idempotent; `deinit` calls it.
    public func close() {
        shared.withLock { $0.stopping = true }
        guard let thread = thread.withLock({ $0.take() }) else { return }
        pthread_join(thread, nil)
        Glibc.close(listener)
        unlink(path)
    }

    /// A new empty directory under `/tmp` for a test's sockets. Wraps `mkdtemp(3)`.
    public static func temporaryDirectory() throws(Failure) -> String {
        var template = Array("/tmp/profd-test-XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw failure("mkdtemp")
        }
        return String(cString: result)
    }

    private static func failure(_ call: String) -> Failure {
        Failure(description: "\(call): \(String(cString: strerror(errno))) (errno \(errno))")
    }

    /// The connection loop, confined to the daemon's thread.
    private final class Server {
        private struct Connection {
            var fd: Int32
            var index: Int
            var decoder = FrameDecoder()
        }

        private let daemon: TestDaemon
        private var connections: [Connection] = []
        private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

        init(daemon: TestDaemon) { self.daemon = daemon }

        func run() {
            while true {
                let (stopping, reading) = daemon.shared.withLock { ($0.stopping, $0.reading) }
                if stopping { break }
                var fds = [pollfd(fd: daemon.listener, events: Int16(POLLIN), revents: 0)]
                if reading {
                    fds += connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                }
                _ = poll(&fds, nfds_t(fds.count), 5)
                accept()
                if reading {
                    for i in connections.indices.reversed() where fds.count > i + 1 && fds[i + 1].revents != 0 {
                        read(i)
                    }
                }
            }
            for connection in connections { Glibc.close(connection.fd) }
            connections.removeAll()
        }

        private func accept() {
            while true {
                let fd = Glibc.accept(daemon.listener, nil, nil)  // the listener is non-blocking; reads use MSG_DONTWAIT
                guard fd >= 0 else { return }
                if let size = daemon.options.receiveBufferSize {
                    var value = Int32(size)
                    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size))
                }
                let index = daemon.shared.withLock { shared -> Int in
                    shared.snapshot.connections.append([])
                    return shared.snapshot.connections.count - 1
                }
                connections.append(Connection(fd: fd, index: index))
            }
        }

        /// Drains connection `i`; closes it on end of stream or a decode error.
        private func read(_ i: Int) {
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(connections[i].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n < 0, errno == EAGAIN || errno == EINTR { return }
                if n <= 0 {
                    let truncated = (try? connections[i].decoder.finish()) == nil
                    daemon.shared.withLock { if truncated { $0.snapshot.truncatedStreams += 1 } }
                    return drop(i)
                }
                connections[i].decoder.append(buffer[0..<n])
                do {
                    while let message = try connections[i].decoder.decodeNext() {
                        let index = connections[i].index
                        daemon.shared.withLock { $0.snapshot.connections[index].append(message) }
                        reply(to: message, on: connections[i].fd)
                    }
                } catch {
                    daemon.shared.withLock { $0.snapshot.errors.append(error) }
                    send(.error(error.reply), on: connections[i].fd)
                    return drop(i)
                }
            }
        }

        private func drop(_ i: Int) {
            Glibc.close(connections[i].fd)
            connections.remove(at: i)
        }

        private func reply(to message: ProfdMessage, on fd: Int32) {
            guard daemon.options.replies else { return }
            let options = daemon.options
            switch message {
            case .hello:
                send(.helloAck(HelloAck(daemonVersion: options.daemonVersion)), on: fd)
            case .startSession(let start):
                send(.sessionStarted(SessionStarted(sessionId: options.sessionId, frequencyHz: start.frequencyHz)), on: fd)
            case .stopSession:
                send(.sessionStopped(SessionStopped(sessionId: options.sessionId,
                                                    reportDirectory: options.reportDirectory)), on: fd)
            default:
                break
            }
        }

        private func send(_ message: ProfdMessage, on fd: Int32) {
            let bytes = message.encoded
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Kernel facts about the calling thread, read without the C shim, to check what a client recorded.
public enum TestProbe {
    /// The calling thread's kernel tid, read from the `/proc/thread-self` link (`PID/task/TID`).
    public static func threadId() -> UInt32 {
        var target = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &target, target.count - 1)
        guard n > 0 else { return 0 }
        let text = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { UInt32($0) } ?? 0
    }

    /// `CLOCK_MONOTONIC` now, in nanoseconds.
    public static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Kernel names (`comm`) of this process's threads.
    public static func threadNames() -> [String] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first?.isNumber == true else { continue }
            let fd = open("/proc/self/task/\(name)/comm", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var bytes = [UInt8](repeating: 0, count: 32)
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            Glibc.close(fd)
            if n > 0 { names.append(String(decoding: bytes[0..<n], as: UTF8.self).trimmingSuffixNewline) }
        }
        return names
    }
}

extension String {
    fileprivate var trimmingSuffixNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
