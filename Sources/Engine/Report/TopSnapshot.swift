import Foundation
import ProfdProtocol

/// One running session's last second, for `profctl top`: samples by route and the hottest functions.
///
/// profd refreshes it every second as `STATE/live/<session>/top.json`. A function's `own` time is its
/// self time with library frames folded into the nearest frame of the app's own code (as reports hide
/// library frames), which is where a person looking for a hot spot wants to land; `leaf` is the raw
/// self time and `total` the time with the function anywhere on the stack.
public struct TopSnapshot: Codable, Sendable, Equatable {
    public static let currentVersion = 1

    public struct Route: Codable, Sendable, Equatable {
        public var route: String
        public var samples: Int
    }

    public struct Function: Codable, Sendable, Equatable {
        public var function: String
        public var binary: String
        public var own: Int
        public var leaf: Int
        public var total: Int
    }

    public var version: Int
    public var session: String
    public var service: String
    public var pid: Int32
    public var unit: String?
    /// The time the counts cover.
    public var windowNs: UInt64
    /// CPU time one sample stands for.
    public var periodNs: UInt64
    public var samples: Int
    /// Busiest first.
    public var routes: [Route]
    /// Hottest first (by `own`, then `total`), at most `maximumFunctions`.
    public var functions: [Function]

    public static let maximumFunctions = 40

    /// Counts samples by route and by function. `frames` gives a stack's frames, outermost first.
    public init(session: String, service: String, pid: Int32, unit: String?, windowNs: UInt64, frequencyHz: Int,
                countsByRoute: [String: [UInt32: Int]], classifier: LibraryFrameClassifier,
                frames: (UInt32) -> [Frame]) {
        self.version = Self.currentVersion
        self.session = session
        self.service = service
        self.pid = pid
        self.unit = unit
        self.windowNs = windowNs
        self.periodNs = 1_000_000_000 / UInt64(max(1, frequencyHz))
        var total = 0
        var routes: [Route] = []
        struct Key: Hashable { var function: String; var binary: String }
        var byFunction: [Key: Function] = [:]
        func bump(_ frame: Frame, _ update: (inout Function) -> Void) {
            let key = Key(function: frame.function, binary: frame.binary)
            var entry = byFunction[key] ?? Function(function: frame.function, binary: frame.binary, own: 0, leaf: 0, total: 0)
            update(&entry)
            byFunction[key] = entry
        }
        for (route, counts) in countsByRoute {
            let routeSamples = counts.values.reduce(0, +)
            routes.append(Route(route: route, samples: routeSamples))
            total += routeSamples
            for (stack, count) in counts {
                let path = frames(stack)
                guard let leaf = path.last else { continue }
                bump(leaf) { $0.leaf += count }
                if let own = path.last(where: { !classifier.isLibrary($0) }) { bump(own) { $0.own += count } }
                var seen = Set<Key>()
                for frame in path where seen.insert(Key(function: frame.function, binary: frame.binary)).inserted {
                    bump(frame) { $0.total += count }
                }
            }
        }
        self.samples = total
        self.routes = routes.sorted { ($0.samples, $1.route) > ($1.samples, $0.route) }
        self.functions = Array(byFunction.values.sorted {
            ($0.own, $0.total, $1.function) > ($1.own, $1.total, $0.function)
        }.prefix(Self.maximumFunctions))
    }
}

extension ReportStore {
    public static let topFileName = "top.json"

    /// Replaces the session's `top.json` in its live folder.
    public func writeTop(_ snapshot: TopSnapshot) throws(EngineError) {
        guard Self.isValidSessionId(snapshot.session) else { throw EngineError(.storeWriteFailed, "invalid session id") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes: Data
        do { bytes = try encoder.encode(snapshot) } catch { throw EngineError(.storeWriteFailed, "encode top.json: \(error)") }
        try AtomicFile.ensureDirectory(liveDirectory)
        try AtomicFile.ensureDirectory(liveDirectory(session: snapshot.session))
        try AtomicFile.write(TerminalSafe.json(bytes), directory: liveDirectory(session: snapshot.session), name: Self.topFileName)
    }

    /// The `top.json` of every session refreshed within `maximumAgeSeconds`: the running ones.
    public func topSnapshots(maximumAgeSeconds: Double = 3) -> [TopSnapshot] {
        let sessions = (try? FileManager.default.contentsOfDirectory(atPath: liveDirectory)) ?? []
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var snapshots: [TopSnapshot] = []
        for id in sessions.sorted() where Self.isValidSessionId(id) {
            let path = liveDirectory(session: id) + "/" + Self.topFileName
            var info = stat()
            guard stat(path, &info) == 0,
                  Double(now.tv_sec - info.st_mtim.tv_sec) + Double(now.tv_nsec - info.st_mtim.tv_nsec) / 1e9 <= maximumAgeSeconds,
                  let bytes = try? AtomicFile.read(path),
                  let snapshot = try? JSONDecoder().decode(TopSnapshot.self, from: Data(bytes))
            else { continue }
            snapshots.append(snapshot)
        }
        return snapshots
    }
}
