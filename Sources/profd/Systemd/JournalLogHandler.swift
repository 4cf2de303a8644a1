#if canImport(Glibc)
import Glibc
#endif
import CSystemd
import Logging

/// A swift-log backend that writes native journal entries, so every metadata item becomes a field you
/// can filter on: `journalctl -u profd PROFD_SESSION=…`.
///
/// Metadata keys map to field names by upper-casing and turning anything outside `[A-Z0-9_]` into `_`
/// (`profd.client_pid` → `PROFD_CLIENT_PID`). Values are untrusted strings (routes, service names) and
/// go in as binary-safe `FIELD=value` items, so a newline in a value cannot forge a field.
struct JournalLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info
    let label: String
    let identifier: String

    init(label: String, identifier: String = "profd") {
        self.label = label
        self.identifier = identifier
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var items: [String] = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "LOGGER_LABEL=\(label)",
        ]
        if let error = event.error { items.append("PROFD_ERROR=\(error)") }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            guard let field = Self.fieldName(key) else { continue }
            items.append("\(field)=\(value)")
        }
        Self.send(items)
    }

    /// syslog priorities, as journald and `journalctl -p` use them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A journal field name for a metadata key, or nil if nothing usable is left. Journal fields are
    /// `[A-Z0-9_]`, at most 64 bytes, and must not start with `_` (those are trusted, set by journald).
    static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "0"..."9": Character(scalar)
            default: "_"
            }
        })
        while name.hasPrefix("_") { name.removeFirst() }
        if let first = name.unicodeScalars.first, ("0"..."9").contains(first) { name = "F_" + name }
        name = String(name.prefix(64))
        return name.isEmpty ? nil : name
    }

    /// One `sd_journal_sendv` call; the items are laid end to end in one buffer the vectors point into.
    private static func send(_ items: [String]) {
        var bytes: [UInt8] = []
        var ranges: [(offset: Int, count: Int)] = []
        for item in items {
            ranges.append((bytes.count, item.utf8.count))
            bytes.append(contentsOf: item.utf8)
        }
        bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            let vectors = ranges.map { iovec(iov_base: base + $0.offset, iov_len: $0.count) }
            _ = profd_sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}

/// Where the daemon's log goes.
enum LogTarget: String, CaseIterable, Sendable {
    case journal, stderr, auto

    /// `auto`: the journal when systemd connected our stderr to it (`JOURNAL_STREAM` names stderr's
    /// device and inode), stderr otherwise, e.g. in a terminal or under a test harness.
    var resolved: LogTarget {
        guard self == .auto else { return self }
        return Self.stderrIsJournal() ? .journal : .stderr
    }

    static func stderrIsJournal() -> Bool {
        guard let raw = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: raw).split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
