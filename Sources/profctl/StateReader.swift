import Foundation
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Where profctl reads reports from: the state directory itself, or profd, which checks whose they are.
/// list, dump, diff, follow, top and the completions go through this and nothing else.
protocol StateReader {
    /// What to name in messages: the directory, or the daemon's socket.
    var location: String { get }
    /// Stored session ids the caller may read, oldest first (ids sort by start time).
    func sessionIds() throws(ProfctlError) -> [String]
    /// A file of a stored session, by its path relative to the session directory.
    func read(session id: String, _ relativePath: String) throws(ProfctlError) -> [UInt8]
    /// Running sessions with a live folder (kept requests, `top.json`) the caller may read.
    func liveSessionIds() -> [String]
    /// File names in a running session's live folder.
    func liveEntries(session id: String) -> [String]
    /// A file of a live folder and when it was last written (seconds since the epoch); nil when it is gone
    /// (profd removes live folders) or not the caller's.
    func readLive(session id: String, _ name: String) -> LiveFile?
}

/// A file of a live folder, as read.
struct LiveFile {
    var bytes: [UInt8]
    /// Modification time, seconds since the epoch: `top` leaves out stale snapshots.
    var modified: Double
}

/// The modification time of an open file, seconds since the epoch.
func modificationTime(of fd: Int32) -> Double {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return 0 }
    return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
}

extension StateReader {
    /// `profctl --state-dir D` and `--socket S` resolved: the directory when the caller can read it (root, the
    /// profd user, a copy of the state directory); else profd when it answers on `socket`; else the directory
    /// again, whose error (permission, not found) then says what is wrong.
    static func choose(stateDirectory: String, socket: String) -> any StateReader {
        let directory = DirectoryStateReader(stateDirectory)
        if access(stateDirectory, R_OK | X_OK) == 0 { return directory }
        if case .success(let client) = DaemonClient.attempt(socket) { return DaemonStateReader(client) }
        return directory
    }
}

/// Chooses the reader for a command's `--state-dir` and `--socket`.
func stateReader(_ global: GlobalOptions, _ daemon: SocketOptions) -> any StateReader {
    DirectoryStateReader.choose(stateDirectory: global.stateDir, socket: daemon.path)
}

/// The state directory, read directly (`ReportStore` layout).
struct DirectoryStateReader: StateReader {
    let store: ReportStore

    init(_ stateDirectory: String) {
        store = ReportStore(stateDirectory: stateDirectory)
    }

    var location: String { store.stateDirectory }

    /// A missing state directory is "not found"; an unreadable one is a permission error; a state
    /// directory without sessions yet is empty.
    func sessionIds() throws(ProfctlError) -> [String] {
        let path = store.stateDirectory
        guard let directory = opendir(store.sessionsDirectory) else {
            let error = errno
            if error == EACCES || error == EPERM { throw .permission(store.sessionsDirectory) }
            if error == ENOENT {
                var info = stat()
                if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return [] }
                if errno == EACCES || errno == EPERM { throw .permission(path) }
                throw .notFound("no state directory \(TerminalSafe.string(path)). Is profd's --state-dir another one? (profctl --state-dir DIR ...)")
            }
            throw ProfctlError("cannot read \(TerminalSafe.string(store.sessionsDirectory)): \(String(cString: strerror(error)))")
        }
        defer { closedir(directory) }
        var ids: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard ReportStore.isValidSessionId(name) else { continue }
            ids.append(name)
        }
        // A session directory appears by rename once complete, so one without session.json is not a session.
        // One this user may not look into stays, so that reading it reports the permission problem.
        return ids.filter { id in
            access(store.sessionDirectory(id) + "/session.json", F_OK) == 0 || errno == EACCES || errno == EPERM
        }.sorted()
    }

    /// Unreadable files are permission errors (exit 4), missing ones not found (3).
    func read(session id: String, _ relativePath: String) throws(ProfctlError) -> [UInt8] {
        do throws(EngineError) {
            return try store.readFile(session: id, relativePath: relativePath)
        } catch {
            if error.errno == EACCES || error.errno == EPERM {
                throw .permission(store.sessionDirectory(id) + "/" + relativePath)
            }
            if error.code == .notFound {
                throw .notFound("session \(id) has no \(TerminalSafe.string(relativePath))")
            }
            throw ProfctlError("cannot read \(TerminalSafe.string(relativePath)) of session \(id): \(error)")
        }
    }

    func liveSessionIds() -> [String] {
        Self.names(in: store.liveDirectory).filter(ReportStore.isValidSessionId)
    }

    func liveEntries(session id: String) -> [String] {
        ReportStore.isValidSessionId(id) ? Self.names(in: store.liveDirectory(session: id)) : []
    }

    func readLive(session id: String, _ name: String) -> LiveFile? {
        guard ReportStore.isValidSessionId(id), !name.contains("/"), !name.hasPrefix(".") else { return nil }
        let fd = open(store.liveDirectory(session: id) + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = try? readWholeFile(fd, what: name) else { return nil }
        return LiveFile(bytes: bytes, modified: modificationTime(of: fd))
    }

    private static func names(in path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// profd, over its socket: `listRequest` and `openRequest`, answered with an open fd when the session is
/// the caller's (or the caller is root or in profd's admin group). Another user's session is "not found".
final class DaemonStateReader: StateReader {
    private let socketPath: String
    /// The connection; dropped when it fails, and made again at the next request (follow and top outlive
    /// a restart of profd).
    private var connection: DaemonClient?

    init(_ client: DaemonClient) {
        socketPath = client.path
        connection = client
    }

    var location: String { "profd on \(socketPath)" }

    func sessionIds() throws(ProfctlError) -> [String] {
        try lines(of: fetch(.listRequest(ListRequest(directory: ListRequest.sessions)), what: "sessions")).filter(ReportStore.isValidSessionId)
    }

    func read(session id: String, _ relativePath: String) throws(ProfctlError) -> [UInt8] {
        guard ReportStore.isValidSessionId(id) else { throw .notFound("no session \(TerminalSafe.string(id))") }
        do {
            return try fetch(.openRequest(OpenRequest(path: "sessions/\(id)/\(relativePath)")), what: relativePath)
        } catch where error.code == ProfctlExit.notFound {
            throw .notFound("session \(id) has no \(TerminalSafe.string(relativePath)), or it is not yours (\(error.message))")
        }
    }

    func liveSessionIds() -> [String] {
        ((try? lines(of: fetch(.listRequest(ListRequest(directory: ListRequest.live)), what: "live"))) ?? [])
            .filter(ReportStore.isValidSessionId)
    }

    func liveEntries(session id: String) -> [String] {
        guard ReportStore.isValidSessionId(id) else { return [] }
        return (try? lines(of: fetch(.listRequest(ListRequest(directory: "live/\(id)")), what: "live/\(id)"))) ?? []
    }

    func readLive(session id: String, _ name: String) -> LiveFile? {
        guard ReportStore.isValidSessionId(id) else { return nil }
        var modified = 0.0
        guard let bytes = try? fetch(.openRequest(OpenRequest(path: "live/\(id)/\(name)")), what: name, modified: &modified) else { return nil }
        return LiveFile(bytes: bytes, modified: modified)
    }

    private func lines(of bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Sends `request`, and reads the whole file the `fileReply` passed. A daemon error is thrown with
    /// its exit code (3 not found, 4 permission).
    private func fetch(_ request: ProfdMessage, what: String) throws(ProfctlError) -> [UInt8] {
        var modified = 0.0
        return try fetch(request, what: what, modified: &modified)
    }

    private func fetch(_ request: ProfdMessage, what: String, modified: inout Double) throws(ProfctlError) -> [UInt8] {
        let received: DaemonClient.Received
        let client: DaemonClient
        do {
            if let connection {
                client = connection
            } else {
                client = try DaemonClient.attempt(socketPath).get()
                connection = client
            }
            try client.send(request)
            received = try client.receive()
        } catch {
            connection = nil
            throw ProfctlError("cannot read \(TerminalSafe.string(what)) through profd on \(TerminalSafe.string(socketPath))")
        }
        switch received {
        case .message(.fileReply):
            let fd = client.takePassedFd()
            guard fd >= 0 else { throw ProfctlError("profd answered without a file for \(TerminalSafe.string(what))") }
            defer { close(fd) }
            modified = modificationTime(of: fd)
            return try readWholeFile(fd, what: what)
        case .message(.error(let error)):
            let message = TerminalSafe.string(error.message)
            switch error.code {
            case .notFound: throw .notFound(message)
            case .permissionDenied:
                throw ProfctlError("permission denied: \(message); \(ProfctlError.permissionHint)", code: ProfctlExit.permission)
            case .unknownMessageType:
                throw ProfctlError("this profd cannot serve reports (\(message)); upgrade profd, or read the state directory as root")
            default: throw ProfctlError("profd: \(message) (\(error.code))")
            }
        default:
            throw ProfctlError("profd answered a report request with something else")
        }
    }
}

/// Everything an open file holds, from its current offset.
func readWholeFile(_ fd: Int32, what: String) throws(ProfctlError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else {
            throw ProfctlError("cannot read \(TerminalSafe.string(what)): \(String(cString: strerror(errno)))")
        }
        if count == 0 { return bytes }
        bytes += chunk[0..<count]
    }
}
