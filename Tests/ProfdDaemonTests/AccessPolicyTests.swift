#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import profd

@Suite("access policy: who may act on another uid's sessions and reports")
struct AccessPolicyTests {
    let owner: UInt32 = 1000

    func peer(uid: UInt32, gid: UInt32, groups: [UInt32] = []) -> PeerIdentity {
        PeerIdentity(pid: 42, uid: uid, gid: gid, groups: groups)
    }

    @Test("without an admin group: root and the owner only")
    func noAdminGroup() {
        let policy = AccessPolicy()
        #expect(policy.permits(peer(uid: 0, gid: 0), owner: owner))
        #expect(policy.permits(peer(uid: 1000, gid: 1000), owner: owner))
        #expect(!policy.permits(peer(uid: 1001, gid: 1001, groups: [0, 1000]), owner: owner))
        #expect(!policy.seesEverything(peer(uid: 1001, gid: 1001)) && policy.seesEverything(peer(uid: 0, gid: 5)))
    }

    @Test("an admin group by primary gid or by a supplementary group; a non-member is refused")
    func adminGroup() {
        let policy = AccessPolicy(adminGroup: 4242)
        #expect(policy.permits(peer(uid: 1001, gid: 4242), owner: owner))
        #expect(policy.permits(peer(uid: 1001, gid: 1001, groups: [27, 4242]), owner: owner))
        #expect(policy.isAdmin(peer(uid: 1001, gid: 1001, groups: [4242])))
        #expect(!policy.permits(peer(uid: 1001, gid: 1001, groups: [27, 4243]), owner: owner))
        #expect(!policy.isAdmin(peer(uid: 0, gid: 0)), "root is not an admin by membership, but permitted anyway")
        #expect(policy.permits(peer(uid: 0, gid: 0), owner: owner))
    }

    @Test("a socket pair's peer groups come from the kernel: this process's own groups")
    func peerGroupsOfSocketPair() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let identity = try #require(PeerIdentity.of(socket: fds[0]))
        #expect(identity.uid == getuid() && identity.gid == getgid())
        let count = getgroups(0, nil)
        var own = [gid_t](repeating: 0, count: Int(max(count, 0)))
        _ = getgroups(count, &own)
        #expect(Set(identity.groups) == Set(own))
    }
}
