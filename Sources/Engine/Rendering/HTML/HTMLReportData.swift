/// The data the interactive HTML report embeds: compact JSON inside `<script type="application/json">`.
///
/// Trees are flat integer arrays in pre-order, `HTMLReportData.stride` numbers per node:
/// `kind, function, binary, location, totalSamples, selfSamples, subtreeSize`, where the three names are
/// indexes into one string table and `subtreeSize` counts the node and all its descendants, so the
/// children of node `i` are `i+1`, then each next sibling `j + size[j]` until `i + size[i]`.
/// Kinds: 0 an application frame, 1 a library frame, 2 a `[N frames hidden]` fold (binary = the libraries),
/// 3 the root. Two trees are embedded: `folded` (library frames folded as in the text report) and `full`.
///
/// Every string goes through `HTMLReportData.jsonString`, which escapes `<`, `>`, `&`, U+2028 and U+2029,
/// so no untrusted name can close the script element or be read as markup.
struct HTMLReportData {
    static let stride = 7
    enum Kind: Int {
        case app = 0, library = 1, hidden = 2, root = 3
    }

    private var strings: [String] = []
    private var stringIndex: [String: Int] = [:]

    /// The JSON text of the report's data.
    static func json(for report: ProfileReport, rootLabel: String) -> String {
        var data = HTMLReportData()
        return data.encode(report, rootLabel: rootLabel)
    }

    private mutating func intern(_ string: String) -> Int {
        if let index = stringIndex[string] { return index }
        let index = strings.count
        strings.append(string)
        stringIndex[string] = index
        return index
    }

    private mutating func encode(_ report: ProfileReport, rootLabel: String) -> String {
        _ = intern("")
        let meta = report.metadata
        let classifier = LibraryFrameClassifier(executablePath: meta.executable)
        var folded: [Int] = []
        var full: [Int] = []
        if report.samples > 0 {
            let foldedTree = DisplayNode.build(from: report.tree, classifier: classifier)
            let fullTree = DisplayNode.build(from: report.tree, classifier: nil)
            folded.reserveCapacity(report.tree.nodes.count * Self.stride)
            full.reserveCapacity(report.tree.nodes.count * Self.stride)
            append(foldedTree, rootLabel: rootLabel, executable: meta.executable, classifier: classifier, into: &folded)
            append(fullTree, rootLabel: rootLabel, executable: meta.executable, classifier: classifier, into: &full)
        }
        let timeline = timelineJSON(report)

        var out = "{\"v\":1"
        out += ",\"scope\":" + Self.jsonString(Self.scopeName(report.scope))
        out += ",\"periodNs\":\(meta.periodNs)"
        out += ",\"samples\":\(report.samples)"
        out += ",\"stride\":\(Self.stride)"
        out += ",\"timeline\":" + timeline
        out += ",\n\"strings\":["
        for (index, string) in strings.enumerated() {
            if index > 0 { out += index % 16 == 0 ? ",\n" : "," }
            out += Self.jsonString(string)
        }
        out += "],\n\"folded\":"
        Self.appendInts(folded, into: &out)
        out += ",\n\"full\":"
        Self.appendInts(full, into: &out)
        out += "}"
        return out
    }

    private static func scopeName(_ scope: ProfileReport.Scope) -> String {
        switch scope {
        case .session: "session"
        case .route: "route"
        case .request: "request"
        }
    }

    /// Pre-order; returns the subtree size of `node`.
    @discardableResult
    private mutating func append(_ node: DisplayNode, rootLabel: String, executable: String?,
                                 classifier: LibraryFrameClassifier, into out: inout [Int]) -> Int {
        let start = out.count
        let kind: Kind
        let function: Int, binary: Int, location: Int
        switch node.kind {
        case .root:
            kind = .root
            function = intern(rootLabel); binary = 0; location = 0
        case .hidden(let count, let libraries):
            kind = .hidden
            function = intern("[\(count) frame\(count == 1 ? "" : "s") hidden]")
            binary = intern(libraries.joined(separator: ", "))
            location = 0
        case .frame(let frame):
            kind = classifier.isLibrary(frame) ? .library : .app
            function = intern(frame.function)
            if frame.binary != executable && !frame.binary.hasPrefix("[") {
                binary = intern(frame.binary.split(separator: "/").last.map(String.init) ?? frame.binary)
            } else {
                binary = 0
            }
            location = frame.file.map { intern($0 + (frame.line.map { ":\($0)" } ?? "")) } ?? 0
        }
        out.append(contentsOf: [kind.rawValue, function, binary, location, node.totalSamples, node.selfSamples, 1])
        var size = 1
        for child in node.children {
            size += append(child, rootLabel: rootLabel, executable: executable, classifier: classifier, into: &out)
        }
        out[start + Self.stride - 1] = size
        return size
    }

    /// Requests for the timeline: `{route, beginNs, wallNs, status, startedAt, href?}`, begin times relative
    /// to the earliest (`t0Ns`, a string: monotonic nanoseconds can exceed a double's exact range).
    private func timelineJSON(_ report: ProfileReport) -> String {
        let requests: [KeptRequest]
        switch report.scope {
        case .session: requests = report.keptRequests
        case .request(let request): requests = [request]
        case .route: requests = []
        }
        let t0 = requests.map(\.beginNs).min() ?? 0
        var out = "{\"t0Ns\":" + Self.jsonString(String(t0)) + ",\"requests\":["
        for (index, request) in requests.enumerated() {
            if index > 0 { out += ",\n" }
            out += "{\"route\":" + Self.jsonString(request.route)
            out += ",\"beginNs\":\(request.beginNs - t0),\"wallNs\":\(request.wallNs),\"status\":\(request.status)"
            out += ",\"id\":" + Self.jsonString(String(request.spanId))
            out += ",\"startedAt\":" + Self.jsonString(request.startedAt)
            if case .session = report.scope, let path = request.files["html"], let href = Self.href(path) {
                out += ",\"href\":" + Self.jsonString(href)
            }
            out += "}"
        }
        return out + "]}"
    }

    /// The link to a report file given relative to the session directory (`requests/x.html`), or nil when
    /// it is not a plain relative path (absolute, `..`, empty, hidden). Every byte outside `A-Z a-z 0-9 . _ - /`
    /// is percent-encoded, so a route file named `GET%20%2Fcompute.html` stays that name and no link can carry
    /// a scheme (`javascript:` becomes `javascript%3A`).
    static func href(_ path: String) -> String? {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasPrefix("."),
              !path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty })
        else { return nil }
        var out = ""
        for byte in path.utf8 {
            if byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x2F || (0x30...0x39).contains(byte)
                || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    private static func appendInts(_ values: [Int], into out: inout String) {
        out += "["
        for (index, value) in values.enumerated() {
            if index > 0 { out += index % (stride * 16) == 0 ? ",\n" : "," }
            out += String(value)
        }
        out += "]"
    }

    /// A JSON string literal that is also safe inside an HTML `<script>` element: `<`, `>`, `&`, U+2028,
    /// U+2029 and every control character are `\u` escapes.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                out += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value) {
                    out += unicodeEscape(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
