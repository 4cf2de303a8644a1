/// The per-function difference between two reports, A ("before") and B ("after"): `profctl diff`.
///
/// For every function (identified by name and binary, as the JSON report's `functions` are) it gives the
/// self time and the total time (inclusive, counted once per sample even under recursion) on each side,
/// as time and as a share of that side's samples, and the change from A to B. Rows are sorted by impact:
/// the size of the change in self time (or total time, with `Ranking.total`), largest first.
///
/// Sessions differ in length and load, so times are compared on a basis: `perRequest` (the default) divides
/// each side's time by its number of requests, so "this function costs 2 ms less per request" survives a
/// longer second run; `total` compares raw CPU time. When either side has no requests, per-request falls back
/// to total, and `basis` says which one was used.
///
/// A pure transform of two reports: no I/O, deterministic output, so renderers can golden-test it.
public struct ProfileDiff: Sendable, Equatable, Codable {
    /// Version of this structure's JSON form (`docs/diff.md`).
    public static let version = 1

    public enum Basis: String, Sendable, Equatable, Codable, CaseIterable {
        /// Time per request: each side's time divided by its request count.
        case perRequest = "per-request"
        /// Raw CPU time of each side.
        case total
    }

    /// What "impact" means when sorting.
    public enum Ranking: String, Sendable, Equatable, Codable, CaseIterable {
        /// The change in self time: each sample counts for exactly one function (its leaf), so the rows
        /// add up to the change in the whole profile and a slow leaf is not repeated up its callers.
        case selfTime = "self"
        /// The change in total (inclusive) time: callers whose subtree changed rank high too.
        case totalTime = "total"
    }

    /// One side of the comparison.
    public struct Side: Sendable, Equatable, Codable {
        /// `session`, `route` or `request`.
        public var kind: String
        public var session: String
        public var service: String
        public var route: String?
        public var executable: String?
        public var requests: Int
        public var samples: Int
        public var periodNs: UInt64
        /// `samples × periodNs`.
        public var cpuNs: UInt64
        /// On-CPU time in the diff's basis: `cpuNs`, or `cpuNs / requests` per request (rounded to ns).
        public var basisCPUNs: Int64
    }

    /// One function on one side.
    public struct Measure: Sendable, Equatable, Codable {
        public var selfSamples: Int
        public var totalSamples: Int
        /// Self and total time in the diff's basis (per request or total), rounded to nanoseconds.
        public var selfNs: Int64
        public var totalNs: Int64
        /// Share of the side's samples, 0…1 (rounded to 6 decimals).
        public var selfShare: Double
        public var totalShare: Double
    }

    public enum Status: String, Sendable, Equatable, Codable {
        /// Present on both sides.
        case both
        /// Only in B.
        case new
        /// Only in A.
        case gone
    }

    /// One function's change.
    public struct Row: Sendable, Equatable, Codable {
        public var function: String
        /// The binary's path (B's when the function is on both sides; the executable's path may differ).
        public var binary: String
        /// Whether `binary` is the profiled executable (on the side it was taken from).
        public var inExecutable: Bool
        public var status: Status
        /// Absent when the function is not on that side.
        public var a: Measure?
        public var b: Measure?
        /// B − A, in the basis: positive is slower, negative faster.
        public var deltaSelfNs: Int64
        public var deltaTotalNs: Int64
        /// B − A of the shares, in share units (0.05 = five percentage points).
        public var deltaSelfShare: Double
        public var deltaTotalShare: Double
        /// Whether the change in the ranking's time is within sampling noise: no more than two standard
        /// deviations of the difference of two sample counts (Poisson, each side's count over its divisor).
        /// Samples taken at a fixed CPU period vary less than that, so the test is conservative.
        public var withinNoise: Bool

        /// The change the ranking sorts by.
        public func delta(_ ranking: Ranking) -> Int64 {
            ranking == .selfTime ? deltaSelfNs : deltaTotalNs
        }

        /// Relative change of self time (0.5 = 50% slower); nil when A had no self time.
        public var relativeSelfChange: Double? {
            guard let a, a.selfNs > 0 else { return nil }
            return Double(deltaSelfNs) / Double(a.selfNs)
        }
    }

    /// The function with the largest improvement or regression, for summaries.
    public struct Highlight: Sendable, Equatable, Codable {
        public var function: String
        public var binary: String
        public var deltaNs: Int64
    }

    public var version: Int
    /// The basis used (per-request falls back to total when a side has no requests).
    public var basis: Basis
    /// The basis asked for, when it differs from `basis`.
    public var requestedBasis: Basis?
    public var ranking: Ranking
    public var a: Side
    public var b: Side
    /// Every function on either side, by impact (largest |delta| first; ties by name, then binary).
    public var functions: [Row]
    /// Functions left out of `functions` by a limit (`profctl diff --limit`); 0 when every function is listed.
    public var omittedFunctions = 0
    /// The largest decrease and increase in the ranking's time beyond sampling noise; nil when nothing got
    /// faster (slower) by more than noise.
    public var topImprovement: Highlight?
    public var topRegression: Highlight?

    public init(a reportA: ProfileReport, b reportB: ProfileReport, basis requested: Basis = .perRequest,
                ranking: Ranking = .selfTime) {
        let basis: Basis = requested == .perRequest && (reportA.requests.count == 0 || reportB.requests.count == 0)
            ? .total : requested
        version = Self.version
        self.basis = basis
        requestedBasis = basis == requested ? nil : requested
        self.ranking = ranking
        let sideA = Self.side(reportA, basis: basis), sideB = Self.side(reportB, basis: basis)
        a = sideA
        b = sideB

        let totalsA = Self.functionTotals(reportA)
        let totalsB = Self.functionTotals(reportB)
        var rows: [Row] = []
        for (key, entryB) in totalsB {
            let measureB = Self.measure(entryB, side: sideB, basis: basis)
            let measureA = totalsA[key].map { Self.measure($0, side: sideA, basis: basis) }
            rows.append(Self.row(function: key.function, binary: entryB.binary, inExecutable: key.inExecutable,
                                 a: measureA, b: measureB, sides: (sideA, sideB), basis: basis, ranking: ranking))
        }
        for (key, entryA) in totalsA where totalsB[key] == nil {
            rows.append(Self.row(function: key.function, binary: entryA.binary, inExecutable: key.inExecutable,
                                 a: Self.measure(entryA, side: sideA, basis: basis), b: nil,
                                 sides: (sideA, sideB), basis: basis, ranking: ranking))
        }
        rows.sort { x, y in
            let dx = x.delta(ranking).magnitude, dy = y.delta(ranking).magnitude
            if dx != dy { return dx > dy }
            let other: Ranking = ranking == .selfTime ? .totalTime : .selfTime
            let ox = x.delta(other).magnitude, oy = y.delta(other).magnitude
            if ox != oy { return ox > oy }
            if x.function != y.function { return x.function < y.function }
            return x.binary < y.binary
        }
        functions = rows
        topImprovement = rows.first { $0.delta(ranking) < 0 && !$0.withinNoise }
            .map { Highlight(function: $0.function, binary: $0.binary, deltaNs: $0.delta(ranking)) }
        topRegression = rows.first { $0.delta(ranking) > 0 && !$0.withinNoise }
            .map { Highlight(function: $0.function, binary: $0.binary, deltaNs: $0.delta(ranking)) }
    }

    /// The diff with only its first `count` functions (the highlights still describe all of them).
    public func limited(to count: Int) -> ProfileDiff {
        guard count >= 0, count < functions.count else { return self }
        var copy = self
        copy.omittedFunctions += functions.count - count
        copy.functions = Array(functions.prefix(count))
        return copy
    }

    /// Whether `requestedBasis` had to fall back, for a note in the renderers.
    public var basisNote: String? {
        guard let requestedBasis, requestedBasis != basis else { return nil }
        return "\(requestedBasis.rawValue) needs requests on both sides; comparing \(basis.rawValue) time"
    }

    // MARK: - Building

    /// Function identity across the two sides: name and binary, where the profiled executable counts as one
    /// binary on both sides even if it was rebuilt at another path between the runs.
    struct Key: Hashable {
        var function: String
        var binaryKey: String
        var inExecutable: Bool
    }

    struct Entry {
        var binary: String
        var selfSamples: Int
        var totalSamples: Int
    }

    /// Self and total samples per function; route frames (the session tree's first level) are not functions.
    /// Total counts each sample once per function, however often the function recurses on its stack.
    static func functionTotals(_ report: ProfileReport) -> [Key: Entry] {
        let tree = report.tree
        let executable = report.metadata.executable
        var result: [Key: Entry] = [:]
        // Iterative, so that a deep tree cannot overflow the stack; `active` holds the functions above a node.
        var pending: [(index: Int, active: Set<Key>)] = [(CallTree.rootIndex, [])]
        while let (index, above) = pending.popLast() {
            let node = tree.nodes[index]
            var active = above
            if let frame = node.frame, frame.binary != ReportBuilder.routeBinary {
                let key = identity(of: frame, executable: executable)
                var entry = result[key] ?? Entry(binary: frame.binary, selfSamples: 0, totalSamples: 0)
                if active.insert(key).inserted { entry.totalSamples += node.totalSamples }
                entry.selfSamples += node.selfSamples
                result[key] = entry
            }
            for child in node.children { pending.append((child, active)) }
        }
        return result
    }

    /// The name an address in no mapping gets (`0x7f…` in the reports): such addresses move with every run
    /// (ASLR), so a diff counts them all as one function rather than as new and gone ones.
    public static let unknownAddress = "[address in no mapping]"

    static func identity(of frame: Frame, executable: String?) -> Key {
        if frame.binary == "[unknown]" && frame.function.hasPrefix("0x") {
            return Key(function: unknownAddress, binaryKey: frame.binary, inExecutable: false)
        }
        let inExecutable = executable == frame.binary
        return Key(function: frame.function, binaryKey: inExecutable ? "" : frame.binary, inExecutable: inExecutable)
    }

    static func side(_ report: ProfileReport, basis: Basis) -> Side {
        let kind: String
        let route: String?
        switch report.scope {
        case .session: kind = "session"; route = nil
        case .route(let name): kind = "route"; route = name
        case .request(let request): kind = "request"; route = request.route
        }
        let meta = report.metadata
        var side = Side(kind: kind, session: meta.id, service: meta.service, route: route, executable: meta.executable,
                        requests: report.requests.count, samples: report.samples, periodNs: meta.periodNs,
                        cpuNs: report.cpuNs, basisCPUNs: 0)
        side.basisCPUNs = nanoseconds(samples: report.samples, side: side, basis: basis)
        return side
    }

    /// `samples × periodNs` in the basis, rounded to the nearest nanosecond.
    static func nanoseconds(samples: Int, side: Side, basis: Basis) -> Int64 {
        let raw = Double(samples) * Double(side.periodNs)
        switch basis {
        case .total: return Int64(raw)
        case .perRequest: return Int64((raw / Double(max(1, side.requests))).rounded())
        }
    }

    static func measure(_ entry: Entry, side: Side, basis: Basis) -> Measure {
        Measure(selfSamples: entry.selfSamples, totalSamples: entry.totalSamples,
                selfNs: nanoseconds(samples: entry.selfSamples, side: side, basis: basis),
                totalNs: nanoseconds(samples: entry.totalSamples, side: side, basis: basis),
                selfShare: share(entry.selfSamples, of: side.samples),
                totalShare: share(entry.totalSamples, of: side.samples))
    }

    static func share(_ samples: Int, of total: Int) -> Double {
        guard total > 0 else { return 0 }
        return rounded(Double(samples) / Double(total))
    }

    /// Six decimals: shares are estimates, and short numbers keep the JSON readable and stable.
    static func rounded(_ value: Double) -> Double {
        (value * 1e6).rounded() / 1e6 + 0.0  // + 0.0 turns -0.0 into 0.0
    }

    static func row(function: String, binary: String, inExecutable: Bool, a: Measure?, b: Measure?,
                    sides: (a: Side, b: Side), basis: Basis, ranking: Ranking) -> Row {
        let status: Status = a == nil ? .new : b == nil ? .gone : .both
        let countA = ranking == .selfTime ? a?.selfSamples ?? 0 : a?.totalSamples ?? 0
        let countB = ranking == .selfTime ? b?.selfSamples ?? 0 : b?.totalSamples ?? 0
        return Row(function: function, binary: binary, inExecutable: inExecutable, status: status, a: a, b: b,
                   deltaSelfNs: (b?.selfNs ?? 0) - (a?.selfNs ?? 0),
                   deltaTotalNs: (b?.totalNs ?? 0) - (a?.totalNs ?? 0),
                   deltaSelfShare: rounded((b?.selfShare ?? 0) - (a?.selfShare ?? 0)),
                   deltaTotalShare: rounded((b?.totalShare ?? 0) - (a?.totalShare ?? 0)),
                   withinNoise: withinNoise(countA, countB, sides: sides, basis: basis))
    }

    /// `|rB − rA| ≤ 2σ` for per-divisor rates `r = n / d` of Poisson counts, `σ² = nA/dA² + nB/dB²`.
    static func withinNoise(_ countA: Int, _ countB: Int, sides: (a: Side, b: Side), basis: Basis) -> Bool {
        let divisorA = basis == .perRequest ? Double(max(1, sides.a.requests)) : 1
        let divisorB = basis == .perRequest ? Double(max(1, sides.b.requests)) : 1
        let delta = Double(countB) / divisorB - Double(countA) / divisorA
        let variance = Double(countA) / (divisorA * divisorA) + Double(countB) / (divisorB * divisorB)
        return abs(delta) <= 2 * variance.squareRoot()
    }
}
