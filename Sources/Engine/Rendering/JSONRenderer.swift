import Foundation
import ProfdProtocol

/// Renders a report as JSON following `docs/report-schema.json` (schema version 1).
///
/// The tree is the full call tree, library frames included; consumers decide what to hide.
public struct JSONRenderer: ReportRenderer {
    public static let schemaVersion = 1
    public var prettyPrinted: Bool
    public var fileExtension: String { "json" }

    public init(prettyPrinted: Bool = true) {
        self.prettyPrinted = prettyPrinted
    }

    public func render(_ report: ProfileReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = prettyPrinted ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(Document(report))
        return String(decoding: TerminalSafe.json(data), as: UTF8.self) + "\n"
    }

    /// The top-level JSON object.
    public struct Document: Codable, Sendable {
        public var schemaVersion: Int
        public var kind: String
        public var route: String?
        public var session: SessionMetadata
        public var requests: RequestSummary
        public var samples: SampleTotals
        public var functions: [FunctionTotal]
        public var routes: [RouteSummary]?
        /// Session reports: the requests that kept a report of their own. Request reports: that request.
        public var keptRequests: [KeptRequest]?
        public var request: KeptRequest?
        public var tree: Node

        init(_ report: ProfileReport) {
            schemaVersion = JSONRenderer.schemaVersion
            switch report.scope {
            case .session: kind = "session"; route = nil; routes = report.routes; keptRequests = report.keptRequests
            case .route(let name): kind = "route"; route = name; routes = nil
            case .request(let kept): kind = "request"; route = kept.route; routes = nil; request = kept
            }
            session = report.metadata
            requests = report.requests
            samples = SampleTotals(count: report.samples, cpuNs: report.cpuNs)
            functions = FunctionTotal.collect(report.tree, periodNs: report.metadata.periodNs)
            tree = Node(report.tree, index: CallTree.rootIndex, periodNs: report.metadata.periodNs)
        }
    }

    public struct SampleTotals: Codable, Sendable {
        public var count: Int
        public var cpuNs: UInt64
    }

    /// One function's samples across the whole tree: `totalSamples` counts each stack once even when
    /// the function recurses; `selfSamples` counts samples where it was the leaf.
    public struct FunctionTotal: Codable, Sendable {
        public var function: String
        public var binary: String
        public var totalSamples: Int
        public var selfSamples: Int
        public var totalNs: UInt64
        public var selfNs: UInt64

        static func collect(_ tree: CallTree, periodNs: UInt64) -> [FunctionTotal] {
            struct Key: Hashable { var function: String; var binary: String }
            var totals: [Key: (inclusive: Int, leaf: Int)] = [:]
            func visit(_ index: Int, active: Set<Key>) {
                let node = tree.nodes[index]
                var active = active
                if let frame = node.frame {
                    let key = Key(function: frame.function, binary: frame.binary)
                    var entry = totals[key] ?? (0, 0)
                    if !active.contains(key) { entry.inclusive += node.totalSamples; active.insert(key) }
                    entry.leaf += node.selfSamples
                    totals[key] = entry
                }
                for child in node.children { visit(child, active: active) }
            }
            visit(CallTree.rootIndex, active: [])
            return totals.map { key, value in
                FunctionTotal(function: key.function, binary: key.binary, totalSamples: value.inclusive, selfSamples: value.leaf,
                              totalNs: UInt64(value.inclusive) * periodNs, selfNs: UInt64(value.leaf) * periodNs)
            }.sorted {
                ($0.totalSamples, $0.selfSamples, $1.function) > ($1.totalSamples, $1.selfSamples, $0.function)
            }
        }
    }

    /// A call-tree node. The root has function `(root)` and binary `""`.
    public final class Node: Codable, Sendable {
        public let function: String
        public let binary: String
        public let file: String?
        public let line: Int?
        public let totalSamples: Int
        public let selfSamples: Int
        public let totalNs: UInt64
        public let selfNs: UInt64
        public let children: [Node]

        init(_ tree: CallTree, index: Int, periodNs: UInt64) {
            let node = tree.nodes[index]
            function = node.frame?.function ?? "(root)"
            binary = node.frame?.binary ?? ""
            file = node.frame?.file
            line = node.frame?.line
            totalSamples = node.totalSamples
            selfSamples = node.selfSamples
            totalNs = UInt64(node.totalSamples) * periodNs
            selfNs = UInt64(node.selfSamples) * periodNs
            children = tree.sortedChildren(of: index).map { Node(tree, index: $0, periodNs: periodNs) }
        }
    }
}
