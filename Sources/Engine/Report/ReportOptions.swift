import Foundation
import ProfdProtocol

/// What a session asked of its reports: which formats, which routes, which requests keep a report of their own.
///
/// The client sends these with `startSession`; the daemon applies them when it writes the session.
public struct ReportOptions: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable, Comparable {
        case text, json, html
        public var fileExtension: String { self == .text ? "txt" : rawValue }
        public static func < (a: Format, b: Format) -> Bool { a.rawValue < b.rawValue }
    }

    /// The default file name template of kept requests' reports.
    public static let defaultRequestFileName = "{time}-{route}-{id}"

    /// Formats written for every report; never empty.
    public var formats: Set<Format>
    /// Requests whose wall time is at least this keep a full report; nil keeps none.
    public var slowThresholdNs: UInt64?
    /// Template of kept requests' file names (see `RequestFileName`).
    public var requestFileName: String
    /// Route patterns to report (`*` is a wildcard); empty reports every route.
    public var includedRoutes: [String]
    /// Route patterns never reported; their requests' samples are left out of every report and counted.
    public var excludedRoutes: [String]

    /// Requests that ended with a server error (status ≥ 500) keep a report.
    public var keepServerErrors: Bool
    /// This share of the other requests keeps a report, in basis points, picked by a hash of the span id.
    public var keptBasisPoints: Int
    /// The daemon logs each kept request's text tree.
    public var logKeptRequests: Bool

    public init(formats: Set<Format> = [.text, .json], slowThresholdNs: UInt64? = nil,
                requestFileName: String = ReportOptions.defaultRequestFileName,
                includedRoutes: [String] = [], excludedRoutes: [String] = [],
                keepServerErrors: Bool = true, keptBasisPoints: Int = 0, logKeptRequests: Bool = false) {
        self.keepServerErrors = keepServerErrors
        self.keptBasisPoints = min(max(keptBasisPoints, 0), 10_000)
        self.logKeptRequests = logKeptRequests
        self.formats = formats.isEmpty ? [.text, .json] : formats
        self.slowThresholdNs = slowThresholdNs
        self.requestFileName = requestFileName.isEmpty ? Self.defaultRequestFileName : requestFileName
        self.includedRoutes = includedRoutes
        self.excludedRoutes = excludedRoutes
    }

    /// Why a finished request keeps a report of its own, or nil: decided when it ends (tail-based), from
    /// what the daemon knows: its wall time, its status, and a hash of its id for the random share.
    public func keepReason(wallNs: UInt64, status: Int, spanId: UInt64) -> KeptRequest.Reason? {
        if let slowThresholdNs, wallNs >= slowThresholdNs { return .slow }
        if keepServerErrors, status >= 500 { return .serverError }
        if keptBasisPoints > 0, Self.basisPoint(of: spanId) < keptBasisPoints { return .sampled }
        return nil
    }

    /// A well-mixed 0..<10 000 from a span id (SplitMix64's finaliser), so consecutive ids spread evenly.
    static func basisPoint(of spanId: UInt64) -> Int {
        var z = spanId &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % 10_000)
    }

    /// Whether requests of `route` are reported.
    public func reports(route: String) -> Bool {
        RoutePattern.selects(route, included: includedRoutes, excluded: excludedRoutes)
    }
}

/// One request that keeps a full report of its own.
public struct KeptRequest: Codable, Sendable, Equatable {
    public var spanId: UInt64
    public var route: String
    public var status: Int
    public var beginNs: UInt64
    public var endNs: UInt64
    public var wallNs: UInt64
    /// Its wall time split into on CPU, off CPU on a thread, and suspended.
    public var time: TimeBreakdown
    /// Why it was kept.
    public enum Reason: String, Codable, Sendable {
        /// At least as slow as the threshold.
        case slow
        /// Ended with status ≥ 500.
        case serverError
        /// In the configured random share.
        case sampled
    }

    /// RFC 3339 UTC wall-clock time of its start.
    public var startedAt: String
    /// Why it was kept (optional so that reports written before it existed still decode).
    public var reason: Reason?
    /// Its report files relative to the session directory, by format (`json`, `text`, `html`); filled by the store.
    public var files: [String: String]

    public init(spanId: UInt64, route: String, status: Int, beginNs: UInt64, endNs: UInt64, time: TimeBreakdown,
                startedAt: String, reason: Reason? = nil, files: [String: String] = [:]) {
        self.reason = reason
        self.spanId = spanId
        self.route = route
        self.status = status
        self.beginNs = beginNs
        self.endNs = endNs
        self.wallNs = endNs >= beginNs ? endNs - beginNs : 0
        self.time = time
        self.startedAt = startedAt
        self.files = files
    }
}

/// Turns a request file name template into a safe file name.
public enum RequestFileName {
    /// Expands `{route}`, `{method}`, `{status}`, `{ms}`, `{id}` and `{time}`, then keeps only
    /// `A-Z a-z 0-9 . _ -` (others become `_`), never starts with a dot and stays under 120 bytes.
    public static func make(template: String, request: KeptRequest) -> String {
        let parts = request.route.split(separator: " ", maxSplits: 1)
        let method = parts.count == 2 ? String(parts[0]) : ""
        var path = parts.count == 2 ? String(parts[1]) : request.route
        if path.hasPrefix("/") { path.removeFirst() }
        let compactTime = request.startedAt.filter { $0 != "-" && $0 != ":" }
        var expanded = template
        for (key, value) in [("{route}", path), ("{method}", method), ("{status}", String(request.status)),
                             ("{ms}", String(request.wallNs / 1_000_000)), ("{id}", String(request.spanId)),
                             ("{time}", compactTime)] {
            expanded = expanded.replacingAll(key, with: value)
        }
        var name = ""
        var lastWasUnderscore = false
        for scalar in expanded.unicodeScalars {
            let safe = (scalar >= "A" && scalar <= "Z") || (scalar >= "a" && scalar <= "z")
                || (scalar >= "0" && scalar <= "9") || scalar == "." || scalar == "-"
            if safe {
                name.unicodeScalars.append(scalar)
                lastWasUnderscore = false
            } else if !lastWasUnderscore && !name.isEmpty {
                name.append("_")
                lastWasUnderscore = true
            }
        }
        while name.hasPrefix(".") { name.removeFirst() }
        while name.hasSuffix("_") { name.removeLast() }
        if name.utf8.count > 120 { name = String(name.prefix(120)) }
        return name.isEmpty ? "request-\(request.spanId)" : name
    }
}

extension String {
    /// Replaces every occurrence of `target` (non-empty) with `replacement`.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
