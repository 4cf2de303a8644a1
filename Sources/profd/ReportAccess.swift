#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Foundation
import Logging
import ProfdEngine
import ProfdProtocol

// The daemon-mediated read path (`listRequest`, `openRequest`): the state directory is 0700, so users
// read reports through profd, which answers with an open read-only fd when `AccessPolicy` lets the
// requester (SO_PEERCRED) read the session's owner's reports. Another uid's session is answered exactly
// like a missing one: it is invisible, not forbidden.

extension Daemon {
    /// Keeps the owner of a session that stops, so reading its reports needs no `session.json` parse.
    func rememberOwner(of session: ProfilingSession) {
        owners.record(session.id, owner: session.peer.uid)
    }

    /// The uid that owns session `id`: a running session's, a known one, or else the `uid` of its
    /// `session.json`, read here once (only for a session the start-up scan has not reached yet, or that
    /// was copied in later). Nil when it has no session.json (missing, or not a session).
    func owner(ofSession id: String) -> UInt32? {
        if let known = owners.owner(of: id) { return known }
        if let running = openSessions().first(where: { $0.session.id == id }) { return running.session.peer.uid }
        guard let uid = SessionOwners.readOwner(id, in: ReportStore(stateDirectory: configuration.stateDirectory)) else { return nil }
        owners.record(id, owner: uid)
        return uid
    }

    private func mayRead(session id: String, _ peer: PeerIdentity) -> Bool {
        guard ReportStore.isValidSessionId(id), let owner = owner(ofSession: id) else { return false }
        return configuration.access.permits(peer, owner: owner)
    }

    /// `listRequest`: the names the requester may read, one per line, in a sealed memfd.
    func list(_ directory: String, for connection: ClientConnection) {
        let peer = connection.peer
        let store = ReportStore(stateDirectory: configuration.stateDirectory)
        var names: [String]
        let parts = directory.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1 where parts[0] == ListRequest.sessions:
            names = store.sessionIds().filter { mayRead(session: $0, peer) }
        case 1 where parts[0] == ListRequest.live:
            names = Self.entries(of: store.liveDirectory).filter { mayRead(session: $0, peer) }
        case 2 where parts[0] == ListRequest.live && mayRead(session: parts[1], peer):
            names = Self.entries(of: store.liveDirectory(session: parts[1]))
        default:
            return refuseRead(connection, "no such directory \(directory)", path: directory)
        }
        names = names.filter { !$0.hasPrefix(".") && !$0.contains("\n") }.sorted()
        let text = names.map { $0 + "\n" }.joined()
        let fd = text.withCString { profd_sealed_memfd("profd-list", $0, strlen($0)) }
        guard fd >= 0 else {
            connection.send(.error(ErrorReply(code: .internal, message: "cannot list \(directory): \(String(cString: strerror(errno)))")))
            return
        }
        connection.send(.fileReply(FileReply(byteCount: UInt64(text.utf8.count))), passing: fd)
        _ = Glibc.close(fd)
    }

    /// `openRequest`: `sessions/<id>/...` or `live/<id>/...`, opened read-only without following any
    /// symlink, when the requester may read session `<id>`.
    func open(_ path: String, for connection: ClientConnection) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // Not absolute, no empty, `.` or `..` component, no hidden name (staging `.tmp-*`).
        guard parts.count >= 3, parts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(".") }),
              parts[0] == ListRequest.sessions || parts[0] == ListRequest.live
        else {
            return refuseRead(connection, "not a report path: \(path)", path: path)
        }
        guard mayRead(session: parts[1], connection.peer) else {
            return refuseRead(connection, "no session \(parts[1])", path: path)
        }
        let fd = Self.openBeneath(configuration.stateDirectory, parts)
        guard fd >= 0 else {
            let error = errno
            let reason = error == ELOOP || error == ENOTDIR ? "is a symlink (not followed)"
                : error == ENOENT ? "does not exist" : String(cString: strerror(error))
            return refuseRead(connection, "\(path) \(reason)", path: path)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            _ = Glibc.close(fd)
            return refuseRead(connection, "\(path) is not a regular file", path: path)
        }
        connection.send(.fileReply(FileReply(byteCount: UInt64(info.st_size))), passing: fd)
        _ = Glibc.close(fd)
    }

    /// Opens `root/parts...` read-only, each step `openat` with `O_NOFOLLOW` from the previous directory's
    /// fd: a symlink anywhere below `root` fails (ELOOP, or ENOTDIR for a directory). -1 with errno set.
    static func openBeneath(_ root: String, _ parts: [String]) -> Int32 {
        var directory = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { return -1 }
        for part in parts.dropLast() {
            let next = openat(directory, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = errno
            _ = Glibc.close(directory)
            guard next >= 0 else { errno = error; return -1 }
            directory = next
        }
        let fd = openat(directory, parts[parts.count - 1], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        let error = errno
        _ = Glibc.close(directory)
        errno = error
        return fd
    }

    /// Names in a directory (not following a symlinked directory); empty when it is missing.
    private static func entries(of path: String) -> [String] {
        guard ReportStore.isRealDirectory(path), let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// A refused or impossible read: "not found" (exit 3 in profctl), the same for a session that is not
    /// the requester's as for a missing one; logged with the requester's uid.
    private func refuseRead(_ connection: ClientConnection, _ message: String, path: String) {
        logger.notice("report read refused", metadata: [
            "profd.client_pid": "\(connection.peer.pid)", "profd.client_uid": "\(connection.peer.uid)",
            "profd.path": "\(path)", "profd.error": "\(message)",
        ])
        connection.send(.error(ErrorReply(code: .notFound, message: message)))
    }
}
