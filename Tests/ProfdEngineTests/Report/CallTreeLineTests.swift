import Foundation
import ProfdEngine
import Testing

@Suite("Call tree: one node per function, whatever line it was sampled at")
struct CallTreeLineTests {
    @Test("two lines of one function are one node, with the first sample's line")
    func linesMerge() {
        var tree = CallTree()
        let main = Frame(function: "App.main()", binary: "/app", file: "/src/main.swift", line: 3)
        tree.add(rootFirst: [main, Frame(function: "App.work()", binary: "/app", file: "/src/work.swift", line: 6)], count: 5)
        tree.add(rootFirst: [main, Frame(function: "App.work()", binary: "/app", file: "/src/work.swift", line: 7)], count: 2)
        let children = tree.root.children.flatMap { tree.nodes[$0].children }
        #expect(children.count == 1)
        #expect(tree.nodes[children[0]].totalSamples == 7)
        #expect(tree.nodes[children[0]].frame?.line == 6)
    }

    @Test("the same function name in two binaries or two files stays apart")
    func distinctBinariesAndFiles() {
        var tree = CallTree()
        tree.add(rootFirst: [Frame(function: "f", binary: "/a")])
        tree.add(rootFirst: [Frame(function: "f", binary: "/b")])
        tree.add(rootFirst: [Frame(function: "f", binary: "/a", file: "/x.swift", line: 1)])
        #expect(tree.root.children.count == 3)
    }
}

@Suite("Text colours")
struct TextColourTests {
    @Test("colour marks the time column by share and dims hidden frames; off by default")
    func colours() {
        let fixture = ReportFixtures.reports()
        let plain = TextRenderer().render(fixture.routes[0])
        #expect(!plain.contains("\u{1B}"))
        let coloured = TextRenderer(options: .init(colour: true)).render(fixture.routes[0])
        #expect(coloured.contains("\u{1B}[31m"))
        #expect(coloured.contains("\u{1B}[2m["))
        // Removing the escapes gives back the plain report exactly.
        let stripped = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        #expect(stripped == plain)
    }
}
