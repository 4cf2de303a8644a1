#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Copies of built binaries that another uid may execute (the build directory may not be reachable).
public enum ExecutableCopy {
    /// Copies `source` to `directory/name` (mode 0755), unless it is there already. The bytes are written
    /// by a child process (`install`), never by this one: a test process forks children all the time, and a
    /// child forked while this process held the copy open for writing would keep that descriptor, so
    /// executing the copy would fail with ETXTBSY (exit 126 under setpriv) for as long as that child lives.
    public static func make(of source: String, in directory: String, name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        let copy = directory + "/" + name
        if access(copy, X_OK) == 0 { return copy }
        let staging = copy + ".tmp-\(UUID().uuidString.prefix(6))"
        let install = try ChildProcess("/usr/bin/install", ["-m", "0755", source, staging])
        let status = install.waitForExit().exitCode
        guard status == 0 else { throw TestKitError("install \(source) \(staging): exit \(status)") }
        guard rename(staging, copy) == 0 else { throw TestKitError("rename \(staging): errno \(errno)") }
        return copy
    }
}
