import ProfdProtocol

/// Renders a report as a pprof profile: gzipped protocol buffers following `profile.proto` of
/// github.com/google/pprof, readable by `go tool pprof`, Pyroscope, Parca and the like.
///
/// - `sample_type` is `[samples/count, cpu/nanoseconds]` (cpu is the default), `period_type` is
///   `cpu/nanoseconds` and `period` the session's sampling period.
/// - One sample per distinct stack, its location ids leaf first. A location stands for one distinct frame
///   (there are no addresses in a report); its line names the function and, when known, the source line.
/// - One mapping per binary, marked as already symbolized so pprof never looks for the binaries.
/// - Session reports keep the route as the outermost frame, as every other format does, and also label
///   each sample `route=<route>` so `-tagfocus route=/compute` works.
/// - `time_nanos` is the session start, `duration_nanos` its length; comments name the session and scope.
/// - Strings are made terminal-safe (control characters become visible `\u{…}` escapes).
public struct PprofRenderer: Sendable {
    public var fileExtension: String { "pb.gz" }

    public init() {}

    /// The gzipped profile: what `go tool pprof` reads.
    public func render(_ report: ProfileReport) -> [UInt8] {
        Gzip.wrap(encodeProfile(report))
    }

    /// The profile message before gzip.
    public func encodeProfile(_ report: ProfileReport) -> [UInt8] {
        let meta = report.metadata
        var strings = StringTable()
        let samplesType = (strings["samples"], strings["count"])
        let cpuType = (strings["cpu"], strings["nanoseconds"])

        struct FunctionKey: Hashable { var name: String; var file: String }
        var mappingIds: [String: UInt64] = [:]
        var mappings: [(id: UInt64, filename: Int64, hasFilenames: Bool, hasLines: Bool)] = []
        var functionIds: [FunctionKey: UInt64] = [:]
        var functions: [(id: UInt64, name: Int64, filename: Int64)] = []
        var locationIds: [Frame: UInt64] = [:]
        var locations: [(id: UInt64, mapping: UInt64, function: UInt64, line: Int64)] = []

        func mappingId(_ frame: Frame) -> UInt64 {
            guard !frame.binary.isEmpty else { return 0 }
            if let id = mappingIds[frame.binary] {
                if frame.file != nil { mappings[Int(id) - 1].hasFilenames = true }
                if frame.line != nil { mappings[Int(id) - 1].hasLines = true }
                return id
            }
            let id = UInt64(mappings.count + 1)
            mappingIds[frame.binary] = id
            mappings.append((id, strings[frame.binary], frame.file != nil, frame.line != nil))
            return id
        }
        func locationId(_ frame: Frame) -> UInt64 {
            if let id = locationIds[frame] { return id }
            let key = FunctionKey(name: frame.function, file: frame.file ?? "")
            let function: UInt64
            if let known = functionIds[key] {
                function = known
            } else {
                function = UInt64(functions.count + 1)
                functionIds[key] = function
                functions.append((function, strings[frame.function], strings[frame.file ?? ""]))
            }
            let id = UInt64(locations.count + 1)
            locationIds[frame] = id
            locations.append((id, mappingId(frame), function, Int64(frame.line ?? 0)))
            return id
        }

        let routeKey = report.scope == .session ? strings["route"] : 0
        var samples: [(locations: [UInt64], count: Int, route: Int64)] = []
        for stack in ExportStacks.collect(report.tree) {
            let frames = stack.frames.isEmpty ? [Frame(function: "(root)", binary: "")] : stack.frames
            let ids = frames.reversed().map(locationId)
            var route: Int64 = 0
            if routeKey != 0, let first = frames.first, first.binary == ReportBuilder.routeBinary {
                route = strings[first.function]
            }
            samples.append((ids, stack.samples, route))
        }

        var comments = ["profd \(meta.daemonVersion) · service \(meta.service) · pid \(meta.pid) · session \(meta.id)"]
        switch report.scope {
        case .session: comments.append("session report")
        case .route(let route): comments.append("route \(route)")
        case .request(let request): comments.append("request \(request.spanId) · \(request.route) · status \(request.status)")
        }
        let commentIds = comments.map { strings[$0] }
        let defaultType = strings["cpu"]

        let period = Int64(clamping: meta.periodNs)
        var out = ProtobufWriter()
        for (type, unit) in [samplesType, cpuType] {                               // 1 sample_type
            out.message(1) { $0.int64(1, type); $0.int64(2, unit) }
        }
        for sample in samples {                                                     // 2 sample
            out.message(2) { message in
                message.packed(1, sample.locations)
                let count = Int64(sample.count)
                message.packed(2, [count, count &* period].map { UInt64(bitPattern: $0) })
                if sample.route != 0 {
                    message.message(3) { $0.int64(1, routeKey); $0.int64(2, sample.route) }
                }
            }
        }
        for mapping in mappings {                                                   // 3 mapping
            out.message(3) { message in
                message.uint64(1, mapping.id)
                message.int64(5, mapping.filename)
                message.bool(7, true)
                message.bool(8, mapping.hasFilenames)
                message.bool(9, mapping.hasLines)
            }
        }
        for location in locations {                                                 // 4 location
            out.message(4) { message in
                message.uint64(1, location.id)
                message.uint64(2, location.mapping)
                message.message(4) { $0.uint64(1, location.function); $0.int64(2, location.line) }
            }
        }
        for function in functions {                                                 // 5 function
            out.message(5) { message in
                message.uint64(1, function.id)
                message.int64(2, function.name)
                message.int64(3, function.name)
                message.int64(4, function.filename)
            }
        }
        for string in strings.strings { out.string(6, string) }                     // 6 string_table
        out.int64(9, Self.unixNanos(rfc3339: meta.startedAt) ?? 0)                  // 9 time_nanos
        out.int64(10, Int64(clamping: meta.durationNs))                             // 10 duration_nanos
        out.message(11) { $0.int64(1, cpuType.0); $0.int64(2, cpuType.1) }         // 11 period_type
        out.int64(12, period)                                                       // 12 period
        out.packed(13, commentIds.map { UInt64(bitPattern: $0) })                   // 13 comment
        out.int64(14, defaultType)                                                  // 14 default_sample_type
        return out.bytes
    }

    /// pprof's string table: `""` first, then each string once, in order of first use. Strings are stored
    /// terminal-safe (`TerminalSafe`), since `go tool pprof` prints names as they are: a hostile route or
    /// symbol cannot reach a terminal raw through it.
    struct StringTable {
        private(set) var strings: [String] = [""]
        private var index: [String: Int64] = ["": 0]

        subscript(_ string: String) -> Int64 {
            mutating get {
                if let known = index[string] { return known }
                let next = Int64(strings.count)
                strings.append(TerminalSafe.string(string))
                index[string] = next
                return next
            }
        }
    }

    /// `2026-11-26T11:17:55.123Z` (RFC 3339, UTC, optional fraction) as nanoseconds since 1970; nil if malformed.
    static func unixNanos(rfc3339 text: String) -> Int64? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x74,
              bytes[13] == 0x3A, bytes[16] == 0x3A,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var position = 19
        var fraction: Int64 = 0
        if bytes[position] == 0x2E {
            position += 1
            var digits = 0
            while position < bytes.count, (0x30...0x39).contains(bytes[position]) {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[position] - 0x30) }
                digits += 1
                position += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 9)..<9 { fraction *= 10 }
        }
        guard position == bytes.count - 1, bytes[position] == 0x5A || bytes[position] == 0x7A else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return ((days * 24 + hour) * 60 + minute) * 60 * 1_000_000_000 + second * 1_000_000_000 + fraction
    }
}
