import Foundation
import ProfdProtocol

/// Renders a report as a plain-text call tree in the spirit of pyinstrument: time, share of the
/// report's samples, and function per line, with `[self]` time where a frame also has callees.
public struct TextRenderer: ReportRenderer {
    public struct Options: Sendable {
        /// Fold library frames into `[N frames hidden]`.
        public var hideLibraryFrames = true
        /// Omit nodes below this share of the report's samples (0 keeps everything).
        public var minimumShare = 0.0
        /// ANSI colours, for a terminal: the time column red, yellow or green by share (as pyinstrument does),
        /// hidden frames and `[self]` dimmed. Files stay plain; profctl turns this on only for a TTY.
        public var colour = false
        public init(hideLibraryFrames: Bool = true, minimumShare: Double = 0.0, colour: Bool = false) {
            self.hideLibraryFrames = hideLibraryFrames
            self.minimumShare = minimumShare
            self.colour = colour
        }
    }

    public var options: Options
    public var fileExtension: String { "txt" }

    public init(options: Options = Options()) {
        self.options = options
    }

    public func render(_ report: ProfileReport) -> String {
        let meta = report.metadata
        var out = ""
        let title: String
        switch report.scope {
        case .session: title = "session"
        case .route(let route): title = "route " + TerminalSafe.string(route)
        case .request(let request): title = "request \(request.spanId) · " + TerminalSafe.string(request.route) + " · status \(request.status)"
        }
        out += "profd · \(title) · service \(TerminalSafe.string(meta.service)) · pid \(meta.pid)"
        out += (meta.unit.map { " · unit " + TerminalSafe.string($0) } ?? "") + "\n"
        out += "session \(meta.id) · started \(meta.startedAt) · \(Self.seconds(meta.durationNs)) · \(Self.ending(meta))\n"
        if meta.isAttach && report.requests.count == 0 {
            out += "attached: the whole process, no requests\n"
        } else {
            out += Self.requestLine(report.requests) + "\n"
        }
        if let time = report.requests.time, time.requests > 0 {
            out += Self.timeLine(time) + "\n"
        }
        if let excluded = meta.excludedRequests, excluded > 0, report.scope == .session {
            out += "excluded routes: \(excluded) requests, \(meta.excludedSamples ?? 0) samples left out\n"
        }
        if let line = Self.skippedKeptLine(report) { out += line + "\n" }
        out += "\(report.samples) samples at \(meta.frequencyHz) Hz = \(Self.seconds(report.cpuNs)) on CPU"
        out += " · lost \(meta.lostSamples) · dropped samples \(meta.droppedSamples) · dropped spans \(meta.droppedSpans)"
        out += (meta.suppressedSpans ?? 0 > 0 ? " · suppressed spans \(meta.suppressedSpans ?? 0)" : "") + "\n"
        out += "\n"

        guard report.samples > 0 else {
            out += "No samples. The process was idle or exited before it was sampled.\n"
            return out
        }
        let classifier = options.hideLibraryFrames ? LibraryFrameClassifier(executablePath: meta.executable) : nil
        let minimum = Int((options.minimumShare * Double(report.samples)).rounded(.down))
        let display = DisplayNode.build(from: report.tree, classifier: classifier, minimumSamples: minimum)
        let rootLabel: String
        switch report.scope {
        case .session: rootLabel = "all threads"
        case .route(let route): rootLabel = TerminalSafe.string(route)
        case .request(let request): rootLabel = TerminalSafe.string(request.route)
        }
        out += line(total: display.totalSamples, of: report, label: rootLabel) + "\n"
        renderChildren(of: display, prefix: "", report: report, into: &out)
        return out
    }

    private func renderChildren(of node: DisplayNode, prefix: String, report: ProfileReport, into out: inout String) {
        var entries: [(label: String, samples: Int, node: DisplayNode?)] = node.children.map { child in
            (label(for: child, executable: report.metadata.executable), child.totalSamples, child)
        }
        if !node.children.isEmpty && node.selfSamples > 0, case .frame = node.kind {
            entries.append(("[self]", node.selfSamples, nil))
        }
        for (index, entry) in entries.enumerated() {
            let last = index == entries.count - 1
            out += prefix + (last ? "└─ " : "├─ ") + line(total: entry.samples, of: report, label: entry.label) + "\n"
            if let child = entry.node {
                renderChildren(of: child, prefix: prefix + (last ? "   " : "│  "), report: report, into: &out)
            }
        }
    }

    private func label(for node: DisplayNode, executable: String?) -> String {
        switch node.kind {
        case .root:
            return ""
        case .hidden(let count, let libraries):
            return "[\(count) frame\(count == 1 ? "" : "s") hidden]  " + TerminalSafe.string(libraries.joined(separator: ", "))
        case .frame(let frame):
            var text = TerminalSafe.string(frame.function)
            if frame.binary != executable && !frame.binary.hasPrefix("[") {
                text += "  " + TerminalSafe.string(frame.binary.split(separator: "/").last.map(String.init) ?? frame.binary)
            }
            if let file = frame.file {
                text += "  " + TerminalSafe.string(file) + (frame.line.map { ":\($0)" } ?? "")
            }
            return text
        }
    }

    private func line(total samples: Int, of report: ProfileReport, label: String) -> String {
        let share = report.samples > 0 ? 100 * Double(samples) / Double(report.samples) : 0
        let time = Self.seconds(UInt64(samples) * report.metadata.periodNs)
        let plain = time + " " + String(format: "%5.1f%%", share)
        guard options.colour else { return plain + "  " + label }
        // Labels were made terminal-safe already; the escapes added here are the only ones in the output.
        let heat = share >= 20 ? "\u{1B}[31m" : share >= 5 ? "\u{1B}[33m" : "\u{1B}[32m"
        let quiet = label.hasPrefix("[") && (label.hasPrefix("[self]") || label.contains("hidden]"))
        return heat + plain + "\u{1B}[0m  " + (quiet ? "\u{1B}[2m" + label + "\u{1B}[0m" : label)
    }

    /// `1.234s` with millisecond precision, the unit pyinstrument readers expect.
    /// The end reason, flagged when the session was cut short.
    static func ending(_ meta: SessionMetadata) -> String {
        meta.complete == false ? "\(meta.endReason) (incomplete)" : meta.endReason
    }

    static func seconds(_ ns: UInt64) -> String {
        String(format: "%.3fs", Double(ns) / 1e9)
    }

    /// The session header's word on kept requests beyond profd's per-session limit, or nil when none were skipped.
    static func skippedKeptLine(_ report: ProfileReport) -> String? {
        guard report.scope == .session, let skipped = report.metadata.skippedKeptRequests, skipped > 0 else { return nil }
        return "kept requests: \(report.keptRequests.count) with a report of their own, \(skipped) more qualified"
            + " but were skipped (profd --max-kept-requests-per-session); they are in the route reports"
    }

    static func requestLine(_ requests: RequestSummary) -> String {
        var text = "\(requests.count) request\(requests.count == 1 ? "" : "s")"
        if requests.unfinished > 0 { text += " (\(requests.unfinished) unfinished)" }
        if !requests.statusCounts.isEmpty {
            text += " · status " + requests.statusCounts.sorted { $0.key < $1.key }
                .map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        }
        if let wall = requests.wallNs {
            text += " · wall p50 \(milliseconds(wall.p50)) · p99 \(milliseconds(wall.p99)) · max \(milliseconds(wall.max))"
        }
        return text
    }

    /// `per request (mean): wall 210.30ms = on CPU 10.00ms + off CPU 0.30ms + suspended 200.00ms`
    static func timeLine(_ time: TimeBreakdown) -> String {
        let count = UInt64(time.requests)
        return "per request (mean): wall \(milliseconds(time.wallNs / count)) = on CPU \(milliseconds(time.cpuNs / count))"
            + " + off CPU on a thread \(milliseconds(time.offCPUNs / count)) + suspended \(milliseconds(time.suspendedNs / count))"
    }

    public static func milliseconds(_ ns: UInt64) -> String {
        String(format: "%.2fms", Double(ns) / 1e6)
    }
}
