import Foundation
import ProfdProtocol

/// Renders a `ProfileDiff` as a text table: one row per function, by impact, with A's and B's time (self
/// time by default, total time when the diff ranks by total), the change, the relative change and the change
/// in share. With colour on (profctl turns it on only for a terminal), slower is red and faster green.
public struct DiffTextRenderer: Sendable {
    public struct Options: Sendable {
        /// Rows to show; nil shows every function.
        public var limit: Int?
        /// ANSI colours: red for slower, green for faster. Files stay plain.
        public var colour: Bool
        public init(limit: Int? = 25, colour: Bool = false) {
            self.limit = limit
            self.colour = colour
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    public func render(_ diff: ProfileDiff) -> String {
        let measure = diff.ranking == .selfTime ? "self" : "total"
        var out = "profd diff · \(measure) time \(Self.basisPhrase(diff.basis)) · A → B\n"
        out += "A  " + Self.sideLine(diff.a) + "\n"
        out += "B  " + Self.sideLine(diff.b) + "\n"
        out += "on CPU \(Self.basisPhrase(diff.basis)): A \(Self.time(diff.a.basisCPUNs, diff.basis))"
        out += " → B \(Self.time(diff.b.basisCPUNs, diff.basis))"
        let cpuDelta = diff.b.basisCPUNs - diff.a.basisCPUNs
        let cpuChange = Self.signedTime(cpuDelta, diff.basis) + (Self.relative(cpuDelta, of: diff.a.basisCPUNs).map { ", " + $0 } ?? "")
        out += " (" + paint(cpuChange, delta: cpuDelta) + ")\n"
        if let note = diff.basisNote { out += "note: " + note + "\n" }
        out += "top improvement: " + highlight(diff.topImprovement, diff) + "\n"
        out += "top regression: " + highlight(diff.topRegression, diff) + "\n"
        out += "\n"
        guard !diff.functions.isEmpty else {
            out += "No samples on either side.\n"
            return out
        }
        out += Self.pad("A", 10) + " " + Self.pad("B", 10) + " " + Self.pad("Δ time", 11) + " " + Self.pad("Δ%", 7) + " "
            + Self.pad("Δ share", 8) + "  function\n"
        let shown = options.limit.map { $0 > 0 ? min($0, diff.functions.count) : diff.functions.count } ?? diff.functions.count
        for row in diff.functions.prefix(shown) {
            out += line(row, diff) + "\n"
        }
        if diff.functions.prefix(shown).contains(where: { $0.withinNoise && $0.delta(diff.ranking) != 0 }) {
            out += Self.noiseNote + "\n"
        }
        if shown < diff.functions.count {
            let more = diff.functions.count - shown
            out += "… \(more) more function\(more == 1 ? "" : "s") (--limit 0 shows all)\n"
        }
        return out
    }

    private func line(_ row: ProfileDiff.Row, _ diff: ProfileDiff) -> String {
        let byTotal = diff.ranking == .totalTime
        let a = row.a.map { Self.time(byTotal ? $0.totalNs : $0.selfNs, diff.basis) } ?? "-"
        let b = row.b.map { Self.time(byTotal ? $0.totalNs : $0.selfNs, diff.basis) } ?? "-"
        let delta = row.delta(diff.ranking)
        let relative: String
        switch row.status {
        case .new: relative = "new"
        case .gone: relative = "gone"
        case .both:
            let before = byTotal ? row.a?.totalNs ?? 0 : row.a?.selfNs ?? 0
            relative = Self.relative(delta, of: before) ?? "-"
        }
        let share = Self.points(byTotal ? row.deltaTotalShare : row.deltaSelfShare)
        let noise = row.withinNoise && delta != 0
        let changed = Self.pad((noise ? "≈" : "") + Self.signedTime(delta, diff.basis), 11) + " " + Self.pad(relative, 7)
        return Self.pad(a, 10) + " " + Self.pad(b, 10) + " " + paint(changed, delta: noise ? 0 : delta) + " "
            + Self.pad(share, 8) + "  " + Self.label(row)
    }

    private func highlight(_ highlight: ProfileDiff.Highlight?, _ diff: ProfileDiff) -> String {
        guard let highlight else { return "none beyond sampling noise" }
        let row = diff.functions.first { $0.function == highlight.function && $0.binary == highlight.binary }
        let name = row.map(Self.label) ?? TerminalSafe.string(highlight.function)
        return name + " " + paint(Self.signedTime(highlight.deltaNs, diff.basis), delta: highlight.deltaNs)
    }

    /// Red for slower, green for faster, when colour is on. Text passed here is terminal-safe already.
    private func paint(_ text: String, delta: Int64) -> String {
        guard options.colour, delta != 0 else { return text }
        return (delta > 0 ? "\u{1B}[31m" : "\u{1B}[32m") + text + "\u{1B}[0m"
    }

    static let noiseNote = "≈ within sampling noise: a change of at most two standard deviations of the sample counts"

    /// The function, terminal-safe, with its library's file name when it is not in the executable.
    static func label(_ row: ProfileDiff.Row) -> String {
        var text = TerminalSafe.string(row.function)
        if !row.inExecutable && !row.binary.hasPrefix("[") {
            text += "  " + TerminalSafe.string(row.binary.split(separator: "/").last.map(String.init) ?? row.binary)
        }
        return text
    }

    static func sideLine(_ side: ProfileDiff.Side) -> String {
        var text = "session \(TerminalSafe.string(side.session))"
        if side.kind != "session" { text += " · \(side.kind) " + TerminalSafe.string(side.route ?? "") }
        text += " · \(side.requests) request\(side.requests == 1 ? "" : "s")"
        text += " · \(side.samples) samples = \(TextRenderer.seconds(side.cpuNs)) on CPU"
        return text
    }

    static func basisPhrase(_ basis: ProfileDiff.Basis) -> String {
        basis == .perRequest ? "per request" : "in total"
    }

    /// Per request in milliseconds with microsecond precision; totals in seconds, as the text report.
    static func time(_ ns: Int64, _ basis: ProfileDiff.Basis) -> String {
        switch basis {
        case .perRequest: String(format: "%.3fms", Double(ns) / 1e6)
        case .total: String(format: "%.3fs", Double(ns) / 1e9)
        }
    }

    static func signedTime(_ ns: Int64, _ basis: ProfileDiff.Basis) -> String {
        ns == 0 ? time(0, basis) : (ns > 0 ? "+" : "-") + time(Int64(ns.magnitude), basis)
    }

    /// `+12.5%`; nil when there is nothing to compare with.
    static func relative(_ delta: Int64, of before: Int64) -> String? {
        guard before > 0 else { return nil }
        return String(format: "%+.1f%%", 100 * Double(delta) / Double(before))
    }

    /// A share change in percentage points: `+16.7pt`.
    static func points(_ share: Double) -> String {
        let value = (share * 1000).rounded() / 10
        return value == 0 ? "0.0pt" : String(format: "%+.1fpt", value)
    }

    /// Right-aligned to `width` characters (by Character count, so `Δ` counts as one).
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
