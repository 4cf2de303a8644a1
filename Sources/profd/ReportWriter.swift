import Dispatch
import Logging
import ProfdEngine
import Synchronization

/// Symbolizes finished sessions and writes their reports, off the event loop.
///
/// Symbolization reads ELF files and can take hundreds of milliseconds, so it runs on one serial queue.
/// The queue is the only place the symbolizer (and its per-binary cache) is touched, which is what
/// makes the `@unchecked Sendable` sound.
final class ReportWriter: @unchecked Sendable {
    struct Outcome: Sendable {
        var connection: UInt64
        var sessionId: String
        var clientPid: Int32
        var clientUnit: String?
        var result: Result<String, EngineError>
        /// Kept requests beyond `--max-kept-requests-per-session`, left without a report of their own.
        var skippedKeptRequests = 0
        /// Time spent symbolizing, building and writing, for the log and for benchmarks.
        var elapsed: Duration
    }

    private let queue = DispatchQueue(label: "profd.report-writer")
    /// How long a finished session's live folder stays for `profctl follow`.
    static let liveRetention: DispatchTimeInterval = .seconds(30)
    private let store: ReportStore
    /// Replaced by a fresh one past `symbolCacheLimit` (queue only): every binary a client maps stays
    /// parsed in the caches, so a client that loads one new library after another would otherwise grow
    /// profd for as long as it runs.
    private var symbolizer: Symbolizer
    private let symbolCacheLimit: SymbolCacheLimit
    private let group = DispatchGroup()
    private let inFlight = Mutex<Int>(0)
    /// Live kept-request writes queued and not yet done. The live copies (for `profctl follow`) are best
    /// effort: a client keeping every request at thousands a second would otherwise queue them, each with
    /// its own capture, faster than they are written (1.1 GB of RSS in 10 s at 12 500 kept requests/s).
    private let liveInFlight = Mutex<Int>(0)
    static let maximumLiveInFlight = 32
    /// Symbolized frames of running sessions' stacks for `top.json`, by session and stack id; touched on
    /// the queue only.
    private var topFrames: [String: [UInt32: [Frame]]] = [:]
    /// Sessions whose final reports are written, until their live folder is removed; queue only.
    private var finishedSessions: Set<String> = []
    private let logger: Logger
    private let retention: RetentionPolicy
    /// The store's usage after the last retention pass, for the loop's status (taken by `takeUsage()`).
    private let latestUsage = Mutex<ReportStore.Usage?>(nil)

    init(store: ReportStore, logger: Logger, retention: RetentionPolicy = .unlimited,
         symbolCacheLimit: SymbolCacheLimit = SymbolCacheLimit()) {
        self.store = store
        self.symbolCacheLimit = symbolCacheLimit
        self.logger = logger
        self.retention = retention
        self.symbolizer = Symbolizer(logger: logger)
    }

    /// The usage measured by the last retention pass, once.
    func takeUsage() -> ReportStore.Usage? {
        latestUsage.withLock { usage in
            defer { usage = nil }
            return usage
        }
    }

    /// Applies retention now and then every `intervalSeconds`, on the writer's queue (never the loop).
    func scheduleRetention(everySeconds intervalSeconds: Int) {
        queue.async { [self] in enforceRetention(protecting: []) }
        guard intervalSeconds > 0 else { return }
        scheduleNextRetention(afterSeconds: intervalSeconds)
    }

    private func scheduleNextRetention(afterSeconds seconds: Int) {
        queue.asyncAfter(deadline: .now() + .seconds(seconds)) { [self] in
            enforceRetention(protecting: [])
            scheduleNextRetention(afterSeconds: seconds)
        }
    }

    /// One retention pass (on the queue): every removal is logged with the session and the reason.
    private func enforceRetention(protecting protected: Set<String>) {
        let (removed, usage) = store.enforceRetention(retention, protected: protected)
        for removal in removed {
            logger.notice("session removed by retention", metadata: [
                "profd.session": "\(removal.session)", "profd.reason": "\(removal.reason.rawValue)",
                "profd.bytes": "\(removal.bytes)", "profd.age_s": "\(removal.ageSeconds)",
                "profd.max_age_s": "\(retention.maximumAgeSeconds)", "profd.max_bytes": "\(retention.maximumBytes)",
            ])
        }
        latestUsage.withLock { $0 = usage }
    }

    /// Writes `job`'s reports in the background and calls `completion` (on the writer's queue) when done.
    func submit(_ job: ReportJob, connection: UInt64, completion: @escaping @Sendable (Outcome) -> Void) {
        group.enter()
        inFlight.withLock { $0 += 1 }
        queue.async { [self] in
            defer {
                inFlight.withLock { $0 -= 1 }
                group.leave()
            }
            let clock = ContinuousClock()
            let started = clock.now
            let result: Result<String, EngineError>
            var skippedKeptRequests = 0
            do throws(EngineError) {
                let written = try write(job)
                skippedKeptRequests = written.skippedKeptRequests
                result = .success(written.directory)
            } catch {
                result = .failure(error)
            }
            // Retention after each written session; never the session just written.
            enforceRetention(protecting: [job.metadata.id])
            completion(Outcome(connection: connection, sessionId: job.metadata.id, clientPid: job.metadata.pid,
                               clientUnit: job.metadata.unit, result: result, skippedKeptRequests: skippedKeptRequests,
                               elapsed: clock.now - started))
        }
    }

    /// Writes a running session's kept request into `live/` for `profctl follow`. Failures are logged:
    /// the request is in the session's final reports anyway.
    func submitLive(_ job: LiveRequestJob) {
        group.enter()
        liveInFlight.withLock { $0 += 1 }
        queue.async { [self] in
            defer {
                liveInFlight.withLock { $0 -= 1 }
                group.leave()
            }
            let request = job.request
            let builder = ReportBuilder(metadata: request.metadata, capture: request.capture, options: request.options,
                                        wallClockTime: request.wallClockTime)
            let reports = builder.build { self.frames(of: $0, in: request.maps) }
            guard let report = reports.requests.first(where: { if case .request(let kept) = $0.scope { kept.spanId == job.spanId } else { false } }) else { return }
            do throws(EngineError) {
                try store.writeLive(request: report)
            } catch {
                logger.warning("cannot write a live kept request", metadata: ["profd.session": "\(request.metadata.id)", "profd.error": "\(error)"])
            }
        }
    }

    /// Writes a running session's `top.json`. Frames are cached per session and stack id (stable within
    /// a session), so each second only symbolizes stacks it has not seen.
    func submitTop(_ job: TopSnapshotJob) {
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            // A snapshot queued behind the session's final reports has nothing left to show.
            guard !finishedSessions.contains(job.sessionId) else { return }
            var cache = topFrames[job.sessionId] ?? [:]
            let snapshot = TopSnapshot(
                session: job.sessionId, service: job.service, pid: job.pid, unit: job.unit, windowNs: job.windowNs,
                frequencyHz: job.frequencyHz, countsByRoute: job.countsByRoute,
                classifier: LibraryFrameClassifier(executablePath: job.executable)
            ) { id in
                if let frames = cache[id] { return frames }
                let stack = job.stacks[id]
                let frames = ReportBuilder.rootFirstFrames(of: stack) { self.frames(of: $0, in: job.maps) }
                cache[id] = frames
                return frames
            }
            topFrames[job.sessionId] = cache
            do throws(EngineError) {
                try store.writeTop(snapshot)
            } catch {
                logger.debug("cannot write top.json", metadata: ["profd.session": "\(job.sessionId)", "profd.error": "\(error)"])
            }
        }
    }

    /// How many more live kept-request writes may be queued now (see `maximumLiveInFlight`).
    var liveSlotsFree: Int { max(0, Self.maximumLiveInFlight - liveInFlight.withLock { $0 }) }

    /// Sessions submitted and not yet written.
    var pending: Int { inFlight.withLock { $0 } }

    /// Blocks until every submitted job has been written (at shutdown), calling `tick` every second
    /// meanwhile (the watchdog keep-alive).
    func waitForAll(tick: () -> Void = {}) {
        while group.wait(timeout: .now() + 1) == .timedOut {
            tick()
        }
    }

    /// A raw stack's frames, leaf first, its skipped caller put back: the one way every report, live
    /// request and top snapshot is symbolized. Queue only.
    private func frames(of stack: StackTable.Stack, in maps: ProcessMaps) -> [Frame] {
        symbolizer.symbolize(callchain: symbolizer.repairedCallchain(stack.addresses, stackWords: stack.stackWords, in: maps), in: maps)
    }

    /// Starts a cold symbolizer once the caches hold more than the limit; the next session pays for
    /// parsing its binaries again, and memory stays bounded whatever clients map.
    private func resetSymbolCacheIfFull() {
        guard symbolCacheLimit.isExceeded(by: symbolizer) else { return }
        logger.notice("symbol cache full; starting it afresh", metadata: [
            "profd.binaries": "\(symbolizer.cachedBinaryCount)", "profd.addresses": "\(symbolizer.cachedAddressCount)",
        ])
        symbolizer = Symbolizer(logger: logger)
    }

    /// Writes a finished session; returns its directory and how many kept requests the limit skipped.
    private func write(_ job: ReportJob) throws(EngineError) -> (directory: String, skippedKeptRequests: Int) {
        // The session's binaries were read for its frames; keep no descriptor of a client that is gone.
        defer {
            symbolizer.closeCodeFiles()
            resetSymbolCacheIfFull()
        }
        let builder = ReportBuilder(metadata: job.metadata, capture: job.capture, options: job.options,
                                    maximumKeptRequests: job.maximumKeptRequests, wallClockTime: job.wallClockTime)
        let symbolize = { (stack: StackTable.Stack) -> [Frame] in self.frames(of: stack, in: job.maps) }
        let reports = builder.build(symbolize: symbolize)
        let archive = CaptureArchive(metadata: job.metadata, options: job.options, capture: job.capture,
                                     framesByStack: reports.framesByStack, symbolize: symbolize)
        let directory = try store.write(session: reports.session, routes: reports.routes, requests: reports.requests,
                                        formats: job.options.formats, requestFileName: job.options.requestFileName,
                                        capture: try archive.encoded())
        topFrames[job.metadata.id] = nil
        finishedSessions.insert(job.metadata.id)
        // The live copies of its kept requests are in the final reports now; followers get a while to read them.
        let id = job.metadata.id
        queue.asyncAfter(deadline: .now() + Self.liveRetention) { [self] in
            store.removeLive(session: id)
            finishedSessions.remove(id)
        }
        if job.options.logKeptRequests {
            // pyinstrument's "print each request", for a daemon: each kept request's tree in the log.
            for report in reports.requests {
                guard case .request(let request) = report.scope else { continue }
                logger.info("kept request\n\(TextRenderer().render(report))", metadata: [
                    "profd.session": "\(job.metadata.id)", "profd.route": "\(request.route)",
                    "profd.status": "\(request.status)", "profd.wall_ns": "\(request.wallNs)",
                    "profd.reason": "\(request.reason?.rawValue ?? "")",
                ])
            }
        }
        return (directory, reports.session.metadata.skippedKeptRequests ?? 0)
    }
}

/// How much the report writer's symbol caches may hold before they are started afresh: parsed binaries
/// (a symbol table each, up to tens of MB for a large Swift binary) and resolved addresses. A service and
/// its libraries are a few dozen binaries, so the defaults are only reached by a client that keeps mapping
/// new ones.
struct SymbolCacheLimit: Sendable {
    var binaries = 128
    var addresses = 2_000_000

    func isExceeded(by symbolizer: Symbolizer) -> Bool {
        symbolizer.cachedBinaryCount > binaries || symbolizer.cachedAddressCount > addresses
    }
}
