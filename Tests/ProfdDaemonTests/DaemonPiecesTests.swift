import Logging
import ProfdEngine
import ProfdProtocol
import Testing
@testable import profd

@Suite("journal fields, status line")
struct DaemonPiecesTests {
    @Test("metadata keys become valid journal field names")
    func journalFieldNames() {
        #expect(JournalLogHandler.fieldName("profd.client_pid") == "PROFD_CLIENT_PID")
        #expect(JournalLogHandler.fieldName("profd.session") == "PROFD_SESSION")
        #expect(JournalLogHandler.fieldName("sl-service") == "SL_SERVICE")
        // Leading underscores are journald's trusted fields: a client must never forge one.
        #expect(JournalLogHandler.fieldName("_PID") == "PID")
        #expect(JournalLogHandler.fieldName("__x") == "X")
        #expect(JournalLogHandler.fieldName("9lives") == "F_9LIVES")
        #expect(JournalLogHandler.fieldName("...") == nil)
        #expect(JournalLogHandler.fieldName("é") == nil)
        #expect(JournalLogHandler.fieldName(String(repeating: "a", count: 100))?.count == 64)
    }

    @Test("log levels map to syslog priorities")
    func priorities() {
        #expect(JournalLogHandler.priority(.critical) == 2)
        #expect(JournalLogHandler.priority(.error) == 3)
        #expect(JournalLogHandler.priority(.warning) == 4)
        #expect(JournalLogHandler.priority(.info) == 6)
        #expect(JournalLogHandler.priority(.debug) == 7)
    }

    @Test("status line: idle, profiling, writing, and disk use")
    func statusLine() {
        var status = DaemonStatus(stateDirectory: "/var/lib/profd")
        status.usage = ReportStore.Usage(sessions: 12, bytes: 3_565_158)
        #expect(status.line(sessions: [], writing: 0) == "idle, waiting for clients · 12 sessions, 3.4 MiB in /var/lib/profd")
        status.samplesSinceLastStatus = 1996
        status.sampleRate(over: 2_000_000_000)
        let line = status.line(sessions: [.init(pid: 812, unit: "demo.service"), .init(pid: 9, unit: nil)], writing: 1)
        #expect(line == "profiling 2 sessions (demo.service, pid 812; pid 9) · 998 samples/s · writing 1 report set · 12 sessions, 3.4 MiB in /var/lib/profd")
        let many = (1...5).map { DaemonStatus.Active(pid: Int32($0), unit: nil) }
        #expect(status.line(sessions: many, writing: 0).contains("pid 3, +2 more)"))
        status.retentionLimitBytes = 1 << 30
        #expect(status.line(sessions: [], writing: 0) == "idle, waiting for clients · 12 sessions, 3.4 MiB of 1.0 GiB in /var/lib/profd")
    }

    @Test("a unit name with control characters cannot break the status line")
    func statusEscapes() {
        let status = DaemonStatus(stateDirectory: "/s")
        let line = status.line(sessions: [.init(pid: 1, unit: "evil\n\u{1b}[2Jx.service")], writing: 0)
        #expect(!line.contains("\n") && !line.contains("\u{1b}"), "\(line)")
        #expect(ServiceManager.oneLine("a\nb\r\nc") == "a b c")
    }

    @Test("byte counts read like du -h")
    func bytes() {
        #expect(ByteCount.human(0) == "0 B")
        #expect(ByteCount.human(1023) == "1023 B")
        #expect(ByteCount.human(1536) == "1.5 KiB")
        #expect(ByteCount.human(5 << 30) == "5.0 GiB")
    }
}
