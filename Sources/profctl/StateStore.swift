import ArgumentParser
import Foundation
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A failure profctl reports on stderr and ends with: the message, and the documented exit status.
struct ProfctlError: Error {
    var message: String
    var code: ExitCode

    init(_ message: String, code: ExitCode = .failure) {
        self.message = message
        self.code = code
    }

    static func notFound(_ message: String) -> ProfctlError { ProfctlError(message, code: ProfctlExit.notFound) }
    static func usage(_ message: String) -> ProfctlError { ProfctlError(message, code: ProfctlExit.usage) }

    /// A state directory or report profctl may not read.
    static func permission(_ path: String) -> ProfctlError {
        ProfctlError("permission denied: \(TerminalSafe.string(path)); \(permissionHint)", code: ProfctlExit.permission)
    }

    static let permissionHint = "the state directory is profd's alone; profctl reads your own reports through profd when it answers on "
        + "--socket (systemctl start profd.socket); root and members of profd's --admin-group see everyone's"
}


/// What one session's `session.json` says about the session, without its call tree.
struct SessionIndex: Decodable {
    struct Samples: Decodable {
        var count: Int
        var cpuNs: UInt64
    }

    var session: SessionMetadata
    var requests: RequestSummary
    var samples: Samples
    var routes: [RouteSummary]?
    var keptRequests: [KeptRequest]?
}

/// The reports as profctl reads them, from a `StateReader` (the directory or the daemon), with errors
/// turned into the documented exit statuses (3 not found, 4 permission) and messages that say what to do.
struct StateStore {
    let reader: any StateReader

    /// The state directory, read directly (tests, completions of a copy).
    init(_ stateDirectory: String) {
        reader = DirectoryStateReader(stateDirectory)
    }

    init(reader: any StateReader) {
        self.reader = reader
    }

    /// The reader `--state-dir` and `--socket` choose (see `StateReader.choose`).
    init(_ global: GlobalOptions, _ daemon: SocketOptions) {
        reader = stateReader(global, daemon)
    }

    var path: String { reader.location }

    func sessionIds() throws(ProfctlError) -> [String] { try reader.sessionIds() }

    func read(session id: String, _ relativePath: String) throws(ProfctlError) -> [UInt8] {
        try reader.read(session: id, relativePath)
    }

    /// The session's `session.json`, without its tree.
    func index(session id: String) throws(ProfctlError) -> SessionIndex {
        let bytes = try read(session: id, "session.json")
        do {
            return try JSONDecoder().decode(SessionIndex.self, from: Data(bytes))
        } catch {
            throw ProfctlError("session.json of session \(id) is not a valid report: \(error)")
        }
    }

    /// A stored JSON report, decoded so that any renderer can draw it.
    func report(session id: String, _ relativePath: String) throws(ProfctlError) -> ProfileReport {
        let bytes = try read(session: id, relativePath)
        do {
            return try ProfileReport(jsonReport: bytes)
        } catch {
            throw ProfctlError("\(TerminalSafe.string(relativePath)) of session \(id): \(error)")
        }
    }

    /// The session `--session` names: an exact id, or a prefix of exactly one id; without one, the latest.
    /// An unknown id is "not found" with the nearest ids, by spelling and by start time.
    func resolveSession(_ requested: String?) throws(ProfctlError) -> String {
        let ids = try sessionIds()
        guard let requested else {
            guard let latest = ids.last else {
                throw .notFound("no sessions in \(TerminalSafe.string(path)). Is profd running with this --state-dir, and has a client stopped a session?")
            }
            return latest
        }
        if ids.contains(requested) { return requested }
        let prefixed = requested.isEmpty ? [] : ids.filter { $0.hasPrefix(requested) }
        if prefixed.count == 1 { return prefixed[0] }
        if prefixed.count > 1 {
            throw .notFound("session '\(TerminalSafe.string(requested))' is ambiguous; it begins \(prefixed.count) sessions:\n  "
                            + prefixed.suffix(10).reversed().joined(separator: "\n  "))
        }
        let nearest = SessionMatch.nearest(to: requested, in: ids)
        throw .notFound("no session '\(TerminalSafe.string(requested))' in \(TerminalSafe.string(path))."
                        + (nearest.isEmpty ? " It has no sessions." : " Nearest sessions:\n  " + nearest.joined(separator: "\n  ")))
    }
}

/// Nearest session ids to a mistyped one.
enum SessionMatch {
    /// Up to `limit` ids nearest to `query`: when the query starts with a time (`20261126T1117...`), the ids
    /// closest in start time first, then by edit distance; otherwise ids containing the query first, then by
    /// edit distance (Levenshtein, on bytes). Ties go to the newer session.
    static func nearest(to query: String, in ids: [String], limit: Int = 5) -> [String] {
        let queryTime = SessionIdTime.seconds(ofIdPrefix: query)
        let queryBytes = Array(query.utf8)
        let scored = ids.map { id -> (id: String, time: Double, contains: Bool, distance: Int) in
            let timeGap: Double
            if let queryTime, let idTime = SessionIdTime.seconds(ofIdPrefix: id) {
                timeGap = abs(idTime - queryTime)
            } else {
                timeGap = 0
            }
            return (id, timeGap, !query.isEmpty && id.contains(query), editDistance(queryBytes, Array(id.utf8)))
        }
        let sorted = scored.sorted { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.contains != b.contains { return a.contains }
            if a.distance != b.distance { return a.distance < b.distance }
            return a.id > b.id
        }
        return sorted.prefix(limit).map(\.id)
    }

    /// Levenshtein distance, two rows.
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// The start time a session id begins with (`20261126T111755.123Z-...`).
enum SessionIdTime {
    /// Seconds since the epoch of the time an id (or a prefix of one, at least `YYYYMMDD`) begins with;
    /// missing fields count as their smallest value. Nil when it does not begin with a date.
    static func seconds(ofIdPrefix text: String) -> Double? {
        let bytes = Array(text.utf8)
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = digits(0, 4), let month = digits(4, 2), let day = digits(6, 2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(Timestamp.daysFromCivil(year: year, month: month, day: day)) * 86_400
        guard bytes.count > 8, bytes[8] == UInt8(ascii: "T") else { return seconds }
        seconds += Double(digits(9, 2) ?? 0) * 3600 + Double(digits(11, 2) ?? 0) * 60 + Double(digits(13, 2) ?? 0)
        if bytes.count > 15, bytes[15] == UInt8(ascii: "."), let millis = digits(16, 3) { seconds += Double(millis) / 1000 }
        return seconds
    }
}

/// Completions of values from the state directory, for the shell completion scripts.
enum StateCompletion {
    /// `GlobalOptions.stateDir`'s default.
    static let defaultStateDirectory = "/var/lib/profd"

    /// The state directory a command line names (`--state-dir D` or `--state-dir=D`), else the default.
    static func stateDirectory(in words: [String]) -> String {
        for (index, word) in words.enumerated() {
            if word == "--state-dir", index + 1 < words.count { return words[index + 1] }
            if word.hasPrefix("--state-dir=") { return String(word.dropFirst("--state-dir=".count)) }
        }
        return defaultStateDirectory
    }

    /// `--socket S` or `--socket=S` of a command line, else the default (`$PROFD_SOCKET`, else /run/profd).
    static func socket(in words: [String]) -> String {
        for (index, word) in words.enumerated() {
            if word == "--socket", index + 1 < words.count { return words[index + 1] }
            if word.hasPrefix("--socket=") { return String(word.dropFirst("--socket=".count)) }
        }
        return SocketOptions.environmentOrDefault
    }

    /// What the command line would read: the directory, or profd (as the command would choose).
    static func store(_ words: [String]) -> StateStore {
        StateStore(reader: DirectoryStateReader.choose(stateDirectory: stateDirectory(in: words), socket: socket(in: words)))
    }

    /// Session ids, newest first.
    static func sessions(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        let ids = (try? store(words).sessionIds()) ?? []
        return ids.reversed().filter { $0.hasPrefix(prefix) }
    }

    /// Span ids and file names of the kept requests of the session the command line names (else the latest).
    static func requests(_ words: [String], _ index: Int, _ prefix: String) -> [String] {
        let store = store(words)
        var session: String?
        for (position, word) in words.enumerated() where word == "--session" && position + 1 < words.count {
            session = words[position + 1]
        }
        guard let id = try? store.resolveSession(session), let kept = try? store.index(session: id).keptRequests else { return [] }
        var names: [String] = []
        for request in kept {
            names.append(String(request.spanId))
            if let file = request.files["json"] ?? request.files.values.sorted().first {
                names.append(KeptRequestLookup.baseName(of: file))
            }
        }
        return names.filter { $0.hasPrefix(prefix) }
    }
}

/// Finds a kept request (the `requests/` reports the keep policy kept) by span id or file name.
enum KeptRequestLookup {
    /// A report file's name without its directory and extension: `requests/a-b-17.json` → `a-b-17`.
    static func baseName(of file: String) -> String {
        var name = file.split(separator: "/").last.map(String.init) ?? file
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = String(name[..<dot]) }
        return name
    }

    /// Whether `key` names `request`: its span id, or one of its files, with or without `requests/` and
    /// the extension.
    static func matches(_ request: KeptRequest, _ key: String) -> Bool {
        if String(request.spanId) == key { return true }
        return request.files.values.contains { file in
            file == key || file.split(separator: "/").last.map(String.init) == key || baseName(of: file) == key
        }
    }

    /// The kept request `key` names in session `id`, if any.
    static func find(_ key: String, in store: StateStore, session id: String) throws(ProfctlError) -> KeptRequest? {
        try store.index(session: id).keptRequests?.first { matches($0, key) }
    }
}
