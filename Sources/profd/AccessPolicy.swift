/// Who may act on what another uid owns: attach to its processes, stop or see its sessions, list and
/// read its reports. One rule for all of them, so they cannot drift apart: root, the owner itself, or a
/// member of the admin group (`profd --admin-group`). Identities come from the kernel (`PeerIdentity`,
/// SO_PEERCRED and SO_PEERGROUPS), never from a message.
struct AccessPolicy: Sendable, Equatable {
    /// The admin group's gid; nil when there is none (the default).
    var adminGroup: UInt32?

    init(adminGroup: UInt32? = nil) {
        self.adminGroup = adminGroup
    }

    /// Whether `requester` belongs to the admin group.
    func isAdmin(_ requester: PeerIdentity) -> Bool {
        guard let adminGroup else { return false }
        return requester.isMember(of: adminGroup)
    }

    /// Whether `requester` may access what uid `owner` owns.
    func permits(_ requester: PeerIdentity, owner: UInt32) -> Bool {
        requester.uid == 0 || requester.uid == owner || isAdmin(requester)
    }

    /// Whether `requester` sees and may act on everyone's sessions (root or admin).
    func seesEverything(_ requester: PeerIdentity) -> Bool {
        requester.uid == 0 || isAdmin(requester)
    }
}
