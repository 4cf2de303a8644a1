import Foundation

/// The tree a person reads: the call tree with chains of library frames folded away.
///
/// Folding is a pure transform. A library frame is removed and its children are hoisted into its parent,
/// merging with siblings that have the same frame; time spent inside library code itself (its self time)
/// becomes a `[N frames hidden]` leaf naming the libraries, so no time disappears.
public struct DisplayNode: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case root
        case frame(Frame)
        /// Self time of a folded chain: how many frames were hidden, and the binaries or modules they came from.
        case hidden(frameCount: Int, libraries: [String])
    }

    public var kind: Kind
    public var totalSamples: Int
    public var selfSamples: Int
    /// Library frames folded between this node and its displayed parent.
    public var hiddenAbove: Int
    public var children: [DisplayNode]

    /// Builds the display tree. With `hideLibraryFrames` false it mirrors the call tree exactly.
    public static func build(from tree: CallTree, classifier: LibraryFrameClassifier?, minimumSamples: Int = 0) -> DisplayNode {
        let root = tree.root
        var display = DisplayNode(kind: .root, totalSamples: root.totalSamples, selfSamples: root.selfSamples,
                                  hiddenAbove: 0, children: [])
        var children: [DisplayNode] = []
        for child in root.children {
            children.append(contentsOf: fold(tree, child, hidden: [], classifier: classifier))
        }
        display.children = merge(children, minimumSamples: minimumSamples)
        return display
    }

    private static func fold(_ tree: CallTree, _ index: Int, hidden: [Frame], classifier: LibraryFrameClassifier?) -> [DisplayNode] {
        let node = tree.nodes[index]
        guard let frame = node.frame else { return [] }
        if let classifier, classifier.isLibrary(frame) {
            let chain = hidden + [frame]
            var result: [DisplayNode] = []
            for child in node.children {
                result.append(contentsOf: fold(tree, child, hidden: chain, classifier: classifier))
            }
            if node.selfSamples > 0 {
                result.append(DisplayNode(kind: .hidden(frameCount: chain.count, libraries: libraryNames(chain)),
                                          totalSamples: node.selfSamples, selfSamples: node.selfSamples,
                                          hiddenAbove: 0, children: []))
            }
            return result
        }
        var children: [DisplayNode] = []
        for child in node.children {
            children.append(contentsOf: fold(tree, child, hidden: [], classifier: classifier))
        }
        return [DisplayNode(kind: .frame(frame), totalSamples: node.totalSamples, selfSamples: node.selfSamples,
                            hiddenAbove: hidden.count, children: children)]
    }

    /// Merges siblings that show the same frame (or are both hidden-leaves), then sorts heaviest first.
    private static func merge(_ nodes: [DisplayNode], minimumSamples: Int) -> [DisplayNode] {
        var order: [MergeKey] = []
        var merged: [MergeKey: DisplayNode] = [:]
        for node in nodes {
            let key = MergeKey(node.kind)
            if var existing = merged[key] {
                existing.totalSamples += node.totalSamples
                existing.selfSamples += node.selfSamples
                existing.hiddenAbove = max(existing.hiddenAbove, node.hiddenAbove)
                existing.children += node.children
                if case .hidden(let count, let libraries) = existing.kind, case .hidden(let other, let more) = node.kind {
                    existing.kind = .hidden(frameCount: max(count, other), libraries: unique(libraries + more))
                }
                merged[key] = existing
            } else {
                order.append(key)
                merged[key] = node
            }
        }
        var result: [DisplayNode] = []
        for key in order {
            guard var node = merged[key], node.totalSamples >= minimumSamples || minimumSamples == 0 else { continue }
            node.children = merge(node.children, minimumSamples: minimumSamples)
            result.append(node)
        }
        return result.sorted { a, b in
            if a.totalSamples != b.totalSamples { return a.totalSamples > b.totalSamples }
            return a.sortName < b.sortName
        }
    }

    private var sortName: String {
        switch kind {
        case .root: ""
        case .frame(let frame): frame.function
        case .hidden: "\u{10FFFF}"
        }
    }

    private enum MergeKey: Hashable {
        case root
        case frame(Frame)
        case hidden

        init(_ kind: Kind) {
            switch kind {
            case .root: self = .root
            case .frame(let frame): self = .frame(frame)
            case .hidden: self = .hidden
            }
        }
    }

    /// Short library names for a folded chain: the module of a Swift frame, else the binary's file name.
    static func libraryNames(_ frames: [Frame]) -> [String] {
        unique(frames.map { frame in
            if frame.binary.hasPrefix("[") { return frame.binary.trimmingCharacters(in: "[]") }
            let file = frame.binary.split(separator: "/").last.map(String.init) ?? frame.binary
            return file.hasPrefix("lib") ? file.replacingSuffix(fromFirst: ".so") : moduleName(frame.function) ?? file
        })
    }

    private static func moduleName(_ function: String) -> String? {
        var name = Substring(function)
        if let range = name.range(of: " in ", options: .backwards) { name = name[range.upperBound...] }
        // A simplified witness name ends `… in conformance Swift.UInt`: the type's module.
        if name.hasPrefix("conformance ") { name = name.dropFirst("conformance ".count) }
        guard let dot = name.firstIndex(of: "."), name.first?.isLetter == true || name.first == "_" else { return nil }
        return String(name[..<dot])
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(self.drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }

    fileprivate func replacingSuffix(fromFirst marker: String) -> String {
        guard let range = range(of: marker) else { return self }
        return String(self[..<range.lowerBound])
    }
}
