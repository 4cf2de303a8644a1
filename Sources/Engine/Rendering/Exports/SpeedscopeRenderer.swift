import Foundation
import ProfdProtocol

/// Renders a report as a speedscope file (https://www.speedscope.app/file-format-schema.json).
///
/// Each profile is a `sampled` profile in nanoseconds: one sample per distinct stack (frame indices into
/// `shared.frames`, outermost first) weighing its samples times the session's sampling period. A session
/// report has one profile per route, heaviest first, each starting below its route; route and request
/// reports have one profile. Frames carry the source file when debug info resolved it, else the binary.
/// The output is compact JSON with sorted keys, so it is byte-for-byte reproducible; JSON escaping keeps
/// every control character in untrusted names out of the raw text.
public struct SpeedscopeRenderer: ReportRenderer {
    public static let schemaURL = "https://www.speedscope.app/file-format-schema.json"
    public var fileExtension: String { "speedscope.json" }

    public init() {}

    public func render(_ report: ProfileReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(file(report))
        return String(decoding: TerminalSafe.json(data), as: UTF8.self) + "\n"
    }

    /// The speedscope document of `report`.
    public func file(_ report: ProfileReport) -> File {
        let meta = report.metadata
        var frames: [SpeedscopeFrame] = []
        var frameIndex: [Frame: Int] = [:]
        func index(of frame: Frame) -> Int {
            if let known = frameIndex[frame] { return known }
            let next = frames.count
            frameIndex[frame] = next
            let file = frame.file ?? (frame.binary.isEmpty ? nil : frame.binary)
            frames.append(SpeedscopeFrame(name: frame.function, file: file, line: frame.file == nil ? nil : frame.line))
            return next
        }
        func profile(named name: String, from start: Int) -> SampledProfile {
            var samples: [[Int]] = []
            var weights: [UInt64] = []
            for stack in ExportStacks.collect(report.tree, from: start) {
                let frames = stack.frames.isEmpty ? [Frame(function: "(root)", binary: "")] : stack.frames
                samples.append(frames.map(index(of:)))
                weights.append(UInt64(stack.samples) * meta.periodNs)
            }
            let total = weights.reduce(0, +)
            return SampledProfile(type: "sampled", name: name, unit: "nanoseconds", startValue: 0, endValue: total,
                                  samples: samples, weights: weights)
        }

        let title: String
        var profiles: [SampledProfile] = []
        switch report.scope {
        case .session:
            title = "\(meta.service) · session \(meta.id)"
            if let routes = ExportStacks.routeChildren(report.tree) {
                profiles = routes.map { profile(named: $0.route, from: $0.index) }
            } else {
                profiles = [profile(named: "session \(meta.id)", from: CallTree.rootIndex)]
            }
        case .route(let route):
            title = "\(meta.service) · \(route) · session \(meta.id)"
            profiles = [profile(named: route, from: CallTree.rootIndex)]
        case .request(let request):
            title = "\(meta.service) · request \(request.spanId) · \(request.route) · session \(meta.id)"
            profiles = [profile(named: "\(request.route) (request \(request.spanId))", from: CallTree.rootIndex)]
        }
        return File(schema: Self.schemaURL, shared: Shared(frames: frames), profiles: profiles, name: title,
                    activeProfileIndex: 0, exporter: "profd \(meta.daemonVersion)")
    }

    /// `FileFormat.File`.
    public struct File: Codable, Sendable {
        public var schema: String
        public var shared: Shared
        public var profiles: [SampledProfile]
        public var name: String
        public var activeProfileIndex: Int
        public var exporter: String

        enum CodingKeys: String, CodingKey {
            case schema = "$schema", shared, profiles, name, activeProfileIndex, exporter
        }
    }

    public struct Shared: Codable, Sendable {
        public var frames: [SpeedscopeFrame]
    }

    /// `FileFormat.Frame`.
    public struct SpeedscopeFrame: Codable, Sendable, Hashable {
        public var name: String
        public var file: String?
        public var line: Int?
    }

    /// `FileFormat.SampledProfile`: `samples[i]` weighs `weights[i]` nanoseconds.
    public struct SampledProfile: Codable, Sendable {
        public var type: String
        public var name: String
        public var unit: String
        public var startValue: UInt64
        public var endValue: UInt64
        public var samples: [[Int]]
        public var weights: [UInt64]
    }
}
