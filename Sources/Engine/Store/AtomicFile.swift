#if canImport(Glibc)
import Glibc
#endif
import Foundation

extension EngineError.Code {
    public static let storeWriteFailed = Self("store_write_failed")
    public static let storeReadFailed = Self("store_read_failed")
    public static let notFound = Self("not_found")
}

/// Crash-safe file writes for the state directory.
///
/// A file is written to a temporary name, fsynced, renamed into place and its directory fsynced, so a
/// reader sees the old file or the whole new one, never a prefix. Nothing here follows symlinks.
enum AtomicFile {
    /// Writes `bytes` to `directory/name` atomically with `mode`. Throws `storeWriteFailed` with the errno
    /// (ENOSPC on a full disk); on failure the temporary file is removed and any previous file is untouched.
    static func write(_ bytes: some Collection<UInt8>, directory: String, name: String, mode: mode_t = 0o640) throws(EngineError) {
        // The directory is opened without following a final symlink, and the temporary file is created
        // in it with O_EXCL | O_NOFOLLOW: a planted `.tmp-…` symlink or hard link is removed, never written through.
        let directoryFd = try openDirectory(directory)
        defer { close(directoryFd) }
        let temporaryName = ".tmp-\(name)-\(getpid())"
        let temporary = "\(directory)/\(temporaryName)"
        unlinkat(directoryFd, temporaryName, 0)
        let fd = openat(directoryFd, temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw EngineError(.storeWriteFailed, "cannot create \(temporary)", errno: errno) }
        var ok = false
        defer {
            if !ok { unlinkat(directoryFd, temporaryName, 0) }
        }
        do {
            defer { close(fd) }
            try writeAll(fd: fd, bytes: Array(bytes), path: temporary)
            guard fsync(fd) == 0 else { throw EngineError(.storeWriteFailed, "fsync \(temporary)", errno: errno) }
        }
        guard renameat(directoryFd, temporaryName, directoryFd, name) == 0 else {
            throw EngineError(.storeWriteFailed, "rename into \(directory)/\(name)", errno: errno)
        }
        ok = true
        guard fsync(directoryFd) == 0 else { throw EngineError(.storeWriteFailed, "fsync directory \(directory)", errno: errno) }
    }

    /// Opens a directory for `openat`/`fsync`, refusing a symlink in its place (ELOOP/ENOTDIR).
    static func openDirectory(_ directory: String) throws(EngineError) -> Int32 {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let hint = (code == ELOOP || code == ENOTDIR) ? " (not a directory: symlinks are refused)" : ""
            throw EngineError(.storeWriteFailed, "open directory \(directory)\(hint)", errno: code)
        }
        return fd
    }

    static func writeAll(fd: Int32, bytes: [UInt8], path: String) throws(EngineError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw EngineError(.storeWriteFailed, "write \(path)", errno: errno)
            }
            offset += written
        }
    }

    /// Makes a rename or create in `directory` durable.
    static func syncDirectory(_ directory: String) throws(EngineError) {
        let fd = try openDirectory(directory)
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw EngineError(.storeWriteFailed, "fsync directory \(directory)", errno: errno) }
    }

    /// Creates `path` (one level) with `mode` unless it exists as a real directory; refuses symlinks.
    static func ensureDirectory(_ path: String, mode: mode_t = 0o750) throws(EngineError) {
        if mkdir(path, mode) == 0 { return }
        let mkdirErrno = errno
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw EngineError(.storeWriteFailed, "create directory \(path)", errno: mkdirErrno)
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw EngineError(.storeWriteFailed, "\(path) exists and is not a directory (symlinks are refused)")
        }
    }

    /// Removes `path` and everything below it without following any symlink: a symlink (to a directory
    /// or anything else) is unlinked itself, never its target. Best effort; returns whether `path` is gone.
    @discardableResult
    static func removeTree(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT }
        if (info.st_mode & S_IFMT) != S_IFDIR { return unlink(path) == 0 || errno == ENOENT }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            removeTree(path + "/" + name)
        }
        return rmdir(path) == 0 || errno == ENOENT
    }

    /// Whether `path` is a directory itself, not a symlink to one.
    static func isRealDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Reads a whole regular file without following a final symlink.
    static func read(_ path: String, limit: Int = 1 << 30) throws(EngineError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code: EngineError.Code = errno == ENOENT ? .notFound : .storeReadFailed
            throw EngineError(code, "cannot open \(path)", errno: errno)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw EngineError(.storeReadFailed, "read \(path)", errno: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            guard result.count <= limit else { throw EngineError(.storeReadFailed, "\(path) is larger than \(limit) bytes") }
        }
        return result
    }
}
