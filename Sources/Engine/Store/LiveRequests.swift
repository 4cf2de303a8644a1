#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Kept requests written while their session still runs, for `profctl follow`:
///
/// ```
/// STATE/live/<session-id>/<end-ns>-<span-id>.json   the request's report
/// STATE/live/<session-id>/<end-ns>-<span-id>.txt    its text tree, written last: a follower keys on it
/// ```
/// The end time (`CLOCK_MONOTONIC`, zero-padded) leads the name, so names sort in the order requests
/// ended. The folder is scratch space: the session's final reports (`sessions/<id>/requests/`) hold the
/// same requests; profd removes a session's live folder a little after writing those, and all of `live/`
/// when it starts.
extension ReportStore {
    public var liveDirectory: String { stateDirectory + "/live" }

    public func liveDirectory(session id: String) -> String { liveDirectory + "/" + id }

    /// Writes one kept request's report (JSON, then text) into the session's live folder.
    public func writeLive(request report: ProfileReport) throws(EngineError) {
        guard case .request(let request) = report.scope else { return }
        let id = report.metadata.id
        guard Self.isValidSessionId(id) else { throw EngineError(.storeWriteFailed, "invalid session id") }
        try AtomicFile.ensureDirectory(liveDirectory)
        try AtomicFile.ensureDirectory(liveDirectory(session: id))
        let base = Self.liveFileBase(endNs: request.endNs, spanId: request.spanId)
        let json: String
        do { json = try JSONRenderer().render(report) } catch {
            throw EngineError(.storeWriteFailed, "encode JSON: \(error)")
        }
        try AtomicFile.write(Array(json.utf8), directory: liveDirectory(session: id), name: base + ".json")
        try AtomicFile.write(Array(TextRenderer().render(report).utf8), directory: liveDirectory(session: id), name: base + ".txt")
    }

    /// `00000001234567890123-42`: sorts by end time.
    static func liveFileBase(endNs: UInt64, spanId: UInt64) -> String {
        let digits = String(endNs)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "-" + String(spanId)
    }

    public func removeLive(session id: String) {
        // A `live` replaced by a symlink is never followed (its own removal is clearLive's, at start).
        guard Self.isValidSessionId(id), AtomicFile.isRealDirectory(liveDirectory) else { return }
        AtomicFile.removeTree(liveDirectory(session: id))
    }

    /// Clears every live folder (at daemon start: no session of an earlier daemon is still running).
    public func clearLive() {
        AtomicFile.removeTree(liveDirectory)
    }

    /// One live kept request as a follower finds it.
    public struct LiveRequestFile: Sendable, Hashable, Comparable {
        public var session: String
        /// Without extension.
        public var base: String
        public var textPath: String { "\(session)/\(base).txt" }
        public var jsonPath: String { "\(session)/\(base).json" }

        public static func < (a: Self, b: Self) -> Bool { (a.base, a.session) < (b.base, b.session) }
    }

    /// The live kept requests present now (their text written), in the order they ended.
    public func liveRequests(session: String? = nil) -> [LiveRequestFile] {
        let sessions = session.map { [$0] } ?? ((try? FileManager.default.contentsOfDirectory(atPath: liveDirectory)) ?? [])
        var found: [LiveRequestFile] = []
        for id in sessions where Self.isValidSessionId(id) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: liveDirectory(session: id))) ?? []
            where name.hasSuffix(".txt") && !name.hasPrefix(".") {
                found.append(LiveRequestFile(session: id, base: String(name.dropLast(4))))
            }
        }
        return found.sorted()
    }

    /// Reads a file under `live/` given its path relative to it.
    public func readLive(relativePath: String) throws(EngineError) -> [UInt8] {
        guard !relativePath.split(separator: "/").contains("..") else { throw EngineError(.notFound, "no such live file") }
        return try AtomicFile.read(liveDirectory + "/" + relativePath)
    }
}
