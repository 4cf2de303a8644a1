#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Retention: how long sessions stay and how much disk `sessions/` may use. Whole session directories
/// go, oldest first (session ids sort by start time).
public struct RetentionPolicy: Sendable, Equatable {
    /// Sessions written longer ago than this are removed; 0 = no age limit.
    public var maximumAgeSeconds: UInt64
    /// While `sessions/` uses more than this (allocated bytes, like `du`), the oldest sessions are removed;
    /// 0 = no size limit.
    public var maximumBytes: UInt64

    public static let defaultMaximumAgeSeconds: UInt64 = 14 * 86_400
    public static let defaultMaximumBytes: UInt64 = 1 << 30

    public init(maximumAgeSeconds: UInt64 = Self.defaultMaximumAgeSeconds, maximumBytes: UInt64 = Self.defaultMaximumBytes) {
        self.maximumAgeSeconds = maximumAgeSeconds
        self.maximumBytes = maximumBytes
    }

    public static let unlimited = RetentionPolicy(maximumAgeSeconds: 0, maximumBytes: 0)

    /// `14d`, `12h`, `30m`, `90s`, `2w` or plain seconds; `0` is unlimited.
    public static func parseAge(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return UInt64(text.dropLast()).flatMap { $0.multipliedReportingOverflow(by: unit).overflow ? nil : $0 * unit } }
        return UInt64(text)
    }

    /// `1G`, `1GiB`, `512M`, `500MiB`, `64K` or plain bytes (binary units); `0` is unlimited.
    public static func parseBytes(_ text: String) -> UInt64? {
        var body = Substring(text)
        if body.hasSuffix("iB") || body.hasSuffix("ib") { body = body.dropLast(2) } else if body.hasSuffix("B") { body = body.dropLast() }
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = body.last?.uppercased().first else { return nil }
        if let unit = units[last] {
            return UInt64(body.dropLast()).flatMap { $0.multipliedReportingOverflow(by: unit).overflow ? nil : $0 * unit }
        }
        return UInt64(body)
    }
}

extension ReportStore {
    /// One session directory retention removed.
    public struct RetentionRemoval: Sendable, Equatable {
        public enum Reason: String, Sendable { case age = "retention-age", size = "retention-size" }
        public var session: String
        public var reason: Reason
        public var bytes: UInt64
        /// Seconds since the session's directory was written.
        public var ageSeconds: UInt64
    }

    /// Applies `policy`: first every session older than the age limit, then the oldest sessions while
    /// `sessions/` is over the size limit. Sessions in `protected` (the one just written) are never removed;
    /// sessions still being written live under `.tmp-<id>` and are not seen at all. A session is renamed to
    /// `.tmp-rm-<id>` before its files go, so a crash midway leaves nothing that looks like a session
    /// (`recover()` removes the rest at the next start). Returns what was removed and the usage after.
    public func enforceRetention(_ policy: RetentionPolicy, protected: Set<String> = [], now: time_t = time(nil))
        -> (removed: [RetentionRemoval], usage: Usage) {
        // A `sessions` replaced by a symlink is not followed: nothing is removed through it.
        guard AtomicFile.isRealDirectory(sessionsDirectory) else { return ([], Usage(sessions: 0, bytes: 0)) }
        var ids = sessionIds()
        var removed: [RetentionRemoval] = []
        var sizes: [String: UInt64] = [:]
        func size(_ id: String) -> UInt64 {
            if let known = sizes[id] { return known }
            let bytes = Self.diskBytes(under: sessionDirectory(id))
            sizes[id] = bytes
            return bytes
        }
        func age(_ id: String) -> UInt64 {
            var info = stat()
            guard lstat(sessionDirectory(id), &info) == 0 else { return 0 }
            return UInt64(max(0, now - info.st_mtim.tv_sec))
        }
        func remove(_ id: String, _ reason: RetentionRemoval.Reason) -> Bool {
            let bytes = size(id), seconds = age(id)
            let doomed = sessionsDirectory + "/.tmp-rm-" + id
            guard rename(sessionDirectory(id), doomed) == 0 else { return false }
            try? AtomicFile.syncDirectory(sessionsDirectory)
            AtomicFile.removeTree(doomed)
            removed.append(RetentionRemoval(session: id, reason: reason, bytes: bytes, ageSeconds: seconds))
            return true
        }
        if policy.maximumAgeSeconds > 0 {
            for id in ids where !protected.contains(id) && age(id) > policy.maximumAgeSeconds {
                _ = remove(id, .age)
            }
            ids.removeAll { id in removed.contains { $0.session == id } }
        }
        var total = Self.diskBytes(under: sessionsDirectory)
        if policy.maximumBytes > 0 {
            for id in ids where total > policy.maximumBytes && !protected.contains(id) {
                let bytes = size(id)
                if remove(id, .size) { total -= min(total, bytes) }
            }
            total = Self.diskBytes(under: sessionsDirectory)
        }
        return (removed, Usage(sessions: sessionIds().count, bytes: total))
    }
}
