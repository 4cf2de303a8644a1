import Foundation
import ProfdEngine

/// A route report as profd wrote it (`routes/*.json`), decoded with the engine's own model of the schema.
public typealias RouteReport = JSONRenderer.Document

extension JSONRenderer.Document {
    /// Every route report of a session directory, by route; throws on a duplicate or a report without a route.
    public static func routeReports(in sessionDirectory: String) throws -> [String: JSONRenderer.Document] {
        let folder = sessionDirectory + "/routes"
        var reports: [String: JSONRenderer.Document] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".json") {
            let document = try JSONDecoder().decode(Self.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            guard document.kind == "route", let route = document.route else { throw TestFailure("\(name) is not a route report") }
            guard reports[route] == nil else { throw TestFailure("two reports for \(route)") }
            reports[route] = document
        }
        return reports
    }

    /// Samples of the stacks through the heaviest function whose name contains `name`.
    public func samples(inFunctionContaining name: String) -> Int {
        functions.filter { $0.function.contains(name) }.map(\.totalSamples).max() ?? 0
    }

    /// Function names, heaviest first.
    public var functionNames: [String] { functions.map(\.function) }
}
