#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import profd

@Suite("control plane pieces: who may attach")
struct ControlPiecesTests {
    @Test("a non-root requester may attach only when every uid of the target is its own; root to anything")
    func permits() {
        let own = ProcessCredentials(uids: [1000, 1000, 1000, 1000], gid: 1000)
        #expect(own.permits(1000) && own.permits(0) && !own.permits(1001))
        // A set-user-ID program the user started: real uid theirs, effective uid root.
        let setuid = ProcessCredentials(uids: [1000, 0, 0, 0], gid: 1000)
        #expect(!setuid.permits(1000) && setuid.permits(0))
        #expect(!ProcessCredentials(uids: [], gid: 0).permits(1000))
    }

    @Test("credentials come from /proc/PID/status")
    func procStatus() throws {
        let mine = try #require(ProcessCredentials.read(pid: getpid()))
        #expect(mine.uids == [getuid(), geteuid(), getuid(), geteuid()] && mine.gid == getgid())
        #expect(ProcessCredentials.read(pid: Int32.max) == nil)
    }
}
