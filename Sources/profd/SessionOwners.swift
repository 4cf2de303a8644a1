import Dispatch
import Foundation
import ProfdEngine
import Synchronization

/// Whose each stored session is (session id → the uid of its profiled process, `session.uid` in its
/// `session.json`), so that authorizing a read never parses a report on the event loop: the loop records a
/// session's owner when it stops, and a background scan at start reads the sessions an earlier daemon
/// wrote. Shared between the loop and that scan.
final class SessionOwners: Sendable {
    private let owners = Mutex<[String: UInt32]>([:])
    /// Bounds the map: ids of sessions retention removed are never asked again.
    static let capacity = 100_000

    func record(_ id: String, owner: UInt32) {
        owners.withLock { map in
            if map.count >= Self.capacity { map.removeAll() }
            map[id] = owner
        }
    }

    func owner(of id: String) -> UInt32? {
        owners.withLock { $0[id] }
    }

    /// Reads the owner of every stored session not known yet, off the event loop (at daemon start).
    func scanInBackground(_ store: ReportStore) {
        DispatchQueue.global(qos: .utility).async { [self] in
            for id in store.sessionIds() where owner(of: id) == nil {
                if let uid = Self.readOwner(id, in: store) { record(id, owner: uid) }
            }
        }
    }

    /// The `session.uid` of a stored session's `session.json`; nil when it has none.
    static func readOwner(_ id: String, in store: ReportStore) -> UInt32? {
        struct Index: Decodable {
            struct Session: Decodable { var uid: UInt32 }
            var session: Session
        }
        guard let bytes = try? store.readFile(session: id, relativePath: "session.json") else { return nil }
        return try? JSONDecoder().decode(Index.self, from: Data(bytes)).session.uid
    }
}
