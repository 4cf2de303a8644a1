import ArgumentParser
import Foundation
import ProfdEngine
import ProfdProtocol

/// `profctl list`: the stored sessions and the requests they kept, filtered.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List stored sessions, oldest first, with the requests they kept.",
        discussion: """
            One line per session: its id, start (UTC), duration, service, pid, requests,
            samples and why it ended ("incomplete" when it was cut short). Under it, one
            line per kept request (a report of its own under requests/: slow, a server
            error, or in the random share): its span id, start, wall time, status, why it
            was kept and its route. Open one with profctl dump --session ID --request
            SPAN.

            Filters combine: --service and --route take an exact name or a pattern with *
            as a wildcard; --since and --until take an RFC 3339 date or time (2026-11-26,
            2026-11-26T11:00:00Z, 2026-11-26T12:00:00+01:00; UTC when no offset is given),
            "now", or a duration before now (-90s, -30m, -1h, -2d, -1w, -1h30m). A session
            is listed when it ran during the window; a kept request when it started in it.

            --json prints an array of sessions, each {id, service, unit, pid, uid,
            executable, startedAt, endedAt, durationNs, endReason, complete, requests,
            samples, routes: [{route, requests, samples, cpuNs}], keptRequests: [...]};
            with --slowest, an array of kept requests instead. A kept request is {session,
            service, spanId, route, status, startedAt, wallNs, time, reason, files}; its
            files are relative to the session directory.

            Examples:
              profctl list                        # every session and its kept requests
              profctl list --since -1h            # sessions of the last hour
              profctl list --service profd-demo --since 2026-11-26 --until 2026-11-27
              profctl list --route "GET /api/*"   # sessions with a matching route
              profctl list --slowest 5            # the 5 slowest kept requests
              profctl list --json | jq '.[].id'
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var daemon: SocketOptions

    @Option(name: .long, help: ArgumentHelp("Only sessions of this service (exact, or a pattern with *).", valueName: "service"))
    var service: String?

    @Option(name: .long, help: ArgumentHelp("Only sessions with this route, and only its kept requests (exact, or a pattern with *).", valueName: "route"))
    var route: String?

    // .unconditional: "-1h" is a value here, not an option.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Only what ran at or after this time: RFC 3339 (2026-11-26, 2026-11-26T11:00:00Z) or a duration before now (-1h, -30m, -2d).", valueName: "time"))
    var since: TimeBound?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Only what ran at or before this time (same forms as --since).", valueName: "time"))
    var until: TimeBound?

    @Option(name: .long, help: ArgumentHelp("Only the N slowest kept requests of the selected sessions, by wall time, slowest first.", valueName: "N"))
    var slowest: Int?

    @Flag(name: .long, help: "Print a JSON array (described above) instead of a table.")
    var json = false

    func validate() throws {
        if let slowest, slowest < 1 { throw ValidationError("--slowest needs a number of requests, at least 1") }
        if let since, let until, since.seconds > until.seconds {
            throw ValidationError("--since \(since.text) is after --until \(until.text)")
        }
    }

    /// A session that passed the filters, with its kept requests that did.
    struct Selected {
        var id: String
        var index: SessionIndex
        var kept: [KeptRequest]
    }

    func run() throws {
        let store = StateStore(global, daemon)
        let ids = try store.sessionIds()
        var selected: [Selected] = []
        var failure: ExitCode?
        for id in ids {
            // Ids begin with the start time: sessions that started after --until need no reading.
            if let until, let start = SessionIdTime.seconds(ofIdPrefix: id), start > until.seconds + 1 { continue }
            switch Result(catching: { () throws(ProfctlError) in try store.index(session: id) }) {
            case .success(let index):
                if let session = select(index) { selected.append(session) }
            case .failure(let error):
                // One unreadable session does not hide the others; the exit status still says so.
                fail(error.message)
                if failure == nil || error.code == ProfctlExit.permission { failure = error.code }
            }
        }

        if let slowest {
            let requests = selected.flatMap { session in session.kept.map { (session, $0) } }
                .sorted { a, b in
                    if a.1.wallNs != b.1.wallNs { return a.1.wallNs > b.1.wallNs }
                    if a.0.id != b.0.id { return a.0.id < b.0.id }
                    return a.1.spanId < b.1.spanId
                }
                .prefix(slowest)
            if json {
                try printJSON(requests.map { ListedRequest($0.1, session: $0.0.index.session) })
            } else if requests.isEmpty {
                fail(selected.isEmpty ? noSessionsMessage(ids, in: store.path) : "the selected sessions kept no requests")
            } else {
                print(slowestTable(Array(requests)), terminator: "")
            }
        } else if json {
            try printJSON(selected.map(ListedSession.init))
        } else if selected.isEmpty {
            fail(noSessionsMessage(ids, in: store.path))
        } else {
            print(sessionTable(selected), terminator: "")
        }
        if let failure { throw failure }
    }

    private func noSessionsMessage(_ ids: [String], in location: String) -> String {
        ids.isEmpty ? "no sessions in \(TerminalSafe.string(location))" : "no session matches the filters (\(ids.count) sessions in all)"
    }

    /// The session and its kept requests when they pass the filters; nil when the session does not.
    private func select(_ index: SessionIndex) -> Selected? {
        let metadata = index.session
        if let service, !RoutePattern.matches(metadata.service, pattern: service) { return nil }
        let start = Timestamp.parse(metadata.startedAt)
        let end = Timestamp.parse(metadata.endedAt) ?? start
        if let since, let end, end < since.seconds { return nil }
        if let until, let start, start > until.seconds { return nil }
        var kept = index.keptRequests ?? []
        if let route {
            let hasRoute = (index.routes ?? []).contains { RoutePattern.matches($0.route, pattern: route) }
            kept = kept.filter { RoutePattern.matches($0.route, pattern: route) }
            if !hasRoute && kept.isEmpty { return nil }
        }
        kept = kept.filter { request in
            guard let started = Timestamp.parse(request.startedAt) else { return true }
            if let since, started < since.seconds { return false }
            if let until, started > until.seconds { return false }
            return true
        }
        return Selected(id: metadata.id, index: index, kept: kept)
    }

    // MARK: Tables

    private func sessionTable(_ sessions: [Selected]) -> String {
        var table = Table(header: ["SESSION", "STARTED", "DURATION", "SERVICE", "PID", "REQUESTS", "SAMPLES", "END"],
                          rightAligned: [2, 4, 5, 6])
        var keptLines: [Int: [[String]]] = [:]
        for session in sessions {
            let metadata = session.index.session
            var end = TerminalSafe.string(metadata.endReason)
            if metadata.complete == false { end += ", incomplete" }
            table.rows.append([session.id, Timestamp.short(metadata.startedAt), DurationText.session(metadata.durationNs),
                               TerminalSafe.string(metadata.service), String(metadata.pid),
                               String(session.index.requests.count), String(session.index.samples.count), end])
            keptLines[table.rows.count - 1] = session.kept.map { request in
                var started = Timestamp.short(request.startedAt, milliseconds: true)
                // The date is the session's, above, unless the request began on another day.
                if started.prefix(11) == Timestamp.short(metadata.startedAt).prefix(11) { started = String(started.dropFirst(11)) }
                return ["span \(request.spanId)", started, DurationText.request(request.wallNs),
                        "status \(request.status)", Self.reasonText(request.reason), TerminalSafe.string(request.route)]
            }
        }
        var kept = Table(header: nil, rightAligned: [2])
        kept.rows = keptLines.keys.sorted().flatMap { keptLines[$0]! }
        let keptRendered = kept.renderedRows()
        var keptIndex = 0
        var output = ""
        let rendered = table.renderedRows()
        output += rendered[0] + "\n"
        for (row, line) in rendered.dropFirst().enumerated() {
            output += line + "\n"
            for _ in keptLines[row] ?? [] {
                output += "    " + keptRendered[keptIndex] + "\n"
                keptIndex += 1
            }
        }
        return output
    }

    private func slowestTable(_ requests: [(Selected, KeptRequest)]) -> String {
        var table = Table(header: ["WALL", "STATUS", "REASON", "STARTED", "SESSION", "SERVICE", "SPAN", "ROUTE"],
                          rightAligned: [0, 6])
        for (session, request) in requests {
            table.rows.append([DurationText.request(request.wallNs), String(request.status), Self.reasonText(request.reason),
                               Timestamp.short(request.startedAt, milliseconds: true), session.id,
                               TerminalSafe.string(session.index.session.service), String(request.spanId),
                               TerminalSafe.string(request.route)])
        }
        return table.renderedRows().map { $0 + "\n" }.joined()
    }

    static func reasonText(_ reason: KeptRequest.Reason?) -> String {
        switch reason {
        case .slow: "slow"
        case .serverError: "server error"
        case .sampled: "sampled"
        case nil: "kept"
        }
    }

    // MARK: JSON

    private func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(value) } catch { throw ProfctlError("cannot encode JSON: \(error)") }
        // Foundation pretty-prints an empty array as "[", a blank line and "]"; JSON strings hold no raw
        // newline, so this only ever matches an empty array.
        let text = String(decoding: TerminalSafe.json(data), as: UTF8.self)
            .replacingOccurrences(of: "\\[\n\\s*\n\\s*\\]", with: "[]", options: .regularExpression)
        writeAll(fd: 1, Array(text.utf8) + [UInt8(ascii: "\n")])
    }

    struct ListedRoute: Encodable {
        var route: String
        var requests: Int
        var samples: Int
        var cpuNs: UInt64
    }

    struct ListedRequest: Encodable {
        var session: String
        var service: String
        var spanId: UInt64
        var route: String
        var status: Int
        var startedAt: String
        var wallNs: UInt64
        var time: TimeBreakdown
        var reason: KeptRequest.Reason?
        var files: [String: String]

        init(_ request: KeptRequest, session: SessionMetadata) {
            self.session = session.id
            service = session.service
            spanId = request.spanId
            route = request.route
            status = request.status
            startedAt = request.startedAt
            wallNs = request.wallNs
            time = request.time
            reason = request.reason
            files = request.files
        }
    }

    struct ListedSession: Encodable {
        var id: String
        var service: String
        var unit: String?
        var pid: Int32
        var uid: UInt32
        var executable: String?
        var startedAt: String
        var endedAt: String
        var durationNs: UInt64
        var endReason: String
        var complete: Bool?
        var requests: Int
        var samples: Int
        var routes: [ListedRoute]
        var keptRequests: [ListedRequest]

        init(_ selected: Selected) {
            let metadata = selected.index.session
            id = metadata.id
            service = metadata.service
            unit = metadata.unit
            pid = metadata.pid
            uid = metadata.uid
            executable = metadata.executable
            startedAt = metadata.startedAt
            endedAt = metadata.endedAt
            durationNs = metadata.durationNs
            endReason = metadata.endReason
            complete = metadata.complete
            requests = selected.index.requests.count
            samples = selected.index.samples.count
            routes = (selected.index.routes ?? []).map { ListedRoute(route: $0.route, requests: $0.requests, samples: $0.samples, cpuNs: $0.cpuNs) }
            keptRequests = selected.kept.map { ListedRequest($0, session: metadata) }
        }
    }
}

/// A plain-text table: columns two spaces apart, padded to their widest cell; the last column is never padded.
struct Table {
    var header: [String]?
    var rightAligned: Set<Int>
    var rows: [[String]] = []

    init(header: [String]?, rightAligned: Set<Int>) {
        self.header = header
        self.rightAligned = rightAligned
    }

    func renderedRows() -> [String] {
        let all = (header.map { [$0] } ?? []) + rows
        guard let columns = all.map(\.count).max() else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for row in all {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return all.map { row in
            var line = ""
            for (column, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column > 0 { line += "  " }
                if rightAligned.contains(column) {
                    line += padding + cell
                } else if column == row.count - 1 {
                    line += cell
                } else {
                    line += cell + padding
                }
            }
            return line
        }
    }
}
