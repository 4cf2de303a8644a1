import Foundation
import ProfdProtocol

extension EngineError.Code {
    /// A stored JSON report could not be turned back into a report.
    public static let reportDecodeFailed = Self("report_decode_failed")
}

extension ProfileReport {
    /// Decodes a stored JSON report (schema version 1, as `JSONRenderer` writes it) back into a report,
    /// so that any renderer can draw it: `profctl dump` exports stored sessions this way.
    public init(jsonReport bytes: [UInt8]) throws(EngineError) {
        let document: JSONRenderer.Document
        do {
            document = try JSONDecoder().decode(JSONRenderer.Document.self, from: Data(bytes))
        } catch {
            throw EngineError(.reportDecodeFailed, "not a valid JSON report: \(error)")
        }
        try self.init(document: document)
    }

    /// Rebuilds a report from its JSON document. The call tree is rebuilt from each node's self samples,
    /// so totals are recomputed, and rendering the result as JSON gives the original document back.
    public init(document: JSONRenderer.Document) throws(EngineError) {
        guard document.schemaVersion == JSONRenderer.schemaVersion else {
            throw EngineError(.reportDecodeFailed, "JSON report schema version \(document.schemaVersion) is not supported (expected \(JSONRenderer.schemaVersion))")
        }
        let scope: Scope
        switch document.kind {
        case "session":
            scope = .session
        case "route":
            guard let route = document.route else { throw EngineError(.reportDecodeFailed, "route report without a route") }
            scope = .route(route)
        case "request":
            guard let request = document.request else { throw EngineError(.reportDecodeFailed, "request report without its request") }
            scope = .request(request)
        default:
            throw EngineError(.reportDecodeFailed, "unknown report kind '\(TerminalSafe.string(document.kind))'")
        }
        self.init(scope: scope, metadata: document.session, requests: document.requests,
                  tree: try Self.tree(from: document.tree), routes: document.routes ?? [])
        if case .session = scope { keptRequests = document.keptRequests ?? [] }
    }

    /// The call tree of a JSON tree, walked iteratively so that a deep tree cannot overflow the stack.
    static func tree(from root: JSONRenderer.Node) throws(EngineError) -> CallTree {
        var tree = CallTree()
        var pending: [(node: JSONRenderer.Node, depth: Int)] = [(root, 0)]
        var path: [Frame] = []
        while let (node, depth) = pending.popLast() {
            guard node.selfSamples >= 0, node.totalSamples >= 0 else {
                throw EngineError(.reportDecodeFailed, "negative sample count in the tree")
            }
            if depth > 0 {
                path.removeSubrange((depth - 1)...)
                path.append(Frame(function: node.function, binary: node.binary, file: node.file, line: node.line))
            }
            if node.selfSamples > 0 { tree.add(rootFirst: path, count: node.selfSamples) }
            for child in node.children.reversed() { pending.append((child, depth + 1)) }
        }
        guard tree.totalSamples == root.totalSamples else {
            throw EngineError(.reportDecodeFailed, "the tree's self samples add up to \(tree.totalSamples), but its root counts \(root.totalSamples)")
        }
        return tree
    }
}
