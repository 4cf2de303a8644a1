import Glibc

/// Random-access bytes of one ELF image: a file on disk, or a buffer in tests.
protocol ELFByteSource {
    /// Total size in bytes.
    var size: UInt64 { get }
    /// Exactly `count` bytes at `offset`. Throws `.elfMalformed` when the range leaves the source.
    func read(offset: UInt64, count: UInt64, what: String) throws(EngineError) -> [UInt8]
}

extension ELFByteSource {
    /// Throws `.elfMalformed` unless `offset ..< offset + count` lies inside the source (overflow-safe).
    func checkRange(offset: UInt64, count: UInt64, what: String) throws(EngineError) {
        guard offset <= size, count <= size - offset else {
            throw EngineError(.elfMalformed, "\(what) at offset \(offset) size \(count) exceeds file size \(size)")
        }
        guard count <= ELFLimits.maxRead else {
            throw EngineError(.elfMalformed, "\(what) of \(count) bytes exceeds the \(ELFLimits.maxRead)-byte limit")
        }
    }
}

enum ELFLimits {
    /// Largest single table read; real `.symtab`/`.strtab` sections are tens of MiB at most.
    static let maxRead: UInt64 = 1 << 30
}

/// An open, read-only file read with `pread(2)` (never mmap, so a file truncated under us cannot SIGBUS).
final class ELFFileSource: ELFByteSource {
    let path: String
    let size: UInt64
    let inode: UInt64
    private let fd: Int32

    /// Opens `path`. Wraps `open(2)` and `fstat(2)`; throws `.symbolFileUnreadable` with errno.
    init(path: String) throws(EngineError) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw EngineError(.symbolFileUnreadable, "cannot open \(path)", errno: Glibc.errno)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let err = Glibc.errno
            Glibc.close(fd)
            throw EngineError(.symbolFileUnreadable, "cannot stat \(path)", errno: err)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            throw EngineError(.symbolFileUnreadable, "\(path) is not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = UInt64(st.st_size)
        self.inode = UInt64(st.st_ino)
    }

    deinit { Glibc.close(fd) }

    func read(offset: UInt64, count: UInt64, what: String) throws(EngineError) -> [UInt8] {
        try checkRange(offset: offset, count: count, what: what)
        return try readFully(fd: fd, offset: offset, count: Int(count), what: "\(what) of \(path)")
    }
}

/// An in-memory image, for tests and for images that are already in memory.
struct ELFBufferSource: ELFByteSource {
    let bytes: [UInt8]
    var size: UInt64 { UInt64(bytes.count) }

    func read(offset: UInt64, count: UInt64, what: String) throws(EngineError) -> [UInt8] {
        try checkRange(offset: offset, count: count, what: what)
        return Array(bytes[Int(offset) ..< Int(offset + count)])
    }
}

/// Reads `count` bytes at `offset`, retrying `EINTR` and short reads. Wraps `pread(2)`.
/// Throws `.elfMalformed` if the file ends early (it shrank after `fstat`).
func readFully(fd: Int32, offset: UInt64, count: Int, what: String) throws(EngineError) -> [UInt8] {
    var failure: EngineError?
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var done = 0
        while done < count {
            let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n == 0 {
                failure = EngineError(.elfMalformed, "\(what): file ended after \(done) of \(count) bytes")
                break
            } else if Glibc.errno != EINTR {
                failure = EngineError(.symbolFileUnreadable, "cannot read \(what)", errno: Glibc.errno)
                break
            }
        }
        initialized = done
    }
    if let failure { throw failure }
    return bytes
}

/// Reads a whole file of unknown size (procfs reports 0), retrying `EINTR`. Wraps `open(2)` and `read(2)`.
func readWholeFile(path: String, limit: Int = 64 << 20) throws(EngineError) -> [UInt8] {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw EngineError(.symbolFileUnreadable, "cannot open \(path)", errno: Glibc.errno)
    }
    defer { Glibc.close(fd) }
    return try readWholeFile(fd: fd, name: path, limit: limit)
}

/// Reads an open file from its start (a procfs file is generated afresh on every read from offset 0).
func readWholeFile(fd: Int32, name path: String, limit: Int = 64 << 20) throws(EngineError) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    var offset: off_t = 0
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, $0.count, offset) }
        if n > 0 { offset += off_t(n) }
        if n > 0 {
            result.append(contentsOf: chunk[0 ..< n])
            guard result.count <= limit else {
                throw EngineError(.symbolFileUnreadable, "\(path) is larger than \(limit) bytes")
            }
        } else if n == 0 {
            return result
        } else if Glibc.errno != EINTR {
            throw EngineError(.symbolFileUnreadable, "cannot read \(path)", errno: Glibc.errno)
        }
    }
}
