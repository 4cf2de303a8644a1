/// Renders a report as folded stacks, the input of Brendan Gregg's `flamegraph.pl` (and of speedscope,
/// inferno and most flame-graph tools): one line per distinct stack, outermost frame first, frames joined
/// by `;`, then a space and the stack's sample count.
///
/// Session reports start each stack with its route, so the flame graph splits by route first. Frame
/// names are the function names, made safe for the format: `;` becomes `:` and control characters
/// (newlines included) become visible `\u{…}` escapes. Stacks whose names become equal are merged.
public struct FoldedRenderer: ReportRenderer {
    public var fileExtension: String { "folded" }

    public init() {}

    public func render(_ report: ProfileReport) -> String {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for stack in ExportStacks.collect(report.tree) {
            // Samples with no frames at all stay countable, under the name JSON gives the root.
            let names = stack.frames.isEmpty ? ["(root)"] : stack.frames.map { ExportText.foldedFrame($0.function) }
            let line = names.joined(separator: ";")
            if counts[line] == nil { order.append(line) }
            counts[line, default: 0] += stack.samples
        }
        var out = ""
        for line in order {
            out += line + " " + String(counts[line]!) + "\n"
        }
        return out
    }
}
