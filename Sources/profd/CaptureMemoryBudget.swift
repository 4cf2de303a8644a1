import ProfdEngine

/// One budget for what every session's capture holds in memory: samples, interned stacks, spans and their
/// routes, run slices and context switches, until the session's reports are written.
///
/// The per-session limits bound one session; this bounds their sum. Without it, 128 sessions at their
/// limits, or one client that makes every stack unique (deep random recursion) or every route 1 KiB long,
/// could grow profd by gigabytes. Beyond the budget new records are dropped and counted, as at the
/// per-session limits, and a session's bytes come back only when the writer is done with them, so captures
/// waiting in the writer's queue count too. Loop-only: no locking.
final class CaptureMemoryBudget {
    let limitBytes: Int
    private(set) var usedBytes = 0

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// True once the captures hold the budget: sessions drop what arrives until some are written.
    var exhausted: Bool { usedBytes >= limitBytes }

    func charge(_ bytes: Int) { usedBytes += bytes }

    func release(_ bytes: Int) { usedBytes = max(0, usedBytes - bytes) }
}

/// Estimated bytes of each kind of record a capture holds: array strides, plus what the structure around
/// it costs (dictionary entries, heap buffers). Estimates, on the generous side of what Swift allocates.
enum CaptureCost {
    static let sample = MemoryLayout<CapturedSample>.stride
    static let slice = MemoryLayout<RunSliceRecord>.stride
    static let contextSwitch = MemoryLayout<ContextSwitch>.stride

    /// A newly interned stack: its address buffer, and the stack in the table's array and dictionary.
    static func stack(frames: Int) -> Int {
        32 + frames * 8 + 3 * MemoryLayout<StackTable.Stack>.stride
    }

    /// A span: its record, its entries in the open and by-id indexes, and its route's own buffer when the
    /// route is too long to be stored inline (more than 15 UTF-8 bytes).
    static func span(routeBytes: Int) -> Int {
        MemoryLayout<SpanRecord>.stride + 64 + (routeBytes > 15 ? 32 + routeBytes : 0)
    }
}
