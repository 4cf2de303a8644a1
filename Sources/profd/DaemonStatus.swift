import ProfdEngine
import ProfdProtocol

/// The daemon's one-line status for `systemctl status profd` (sd_notify `STATUS=`).
struct DaemonStatus {
    /// How often the loop refreshes the line.
    static let intervalNs: UInt64 = 2_000_000_000

    struct Active {
        var pid: Int32
        var unit: String?
    }

    let stateDirectory: String
    /// Sessions and bytes on disk: walked at start, then grown by each written session.
    var usage = ReportStore.Usage(sessions: 0, bytes: 0)
    /// `--retention-max-bytes`, nil when there is no size limit.
    var retentionLimitBytes: UInt64?
    /// Samples drained since the last status line.
    var samplesSinceLastStatus = 0
    private(set) var samplesPerSecond = 0
    var lastPublished = ""
    /// A session started, stopped or was written since the last line: publish without waiting.
    var sessionsChanged = false

    init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    mutating func sampleRate(over elapsedNs: UInt64) {
        samplesPerSecond = elapsedNs > 0 ? Int(Double(samplesSinceLastStatus) * 1e9 / Double(elapsedNs) + 0.5) : 0
        samplesSinceLastStatus = 0
    }

    /// "profiling 1 session (demo.service, pid 812) · 998 samples/s · 12 sessions, 3.4 MiB of 1.0 GiB in /var/lib/profd"
    func line(sessions: [Active], writing: Int) -> String {
        var parts: [String] = []
        if sessions.isEmpty {
            parts.append("idle, waiting for clients")
        } else {
            let shown = sessions.prefix(3).map { session in
                (session.unit.map { TerminalSafe.string($0) + ", " } ?? "") + "pid \(session.pid)"
            }
            let more = sessions.count > 3 ? ", +\(sessions.count - 3) more" : ""
            parts.append("profiling \(Self.count(sessions.count, "session")) (\(shown.joined(separator: "; "))\(more))")
            parts.append("\(samplesPerSecond) samples/s")
        }
        if writing > 0 { parts.append("writing \(Self.count(writing, "report set"))") }
        let limit = retentionLimitBytes.map { " of \(ByteCount.human($0))" } ?? ""
        parts.append("\(Self.count(usage.sessions, "session")), \(ByteCount.human(usage.bytes))\(limit) in \(stateDirectory)")
        return parts.joined(separator: " · ")
    }

    static func count(_ n: Int, _ noun: String) -> String {
        "\(n) \(noun)\(n == 1 ? "" : "s")"
    }
}
