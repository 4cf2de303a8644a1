import ArgumentParser
import Foundation
import ProfdEngine
import ProfdProtocol
#if canImport(Glibc)
import Glibc
#endif

/// `profctl top`: the hottest routes and functions of every running session, refreshed every second.
///
/// profd refreshes each running session's `STATE/live/<session>/top.json` every second while someone is
/// looking: top asks the daemon for its status (over its socket) at every refresh, which keeps the
/// snapshots coming, then merges the fresh ones (written in the last 3 s) and redraws. `q` quits.
struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view of the hottest routes and functions across running sessions; q quits.",
        discussion: """
            Routes are ranked by samples in the last second. Functions are ranked by OWN time: self
            time with library frames (libc, the Swift runtime, NIO, Hummingbird, ...) folded into the
            nearest function of the app's own code, the way reports hide library frames; TOTAL is the
            share of samples with the function anywhere on the stack.

            Examples:
              profctl top
              profctl top --once                 # one screen to stdout, for scripts
              profctl top --limit 5 --interval 2
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var daemon: SocketOptions

    @Option(name: .long, help: "Rows per table.")
    var limit = 15

    @Option(name: .long, help: "Seconds between refreshes.")
    var interval = 1.0

    @Flag(name: .long, help: "Print one screen and exit (no terminal needed).")
    var once = false

    @Option(name: .long, help: ArgumentHelp("Leave out sessions whose snapshot is older than this (0: keep all, e.g. to read a copied state directory).", valueName: "seconds"))
    var staleAfter = 3.0

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        guard interval >= 0.1 && interval <= 60 else { throw ValidationError("--interval must be 0.1...60 seconds") }
        guard staleAfter >= 0 else { throw ValidationError("--stale-after must be 0 or more seconds") }
    }

    func run() throws {
        let store = TopSnapshots(reader: stateReader(global, daemon))
        let maximumAge = staleAfter == 0 ? Double.infinity : staleAfter
        if once {
            // A daemon nobody watched has no fresh snapshots: ask, then give it a refresh to write them.
            if lookingAtDaemon() {
                let deadline = Date().addingTimeInterval(5)
                while Date() < deadline && store.fresh(maximumAgeSeconds: 1.0).isEmpty { usleep(100_000) }
            }
            FileHandle.standardOutput.write(Data(TopScreen(snapshots: store.fresh(maximumAgeSeconds: maximumAge), limit: limit, width: 100).render().utf8))
            return
        }
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            fail("profctl top needs a terminal; use --once to print one screen")
            throw ExitCode(2)
        }
        let terminal = RawTerminal()
        defer { terminal.restore() }
        while true {
            _ = lookingAtDaemon()
            var size = winsize()
            _ = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size)
            let screen = TopScreen(snapshots: store.fresh(maximumAgeSeconds: maximumAge), limit: limit, width: Int(size.ws_col > 0 ? size.ws_col : 100),
                                   height: Int(size.ws_row > 0 ? size.ws_row : 40))
            // Home, draw, clear what the previous frame left below.
            let frame = "\u{1b}[H" + screen.render().replacingOccurrences(of: "\n", with: "\u{1b}[K\r\n") + "\u{1b}[J"
            FileHandle.standardOutput.write(Data(frame.utf8))
            if terminal.waitForQuit(seconds: interval) { break }
        }
    }
}

extension Top {
    /// Tells profd someone is watching (a status request), so running sessions keep refreshing their
    /// `top.json`; false when no daemon answers (the state directory may be a copy).
    func lookingAtDaemon() -> Bool {
        guard case .success(let client) = DaemonClient.attempt(daemon.path) else { return false }
        return (try? client.status()) != nil
    }
}

/// One screen of `profctl top`, as plain text.
struct TopScreen {
    var snapshots: [TopSnapshot]
    var limit: Int
    var width: Int
    var height: Int = .max

    func render() -> String {
        let samples = snapshots.reduce(0) { $0 + $1.samples }
        var lines: [String] = []
        let rate = snapshots.reduce(0.0) { $0 + Double($1.samples) * 1e9 / Double(max($1.windowNs, 1)) }
        lines.append("profctl top · \(snapshots.count) running session\(snapshots.count == 1 ? "" : "s") · \(Int(rate.rounded())) samples/s · q quits")
        guard samples > 0 else {
            lines.append("")
            lines.append(snapshots.isEmpty ? "no running session is being profiled (profd writes live/<session>/top.json every second)"
                                           : "no samples in the last second")
            return fit(lines)
        }
        lines.append("")
        lines.append(row(["ROUTE", "CPU%", "SAMPLES", "SESSION"], widths: [nil, 7, 8, 34]))
        var routes: [(route: String, samples: Int, session: String)] = []
        for snapshot in snapshots {
            let who = (snapshot.unit.map { $0 + " " } ?? "") + "pid \(snapshot.pid)"
            for route in snapshot.routes { routes.append((route.route, route.samples, who)) }
        }
        for route in routes.sorted(by: { ($0.samples, $1.route) > ($1.samples, $0.route) }).prefix(limit) {
            lines.append(row([TerminalSafe.string(route.route), percent(route.samples, of: samples), String(route.samples),
                              TerminalSafe.string(route.session)], widths: [nil, 7, 8, 34]))
        }
        lines.append("")
        lines.append(row(["FUNCTION (own code)", "OWN%", "TOTAL%", "BINARY"], widths: [nil, 7, 7, 20]))
        struct Key: Hashable { var function: String; var binary: String }
        var merged: [Key: (own: Int, total: Int)] = [:]
        for snapshot in snapshots {
            for function in snapshot.functions {
                let key = Key(function: function.function, binary: function.binary)
                merged[key, default: (0, 0)].own += function.own
                merged[key, default: (0, 0)].total += function.total
            }
        }
        let hottest = merged.filter { $0.value.own > 0 }.sorted { ($0.value.own, $0.value.total, $1.key.function) > ($1.value.own, $1.value.total, $0.key.function) }
        for (key, counts) in hottest.prefix(limit) {
            let binary = key.binary.split(separator: "/").last.map(String.init) ?? key.binary
            lines.append(row([TerminalSafe.string(key.function), percent(counts.own, of: samples), percent(counts.total, of: samples),
                              TerminalSafe.string(binary)], widths: [nil, 7, 7, 20]))
        }
        return fit(lines)
    }

    private func percent(_ count: Int, of total: Int) -> String {
        let tenths = Int((Double(count) * 1000 / Double(max(total, 1))).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// Columns with fixed widths after a first column that takes the rest (truncated with …).
    private func row(_ cells: [String], widths: [Int?]) -> String {
        let fixed = widths.compactMap { $0 }.reduce(0) { $0 + $1 + 2 }
        let first = max(20, width - fixed)
        var out = pad(cells[0], first)
        for (cell, width) in zip(cells.dropFirst(), widths.dropFirst()) {
            let w = width ?? 10
            out += "  " + (cell.count >= w ? String(cell.prefix(w)) : String(repeating: " ", count: w - cell.count) + cell)
        }
        return String(out.prefix(width))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count > width ? String(text.prefix(width - 1)) + "…" : text + String(repeating: " ", count: width - text.count)
    }

    private func fit(_ lines: [String]) -> String {
        lines.prefix(max(height - 1, 3)).joined(separator: "\n") + "\n"
    }
}

/// The terminal in raw mode (no echo, key by key) while top runs; restored on exit and on SIGINT/SIGTERM.
final class RawTerminal {
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var active = false

    init() {
        tcgetattr(STDIN_FILENO, &Self.saved)
        var raw = Self.saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        Self.active = true
        let handler: @convention(c) (Int32) -> Void = { signal in
            RawTerminal.restoreNow()
            _exit(128 + signal)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // Alternate screen, cursor hidden.
        FileHandle.standardOutput.write(Data("\u{1b}[?1049h\u{1b}[?25l".utf8))
    }

    func restore() { Self.restoreNow() }

    private static func restoreNow() {
        guard active else { return }
        active = false
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
        let leave = "\u{1b}[?25h\u{1b}[?1049l"
        _ = leave.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
    }

    /// Waits up to `seconds` for a key; true when it was q (or Q, or end of input).
    func waitForQuit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let remaining = Int32(deadline.timeIntervalSinceNow * 1000)
            if remaining <= 0 { return false }
            var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, remaining) > 0 else { continue }
            var byte: UInt8 = 0
            let count = read(STDIN_FILENO, &byte, 1)
            if count <= 0 || byte == UInt8(ascii: "q") || byte == UInt8(ascii: "Q") { return true }
        }
    }
}

/// Each running session's `top.json`, through the chosen `StateReader`.
struct TopSnapshots {
    let reader: any StateReader

    /// The snapshots refreshed within `maximumAgeSeconds`: the running sessions.
    func fresh(maximumAgeSeconds: Double) -> [TopSnapshot] {
        let now = Date().timeIntervalSince1970
        return reader.liveSessionIds().compactMap { id in
            guard let file = reader.readLive(session: id, ReportStore.topFileName), now - file.modified <= maximumAgeSeconds else { return nil }
            return try? JSONDecoder().decode(TopSnapshot.self, from: Data(file.bytes))
        }
    }
}
