import Foundation
import ProfdProtocol

/// Renders a `ProfileDiff` as JSON (the structure `docs/diff.md` documents): keys sorted, so the output of
/// the same two reports is byte for byte the same.
public struct DiffJSONRenderer: Sendable {
    public var prettyPrinted: Bool
    /// Rows to include; nil includes every function (`omittedFunctions` counts the rest).
    public var limit: Int?

    public init(prettyPrinted: Bool = true, limit: Int? = nil) {
        self.prettyPrinted = prettyPrinted
        self.limit = limit
    }

    public func render(_ diff: ProfileDiff) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = prettyPrinted ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(limit.map { diff.limited(to: $0) } ?? diff)
        return String(decoding: TerminalSafe.json(data), as: UTF8.self) + "\n"
    }
}
