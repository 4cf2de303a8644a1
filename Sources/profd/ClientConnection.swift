#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import ProfdProtocol

/// One accepted client: its kernel-verified identity, its byte stream decoder and where it is in the
/// hello → start → spans → stop sequence.
final class ClientConnection {
    enum State {
        /// Waiting for hello.
        case connected
        /// Said hello; may start a session.
        case introduced(service: String)
        /// Profiling; spans are accepted.
        case profiling(service: String, session: ProfilingSession)
        /// Sent stop; waiting for the reports to be written.
        case stopping(service: String, sessionId: String)
    }

    /// Unique for the daemon's lifetime, unlike the fd, which the kernel reuses.
    let serial: UInt64
    let fd: Int32
    let peer: PeerIdentity
    /// The process that connected (`PeerProcess`): sessions sample `peer.pid` only while it runs.
    let pidfd: Int32
    var state: State = .connected
    private(set) var decoder: FrameDecoder
    private(set) var closed = false
    /// The client's `/proc/self/maps`, passed with its first bytes (SCM_RIGHTS), or -1. Only a procfs
    /// `maps` file is kept, so its contents come from the kernel; any other passed fd is closed.
    private(set) var passedMaps: Int32 = -1
    /// Reused for every read, so a chatty client costs no allocation per wake-up.
    private var readBuffer = [UInt8](repeating: 0, count: 65_536)

    init(serial: UInt64, fd: Int32, peer: PeerIdentity, pidfd: Int32, maximumMessageBytes: Int) {
        self.serial = serial
        self.fd = fd
        self.peer = peer
        self.pidfd = pidfd
        self.decoder = FrameDecoder(maximumPayloadLength: maximumMessageBytes)
    }

    var session: ProfilingSession? {
        if case .profiling(_, let session) = state { return session }
        return nil
    }

    enum ReadResult {
        case messages([ProfdMessage])
        /// The peer closed its end; any partial frame it left is reported as `error`.
        case endOfStream(ProtocolError?)
        case protocolError(ProtocolError, decoded: [ProfdMessage])
    }

    /// Reads what the socket has (bounded per call) and decodes every complete message.
    func read() -> ReadResult {
        var decoded: [ProfdMessage] = []
        // Four reads per wake-up at most, so one chatty client cannot starve the others.
        for _ in 0..<4 {
            var passed: Int32 = -1
            let count = readBuffer.withUnsafeMutableBytes { profd_recv_with_fd(fd, $0.baseAddress!, $0.count, &passed) }
            if passed >= 0 { keepIfMaps(passed) }
            if count == 0 {
                do throws(ProtocolError) {
                    try drainDecoder(into: &decoded)
                    try decoder.finish()
                    return decoded.isEmpty ? .endOfStream(nil) : .messages(decoded)
                } catch {
                    return .endOfStream(error)
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return .endOfStream(nil)
            }
            decoder.append(readBuffer[0..<count])
            do throws(ProtocolError) {
                try drainDecoder(into: &decoded)
            } catch {
                return .protocolError(error, decoded: decoded)
            }
            if count < readBuffer.count { break }
        }
        return .messages(decoded)
    }

    private func keepIfMaps(_ candidate: Int32) {
        guard passedMaps < 0, profd_is_procfs(candidate) != 0, Self.linkTarget(ofFd: candidate).hasSuffix("/maps") else {
            _ = Glibc.close(candidate)
            return
        }
        passedMaps = candidate
    }

    private static func linkTarget(ofFd fd: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard count > 0 else { return "" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func drainDecoder(into decoded: inout [ProfdMessage]) throws(ProtocolError) {
        while let message = try decoder.decodeNext() {
            decoded.append(message)
        }
    }

    /// Sends one reply without blocking. A client that does not read its replies loses its connection
    /// rather than stalling the daemon; returns false then.
    /// `passing` (an open fd, or -1) goes with the frame's first byte (SCM_RIGHTS); the caller still owns it.
    @discardableResult
    func send(_ message: ProfdMessage, passing passed: Int32 = -1) -> Bool {
        guard !closed else { return false }
        let bytes = message.encoded
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                passed >= 0 && offset == 0
                    ? profd_send_with_fd(fd, buffer.baseAddress!, buffer.count, passed)
                    : Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                // A full socket buffer (or a reset): the reply cannot go out whole, and a part of it would
                // leave the stream out of frame sync. Shut the socket down; the loop then sees the hang-up
                // and disconnects it the usual way (an open session still gets its reports).
                _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
                return false
            }
            offset += sent
        }
        return true
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = Glibc.close(fd)
        _ = Glibc.close(pidfd)
        if passedMaps >= 0 { _ = Glibc.close(passedMaps) }
        passedMaps = -1
    }
}
