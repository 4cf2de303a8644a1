#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The on-disk layout of reports under the state directory.
///
/// ```
/// STATE/sessions/<session-id>/session.json   whole-session report (JSON, schema v1)
/// STATE/sessions/<session-id>/session.txt   whole-session text tree
/// STATE/sessions/<session-id>/routes/<route-file>.json|.txt|.html
/// STATE/sessions/<session-id>/requests/<request-file>.json|.txt|.html   requests the keep policy kept
/// STATE/sessions/<session-id>/capture.bin   the raw capture, symbolized (`CaptureArchive`)
/// ```
/// Which of `.json`, `.txt` and `.html` exist follows the session's `ReportOptions.formats`.
/// A session directory is assembled under a temporary name and renamed into place, so a session is either
/// complete or absent. Session ids sort by start time. Route file names are the route percent-encoded
/// (bytes outside `A-Z a-z 0-9 . _ -`), so any route maps to one safe, reversible name.
public struct ReportStore: Sendable {
    public let stateDirectory: String
    public var sessionsDirectory: String { stateDirectory + "/sessions" }

    /// The session's raw capture (`CaptureArchive`), from which profctl can build any report again.
    public static let captureFileName = "capture.bin"

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// Creates the directories if missing (refusing symlinks in their place). Called before every write:
    /// it never touches other writers' temporaries (see `recover()`). The state directory is 0700: users
    /// read reports through profd (`listRequest`, `openRequest`), which checks whose they are; group
    /// members cannot go around it. Below it, directories are 0750 and files 0640.
    public func prepare() throws(EngineError) {
        try AtomicFile.ensureDirectory(stateDirectory, mode: 0o700)
        try AtomicFile.ensureDirectory(sessionsDirectory)
    }

    /// At daemon start only: `prepare()`, then removes what a crash left under `sessions/` — staging
    /// directories (`.tmp-<id>`), half-removed sessions (`.tmp-rm-<id>`), temporary files — without
    /// following symlinks. Returns the names removed.
    @discardableResult
    public func recover() throws(EngineError) -> [String] {
        try prepare()
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: sessionsDirectory)) ?? [] where name.hasPrefix(".tmp-") {
            if AtomicFile.removeTree(sessionsDirectory + "/" + name) { removed.append(name) }
        }
        return removed.sorted()
    }

    /// What the store holds: complete sessions and the disk space of everything under `sessions/`.
    public struct Usage: Sendable, Equatable {
        public var sessions: Int
        /// Allocated bytes (like `du`), not file lengths.
        public var bytes: UInt64

        public init(sessions: Int, bytes: UInt64) {
            self.sessions = sessions
            self.bytes = bytes
        }
    }

    /// Walks `sessions/` (after a restart, and for the status line). Unreadable entries count as empty.
    public func usage() -> Usage {
        Usage(sessions: sessionIds().count, bytes: Self.diskBytes(under: sessionsDirectory))
    }

    /// Allocated bytes of `path` and everything below it, without following symbolic links.
    public static func diskBytes(under path: String) -> UInt64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var total = UInt64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return total }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            total += diskBytes(under: path + "/" + name)
        }
        return total
    }

    /// Writes all reports of one session atomically; returns the session directory.
    @discardableResult
    public func write(session: ProfileReport, routes: [ProfileReport], requests: [ProfileReport] = [],
                      formats: Set<ReportOptions.Format> = [.text, .json],
                      requestFileName: String = ReportOptions.defaultRequestFileName,
                      capture: [UInt8]? = nil) throws(EngineError) -> String {
        let id = session.metadata.id
        guard Self.isValidSessionId(id) else { throw EngineError(.storeWriteFailed, "invalid session id") }
        let formats = formats.isEmpty ? [.text, .json] : formats
        try prepare()
        let final = sessionsDirectory + "/" + id
        let staging = sessionsDirectory + "/.tmp-" + id
        // Our own leftover (or something planted there) goes; then the staging directory must be new.
        AtomicFile.removeTree(staging)
        guard mkdir(staging, 0o750) == 0 else {
            throw EngineError(.storeWriteFailed, "create \(staging)", errno: errno)
        }
        do throws(EngineError) {
            try AtomicFile.ensureDirectory(staging + "/routes")
            var summaries: [RouteSummary] = []
            for report in routes {
                guard case .route(let route) = report.scope else { continue }
                let base = Self.fileName(forRoute: route)
                let files = try writeFormats(report, formats: formats, directory: staging + "/routes", base: base)
                summaries.append(RouteSummary(route: route, requests: report.requests.count, samples: report.samples,
                                              cpuNs: report.cpuNs, files: files.mapValues { "routes/" + $0 }))
            }
            var kept: [KeptRequest] = []
            if !requests.isEmpty { try AtomicFile.ensureDirectory(staging + "/requests") }
            var usedNames: Set<String> = []
            for report in requests {
                guard case .request(var request) = report.scope else { continue }
                var base = RequestFileName.make(template: requestFileName, request: request)
                if usedNames.contains(base) { base += "-\(request.spanId)" }
                while usedNames.contains(base) { base += "_" }
                usedNames.insert(base)
                var reportWithFiles = report
                request.files = [:]
                reportWithFiles.scope = .request(request)
                let files = try writeFormats(reportWithFiles, formats: formats, directory: staging + "/requests", base: base)
                request.files = files.mapValues { "requests/" + $0 }
                kept.append(request)
            }
            var sessionReport = session
            sessionReport.routes = summaries
            sessionReport.keptRequests = kept
            _ = try writeFormats(sessionReport, formats: formats, directory: staging, base: "session")
            if let capture { try AtomicFile.write(capture, directory: staging, name: Self.captureFileName) }
            guard rename(staging, final) == 0 else {
                throw EngineError(.storeWriteFailed, "rename \(staging) to \(final)", errno: errno)
            }
            try AtomicFile.syncDirectory(sessionsDirectory)
        } catch {
            AtomicFile.removeTree(staging)
            throw error
        }
        return final
    }

    /// Writes `report` in each format; returns the file names written, keyed `json`, `text`, `html`.
    private func writeFormats(_ report: ProfileReport, formats: Set<ReportOptions.Format>, directory: String,
                              base: String) throws(EngineError) -> [String: String] {
        var files: [String: String] = [:]
        for format in formats.sorted() {
            let body: String
            switch format {
            case .json:
                do { body = try JSONRenderer().render(report) } catch {
                    throw EngineError(.storeWriteFailed, "encode JSON: \(error)")
                }
            case .text:
                body = TextRenderer().render(report)
            case .html:
                body = HTMLRenderer().render(report)
            }
            let name = base + "." + format.fileExtension
            try AtomicFile.write(Array(body.utf8), directory: directory, name: name)
            files[format.rawValue] = name
        }
        return files
    }

    /// Whether `path` is a directory itself, not a symlink to one.
    public static func isRealDirectory(_ path: String) -> Bool { AtomicFile.isRealDirectory(path) }

    /// Session ids are generated by the daemon; anything else (a planted `..`) is rejected.
    public static func isValidSessionId(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && !id.hasPrefix(".")
            && id.utf8.allSatisfy { $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// A reversible, filesystem-safe name for a route; long routes are truncated and suffixed with a hash.
    public static func fileName(forRoute route: String) -> String {
        var name = ""
        for byte in route.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2D:
                name.unicodeScalars.append(UnicodeScalar(byte))
            case 0x2E where !name.isEmpty:
                name.append(".")
            default:
                name += String(format: "%%%02X", byte)
            }
        }
        if name.isEmpty { name = "%00" }
        if name.utf8.count > 160 {
            var hash: UInt64 = 0xcbf29ce484222325
            for byte in route.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
            name = String(name.prefix(140)) + "~" + String(hash, radix: 16)
        }
        return name
    }

    /// Session ids present on disk, oldest first.
    public func sessionIds() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sessionsDirectory)) ?? []
        return names.filter { Self.isValidSessionId($0) && FileManager.default.fileExists(atPath: sessionsDirectory + "/" + $0 + "/session.json") }
            .sorted()
    }

    public func sessionDirectory(_ id: String) -> String { sessionsDirectory + "/" + id }

    /// Reads a file of a stored session, given its path relative to the session directory.
    public func readFile(session id: String, relativePath: String) throws(EngineError) -> [UInt8] {
        guard Self.isValidSessionId(id), !relativePath.split(separator: "/").contains("..") else {
            throw EngineError(.notFound, "no such session file")
        }
        return try AtomicFile.read(sessionDirectory(id) + "/" + relativePath)
    }

    /// The route index of a stored session, read from its session.json.
    public func routes(session id: String) throws(EngineError) -> [RouteSummary] {
        struct Index: Decodable { var routes: [RouteSummary]? }
        let bytes = try readFile(session: id, relativePath: "session.json")
        do {
            return try JSONDecoder().decode(Index.self, from: Data(bytes)).routes ?? []
        } catch {
            throw EngineError(.storeReadFailed, "session \(id): session.json is not a valid report: \(error)")
        }
    }
}
