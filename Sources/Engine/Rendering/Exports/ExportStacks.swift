import ProfdProtocol

/// The distinct stacks of a call tree with their sample counts: what the folded, speedscope and pprof
/// exports are written from.
///
/// A stack is a root-to-node path through the tree and its count is that node's self samples, so the
/// counts sum to the tree's total. Nodes are visited depth first with children heaviest first and ties
/// broken by every field of the frame, so the order (and every export) is the same on every run.
struct ExportStack: Sendable, Equatable {
    /// Outermost caller first, leaf last.
    var frames: [Frame]
    var samples: Int
}

enum ExportStacks {
    /// Every stack of `tree` below `start` that has self samples; `start`'s own frame and its ancestors
    /// are not included. Iterative, so a deep tree cannot overflow the stack.
    static func collect(_ tree: CallTree, from start: Int = CallTree.rootIndex) -> [ExportStack] {
        var result: [ExportStack] = []
        // (node, depth below start); `path` holds the frames of the current node's ancestors.
        var pending: [(index: Int, depth: Int)] = [(start, 0)]
        var path: [Frame] = []
        while let (index, depth) = pending.popLast() {
            let node = tree.nodes[index]
            if depth > 0 {
                path.removeSubrange((depth - 1)...)
                path.append(node.frame ?? Frame(function: "(root)", binary: ""))
            }
            if node.selfSamples > 0 {
                result.append(ExportStack(frames: path, samples: node.selfSamples))
            }
            for child in orderedChildren(tree, of: index).reversed() {
                pending.append((child, depth + 1))
            }
        }
        return result
    }

    /// Children heaviest first; equal weights ordered by function, binary, file and line.
    static func orderedChildren(_ tree: CallTree, of index: Int) -> [Int] {
        tree.nodes[index].children.sorted { a, b in
            let na = tree.nodes[a], nb = tree.nodes[b]
            if na.totalSamples != nb.totalSamples { return na.totalSamples > nb.totalSamples }
            let fa = na.frame, fb = nb.frame
            if fa?.function != fb?.function { return (fa?.function ?? "") < (fb?.function ?? "") }
            if fa?.binary != fb?.binary { return (fa?.binary ?? "") < (fb?.binary ?? "") }
            if fa?.file != fb?.file { return (fa?.file ?? "") < (fb?.file ?? "") }
            return (fa?.line ?? 0) < (fb?.line ?? 0)
        }
    }

    /// The session tree's first level: one child per route (frames with `ReportBuilder.routeBinary`).
    /// Nil unless every first-level node is a route frame and the root has no samples of its own.
    static func routeChildren(_ tree: CallTree) -> [(route: String, index: Int)]? {
        let root = tree.root
        guard root.selfSamples == 0, !root.children.isEmpty else { return nil }
        var routes: [(String, Int)] = []
        for child in orderedChildren(tree, of: CallTree.rootIndex) {
            guard let frame = tree.nodes[child].frame, frame.binary == ReportBuilder.routeBinary else { return nil }
            routes.append((frame.function, child))
        }
        return routes
    }
}

/// Strings for export formats whose syntax the names must not break.
enum ExportText {
    /// A frame name for folded stacks: no raw control characters (made visible as `\u{…}`, which also
    /// covers newlines), and `;`, the frame separator, replaced by `:`.
    static func foldedFrame(_ name: String) -> String {
        let safe = TerminalSafe.string(name)
        return safe.contains(";") ? String(safe.map { $0 == ";" ? ":" : $0 }) : safe
    }
}
