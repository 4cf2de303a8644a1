import Foundation

/// Renders a `ProfileDiff` as one self-contained HTML file: the two sides, the summary, and a table of
/// functions by impact with a bar per row, red to the right for slower and green to the left for faster.
///
/// No script and no external resource: a Content-Security-Policy allows inline style only. Every untrusted
/// string (function names, binaries, routes, session ids, services) is HTML-escaped.
public struct DiffHTMLRenderer: Sendable {
    /// Rows to show; nil shows every function.
    public var limit: Int?

    public init(limit: Int? = 25) {
        self.limit = limit
    }

    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'"

    static let css = """
        :root{--fg:#1d1d1f;--muted:#6e6e73;--line:#e3e3e8;--slower:#d93025;--faster:#188038}
        body{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;margin:0;padding:1em 1.5em 3em;color:var(--fg);background:#fff}
        h1{font-size:1.25em;margin:.2em 0 .6em}.muted{color:var(--muted)}
        .meta{margin:0 0 1em;white-space:pre-wrap}
        .slower{color:var(--slower)}.faster{color:var(--faster)}
        table{border-collapse:collapse;width:100%}
        th,td{padding:.15em .6em;text-align:left;white-space:nowrap;border-bottom:1px solid var(--line)}
        th{color:var(--muted);font-weight:normal}
        td.num,th.num{text-align:right}
        td.fn{white-space:normal;word-break:break-all;width:100%}
        .bar{display:flex;width:16em;height:.9em}
        .bar span{flex:1;display:flex;position:relative;background:#f4f4f6}
        .bar span:first-child{justify-content:flex-end;border-right:1px solid var(--muted)}
        .bar i{display:block;height:100%}
        .bar .faster-bar{background:var(--faster)}.bar .slower-bar{background:var(--slower)}.bar .noise-bar{background:#c7c7cc}
        .noise{color:var(--muted)}
        """

    public func render(_ diff: ProfileDiff) -> String {
        let measure = diff.ranking == .selfTime ? "self" : "total"
        let basis = DiffTextRenderer.basisPhrase(diff.basis)
        let title = "profd diff · \(measure) time \(basis)"
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="\(Self.contentSecurityPolicy)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTMLRenderer.escape(title))</title>
            <style>
            \(Self.css)
            </style></head><body>
            <h1>\(HTMLRenderer.escape(title))</h1>

            """
        var meta = ["A  " + DiffTextRenderer.sideLine(diff.a), "B  " + DiffTextRenderer.sideLine(diff.b)]
        let cpuDelta = diff.b.basisCPUNs - diff.a.basisCPUNs
        let cpuChange = DiffTextRenderer.signedTime(cpuDelta, diff.basis)
            + (DiffTextRenderer.relative(cpuDelta, of: diff.a.basisCPUNs).map { ", " + $0 } ?? "")
        meta.append("on CPU \(basis): A \(DiffTextRenderer.time(diff.a.basisCPUNs, diff.basis)) → B \(DiffTextRenderer.time(diff.b.basisCPUNs, diff.basis)) (\(cpuChange))")
        if let note = diff.basisNote { meta.append("note: " + note) }
        out += "<pre class=\"meta\">" + HTMLRenderer.escape(meta.joined(separator: "\n")) + "</pre>\n"
        out += "<p>top improvement: " + highlight(diff.topImprovement, diff) + "<br>\n"
        out += "top regression: " + highlight(diff.topRegression, diff) + "</p>\n"

        guard !diff.functions.isEmpty else {
            return out + "<p>No samples on either side.</p>\n</body></html>\n"
        }
        let shown = limit.map { $0 > 0 ? min($0, diff.functions.count) : diff.functions.count } ?? diff.functions.count
        let rows = diff.functions.prefix(shown)
        let largest = max(1, rows.map { $0.delta(diff.ranking).magnitude }.max() ?? 1)
        out += "<table>\n<tr><th class=\"num\">A</th><th class=\"num\">B</th><th class=\"num\">Δ time</th>"
        out += "<th class=\"num\">Δ%</th><th class=\"num\">Δ share</th><th>faster · slower</th><th>function</th></tr>\n"
        let byTotal = diff.ranking == .totalTime
        for row in rows {
            let delta = row.delta(diff.ranking)
            let a = row.a.map { DiffTextRenderer.time(byTotal ? $0.totalNs : $0.selfNs, diff.basis) } ?? "-"
            let b = row.b.map { DiffTextRenderer.time(byTotal ? $0.totalNs : $0.selfNs, diff.basis) } ?? "-"
            let relative: String
            switch row.status {
            case .new: relative = "new"
            case .gone: relative = "gone"
            case .both: relative = DiffTextRenderer.relative(delta, of: byTotal ? row.a?.totalNs ?? 0 : row.a?.selfNs ?? 0) ?? "-"
            }
            let share = DiffTextRenderer.points(byTotal ? row.deltaTotalShare : row.deltaSelfShare)
            let noise = row.withinNoise && delta != 0
            let tone = noise ? " noise" : delta > 0 ? " slower" : delta < 0 ? " faster" : ""
            let barClass = noise ? "noise-bar" : delta < 0 ? "faster-bar" : "slower-bar"
            // Width in percent of the half bar, with one decimal: deterministic output for golden tests.
            let width = String(format: "%.1f%%", 100 * Double(delta.magnitude) / Double(largest))
            let bar = delta < 0
                ? "<span><i class=\"\(barClass)\" style=\"width:\(width)\"></i></span><span></span>"
                : delta > 0 ? "<span></span><span><i class=\"\(barClass)\" style=\"width:\(width)\"></i></span>"
                : "<span></span><span></span>"
            out += "<tr><td class=\"num\">\(a)</td><td class=\"num\">\(b)</td>"
            out += "<td class=\"num\(tone)\">\(noise ? "≈" : "")\(DiffTextRenderer.signedTime(delta, diff.basis))</td>"
            out += "<td class=\"num\(tone)\">\(HTMLRenderer.escape(relative))</td><td class=\"num\">\(share)</td>"
            out += "<td><div class=\"bar\">\(bar)</div></td><td class=\"fn\">\(functionCell(row))</td></tr>\n"
        }
        out += "</table>\n"
        if rows.contains(where: { $0.withinNoise && $0.delta(diff.ranking) != 0 }) {
            out += "<p class=\"muted\">\(HTMLRenderer.escape(DiffTextRenderer.noiseNote))</p>\n"
        }
        if shown < diff.functions.count {
            let more = diff.functions.count - shown
            out += "<p class=\"muted\">… \(more) more function\(more == 1 ? "" : "s") (--limit 0 shows all)</p>\n"
        }
        return out + "</body></html>\n"
    }

    private func functionCell(_ row: ProfileDiff.Row) -> String {
        var text = HTMLRenderer.escape(row.function)
        if !row.inExecutable && !row.binary.hasPrefix("[") {
            let file = row.binary.split(separator: "/").last.map(String.init) ?? row.binary
            text += " <span class=\"muted\">" + HTMLRenderer.escape(file) + "</span>"
        }
        return text
    }

    private func highlight(_ highlight: ProfileDiff.Highlight?, _ diff: ProfileDiff) -> String {
        guard let highlight else { return "none beyond sampling noise" }
        let tone = highlight.deltaNs > 0 ? "slower" : "faster"
        return "<b>" + HTMLRenderer.escape(highlight.function) + "</b> <span class=\"\(tone)\">"
            + DiffTextRenderer.signedTime(highlight.deltaNs, diff.basis) + "</span>"
    }
}
