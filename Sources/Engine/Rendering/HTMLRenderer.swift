import Foundation

/// Renders a report as one interactive, self-contained HTML file that works offline: the header facts,
/// a timeline of the session's kept requests, a search box, a flame graph (icicle, on a canvas) and a
/// lazily rendered call tree with timing bars, `[self]` rows and library frames folded as in the text
/// report (a toggle shows them).
///
/// The tree is embedded as compact JSON (`HTMLReportData`) in a `<script type="application/json">`
/// element, and the script builds DOM only for the rows in view, so a 50 000-node profile opens at once.
/// Untrusted strings (routes, symbols, service names) are escaped wherever they appear: HTML-escaped in
/// markup, `\u003c`-escaped in the embedded JSON, and only ever assigned to `textContent` by the script.
/// A Content-Security-Policy allows inline script and style and nothing else (no network at all).
public struct HTMLRenderer: ReportRenderer {
    public var fileExtension: String { "html" }
    /// Kept for source compatibility; the interactive report embeds every node (0 share is the default).
    public var minimumShare: Double
    /// Rows of the static "functions by self time" table.
    public var functionTableRows: Int

    public init(minimumShare: Double = 0, functionTableRows: Int = 15) {
        self.minimumShare = minimumShare
        self.functionTableRows = functionTableRows
    }

    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

    public func render(_ report: ProfileReport) -> String {
        let meta = report.metadata
        let title: String
        let rootLabel: String
        switch report.scope {
        case .session:
            title = "session \(meta.id)"
            rootLabel = "all threads"
        case .route(let route):
            title = "route \(route)"
            rootLabel = route
        case .request(let request):
            title = "request \(request.spanId) · \(request.route) · status \(request.status)"
            rootLabel = request.route
        }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="\(Self.contentSecurityPolicy)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>profd · \(Self.escape(title))</title>
            <style>
            \(HTMLAssets.css)
            </style></head><body>
            <header>
            <h1>profd · \(Self.escape(title))</h1>

            """
        if case .session = report.scope {} else {
            out += "<p class=\"nav\"><a href=\"../session.html\">← session report</a></p>\n"
        }
        out += "<pre class=\"meta\">" + Self.escape(headerLines(report).joined(separator: "\n")) + "</pre>\n</header>\n"

        out += timelineSection(report)
        if case .session = report.scope, !report.routes.isEmpty {
            out += routesSection(report)
        }
        if report.samples > 0 {
            out += """
                <section id="profile">
                <div class="toolbar">
                <input id="search" type="search" placeholder="search functions (Enter: next match)" autocomplete="off" spellcheck="false">
                <span id="search-info" class="muted"></span>
                <label><input id="show-lib" type="checkbox"> show library frames</label>
                <button id="expand-hot" type="button">expand hot path</button>
                <button id="collapse-all" type="button">collapse all</button>
                </div>
                <h2>Flame graph <span class="muted">click a frame to zoom, click the top row to reset</span></h2>
                <div id="flame-crumbs" class="muted"></div>
                <div id="flame-wrap"><canvas id="flame" height="0"></canvas></div>
                <h2>Call tree <span class="muted">click a row to expand or collapse</span></h2>
                <div class="tree-head"><span class="t">total</span><span class="p">share</span><span class="t">self</span><span class="bar-h"></span><span>function</span></div>
                <div id="tree" tabindex="0"><div id="tree-spacer"></div></div>
                </section>

                """
            out += functionsSection(report)
        } else {
            out += "<p id=\"no-samples\">No samples. The process was idle or exited before it was sampled.</p>\n"
        }
        out += "<div id=\"tip\" hidden></div>\n"
        out += "<script type=\"application/json\" id=\"profd-data\">"
        out += HTMLReportData.json(for: report, rootLabel: rootLabel)
        out += "</script>\n<script>\n" + HTMLAssets.script + "\n</script>\n</body></html>\n"
        return out
    }

    private func headerLines(_ report: ProfileReport) -> [String] {
        let meta = report.metadata
        var lines = ["service \(meta.service) · pid \(meta.pid)" + (meta.unit.map { " · unit \($0)" } ?? "") + " · session \(meta.id)",
                     "started \(meta.startedAt) · \(TextRenderer.seconds(meta.durationNs)) · \(TextRenderer.ending(meta))"]
        if case .request(let request) = report.scope, !request.startedAt.isEmpty {
            lines.append("request began \(request.startedAt) · wall \(TextRenderer.milliseconds(request.wallNs))")
        }
        lines.append(TextRenderer.requestLine(report.requests))
        if let time = report.requests.time, time.requests > 0 {
            lines.append(TextRenderer.timeLine(time))
        }
        if let excluded = meta.excludedRequests, excluded > 0, report.scope == .session {
            lines.append("excluded routes: \(excluded) requests, \(meta.excludedSamples ?? 0) samples left out")
        }
        if let line = TextRenderer.skippedKeptLine(report) { lines.append(line) }
        lines.append("\(report.samples) samples at \(meta.frequencyHz) Hz = \(TextRenderer.seconds(report.cpuNs)) on CPU"
                     + " · lost \(meta.lostSamples) · dropped samples \(meta.droppedSamples) · dropped spans \(meta.droppedSpans)"
                     + (meta.suppressedSpans ?? 0 > 0 ? " · suppressed spans \(meta.suppressedSpans ?? 0)" : ""))
        return lines
    }

    private func timelineSection(_ report: ProfileReport) -> String {
        let note: String
        switch report.scope {
        case .session:
            note = report.keptRequests.isEmpty
                ? "No kept requests in this session: set slowRequestThreshold to keep a report per request."
                : "\(report.keptRequests.count) kept request\(report.keptRequests.count == 1 ? "" : "s"): click one to open its report."
        case .route:
            note = "Requests that kept a report of their own are listed in the session report."
        case .request:
            note = "This request."
        }
        return """
            <section id="timeline-panel">
            <h2>Requests</h2>
            <p id="timeline-note" class="muted">\(Self.escape(note))</p>
            <div id="timeline-wrap"><canvas id="timeline" height="0"></canvas></div>
            </section>

            """
    }

    private func routesSection(_ report: ProfileReport) -> String {
        var out = "<section id=\"routes\">\n<h2>Routes</h2>\n<table class=\"grid\">\n"
        out += "<tr><th>route</th><th class=\"num\">requests</th><th class=\"num\">samples</th><th class=\"num\">on CPU</th><th>reports</th></tr>\n"
        for route in report.routes {
            out += "<tr><td>\(Self.escape(route.route))</td><td class=\"num\">\(route.requests)</td>"
            out += "<td class=\"num\">\(route.samples)</td><td class=\"num\">\(TextRenderer.seconds(route.cpuNs))</td><td>"
            out += route.files.sorted { $0.key < $1.key }.compactMap { format, path in
                HTMLReportData.href(path).map { "<a href=\"\(Self.escape($0))\">\(Self.escape(format))</a>" }
            }.joined(separator: " ")
            out += "</td></tr>\n"
        }
        return out + "</table>\n</section>\n"
    }

    /// The hottest functions by self time, as static markup (readable without the script).
    private func functionsSection(_ report: ProfileReport) -> String {
        let period = report.metadata.periodNs
        let functions = JSONRenderer.FunctionTotal.collect(report.tree, periodNs: period)
            .filter { $0.selfSamples > 0 }
            .sorted { ($0.selfSamples, $1.function) > ($1.selfSamples, $0.function) }
            .prefix(functionTableRows)
        var out = "<section id=\"functions\">\n<h2>Functions by self time <span class=\"muted\">click one to search for it</span></h2>\n"
        out += "<table class=\"grid\" id=\"function-table\">\n"
        out += "<tr><th class=\"num\">self</th><th class=\"num\">share</th><th class=\"num\">total</th><th>function</th><th>binary</th></tr>\n"
        for function in functions {
            let share = String(format: "%.1f%%", 100 * Double(function.selfSamples) / Double(max(1, report.samples)))
            let binary = function.binary.split(separator: "/").last.map(String.init) ?? function.binary
            out += "<tr><td class=\"num\">\(TextRenderer.seconds(function.selfNs))</td><td class=\"num\">\(share)</td>"
            out += "<td class=\"num\">\(TextRenderer.seconds(function.totalNs))</td>"
            out += "<td class=\"fn\">\(Self.escape(function.function))</td><td class=\"muted\">\(Self.escape(binary))</td></tr>\n"
        }
        return out + "</table>\n</section>\n"
    }

    /// Escapes text for HTML element content and quoted attribute values; control characters are shown
    /// as `\u{…}` so that nothing invisible reaches the reader.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n": out += "\n"
            default:
                if scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
