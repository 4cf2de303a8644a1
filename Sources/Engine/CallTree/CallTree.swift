/// A call tree with total and self sample counts per node, built root-first from symbolized stacks.
///
/// Nodes live in one flat array and refer to their parent and children by index, so building a tree
/// from millions of samples is a walk over unique stacks with counts, not one allocation per frame.
public struct CallTree: Sendable {
    public struct Node: Sendable {
        /// Nil only for the root.
        public var frame: Frame?
        public var parent: Int?
        public var children: [Int] = []
        public var totalSamples: Int = 0
        public var selfSamples: Int = 0
    }

    public private(set) var nodes: [Node]
    private var childIndex: [ChildKey: Int] = [:]

    /// Children are told apart by function, binary and file, not by line: the lines of one function are
    /// where it was when sampled (a call site, a loop), and splitting the function per line would scatter
    /// its time over siblings. A node shows the line of the first sample that created it.
    private struct ChildKey: Hashable {
        var parent: Int
        var function: String
        var binary: String
        var file: String?
    }

    public static let rootIndex = 0

    public init() {
        nodes = [Node(frame: nil, parent: nil)]
    }

    public var root: Node { nodes[Self.rootIndex] }
    public var totalSamples: Int { root.totalSamples }

    /// Adds `count` samples of one stack, given root first (outermost caller first, leaf last).
    public mutating func add(rootFirst frames: [Frame], count: Int = 1) {
        var current = Self.rootIndex
        nodes[current].totalSamples += count
        for frame in frames {
            let key = ChildKey(parent: current, function: frame.function, binary: frame.binary, file: frame.file)
            let next: Int
            if let existing = childIndex[key] {
                next = existing
            } else {
                next = nodes.count
                nodes.append(Node(frame: frame, parent: current))
                nodes[current].children.append(next)
                childIndex[key] = next
            }
            nodes[next].totalSamples += count
            current = next
        }
        nodes[current].selfSamples += count
    }

    /// Children of `index`, heaviest first; ties broken by name so output is deterministic.
    public func sortedChildren(of index: Int) -> [Int] {
        nodes[index].children.sorted { a, b in
            let na = nodes[a], nb = nodes[b]
            if na.totalSamples != nb.totalSamples { return na.totalSamples > nb.totalSamples }
            return (na.frame?.function ?? "") < (nb.frame?.function ?? "")
        }
    }

    /// Total samples of every node whose function is `function`, counted once per stack
    /// (recursion does not double count).
    public func inclusiveSamples(ofFunction function: String) -> Int {
        var total = 0
        func visit(_ index: Int, insideMatch: Bool) {
            let node = nodes[index]
            let matches = node.frame?.function == function
            if matches && !insideMatch { total += node.totalSamples }
            for child in node.children { visit(child, insideMatch: insideMatch || matches) }
        }
        visit(Self.rootIndex, insideMatch: false)
        return total
    }
}
