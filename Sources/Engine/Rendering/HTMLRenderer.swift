import Foundation

/// Renders a report as one self-contained HTML file: the header facts and a collapsible call tree with
/// timing bars, library frames folded as in the text report. No scripts and no external resources, so it
/// opens offline and every untrusted string (routes, symbols, service names) is inert escaped text.
public struct HTMLRenderer: ReportRenderer {
    public var fileExtension: String { "html" }
    /// Nodes below this share of the report are left out, which keeps huge profiles small.
    public var minimumShare: Double

    public init(minimumShare: Double = 0.001) {
        self.minimumShare = minimumShare
    }

    public func render(_ report: ProfileReport) -> String {
        let meta = report.metadata
        let title: String
        switch report.scope {
        case .session: title = "session \(meta.id)"
        case .route(let route): title = "route \(route)"
        case .request(let request): title = "request \(request.spanId) · \(request.route) · status \(request.status)"
        }
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>profd · \(Self.escape(title))</title>
            <style>
            body{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:1.5em;color:#1d1d1f;background:#fff}
            h1{font-size:15px;margin:0 0 .4em}.meta{color:#555;margin:0 0 1em;white-space:pre-wrap}
            details{margin-left:1.1em}summary{cursor:pointer;list-style:none;white-space:nowrap}
            summary::-webkit-details-marker{display:none}summary::before{content:"▸ ";color:#888}
            details[open]>summary::before{content:"▾ "}.leaf{margin-left:1.1em;white-space:nowrap}.leaf::before{content:"  "}
            .t{display:inline-block;width:6.5em;text-align:right}.p{display:inline-block;width:4.5em;text-align:right;color:#555}
            .bar{display:inline-block;height:.7em;background:#e8743b;margin:0 .6em;vertical-align:middle}
            .self{color:#777}.hidden{color:#999;font-style:italic}.bin{color:#888}
            </style></head><body>
            <h1>profd · \(Self.escape(title))</h1>
            <p class="meta">\(Self.escape("service \(meta.service) · pid \(meta.pid) · session \(meta.id) · started \(meta.startedAt) · \(meta.endReason)"))
            \(Self.escape(TextRenderer.requestLine(report.requests)))
            """
        if let time = report.requests.time, time.requests > 0 {
            out += "\n" + Self.escape(TextRenderer.timeLine(time))
        }
        out += "\n" + Self.escape("\(report.samples) samples at \(meta.frequencyHz) Hz = \(TextRenderer.seconds(report.cpuNs)) on CPU · lost \(meta.lostSamples) · dropped \(meta.droppedSamples)")
        out += "</p>\n"
        guard report.samples > 0 else {
            return out + "<p>No samples.</p>\n</body></html>\n"
        }
        let classifier = LibraryFrameClassifier(executablePath: meta.executable)
        let minimum = Int((minimumShare * Double(report.samples)).rounded(.down))
        let display = DisplayNode.build(from: report.tree, classifier: classifier, minimumSamples: minimum)
        out += "<div class=\"tree\">\n"
        renderNode(display, label: "all samples", depth: 0, report: report, into: &out)
        out += "</div>\n</body></html>\n"
        return out
    }

    private func renderNode(_ node: DisplayNode, label: String, depth: Int, report: ProfileReport, into out: inout String) {
        let row = rowHTML(samples: node.totalSamples, report: report, label: label, labelClass: nil)
        var children: [(DisplayNode?, String, Int, String?)] = node.children.map { child in
            switch child.kind {
            case .root: (child, "", child.totalSamples, nil)
            case .hidden(let count, let libraries):
                (child, "[\(count) frame\(count == 1 ? "" : "s") hidden] \(libraries.joined(separator: ", "))", child.totalSamples, "hidden")
            case .frame(let frame):
                (child, frame.function + (frame.binary == report.metadata.executable || frame.binary.hasPrefix("[") ? "" : "  " + (frame.binary.split(separator: "/").last.map(String.init) ?? frame.binary)), child.totalSamples, nil)
            }
        }
        if !node.children.isEmpty && node.selfSamples > 0, case .frame = node.kind {
            children.append((nil, "[self]", node.selfSamples, "self"))
        }
        guard !children.isEmpty else {
            out += "<div class=\"leaf\">\(row)</div>\n"
            return
        }
        out += depth < 3 ? "<details open><summary>\(row)</summary>\n" : "<details><summary>\(row)</summary>\n"
        for (child, childLabel, samples, cls) in children {
            if let child, !child.children.isEmpty {
                renderNode(child, label: childLabel, depth: depth + 1, report: report, into: &out)
            } else {
                out += "<div class=\"leaf\">\(rowHTML(samples: samples, report: report, label: childLabel, labelClass: cls))</div>\n"
            }
        }
        out += "</details>\n"
    }

    private func rowHTML(samples: Int, report: ProfileReport, label: String, labelClass: String?) -> String {
        let share = report.samples > 0 ? Double(samples) / Double(report.samples) : 0
        let time = TextRenderer.seconds(UInt64(samples) * report.metadata.periodNs)
        let width = max(1, Int((share * 200).rounded()))
        let labelHTML = labelClass.map { "<span class=\"\($0)\">\(Self.escape(label))</span>" } ?? Self.escape(label)
        return "<span class=\"t\">\(time)</span><span class=\"p\">\(String(format: "%.1f%%", share * 100))</span>"
            + "<span class=\"bar\" style=\"width:\(width)px\"></span>\(labelHTML)"
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
