#if canImport(Glibc)
import Glibc
#endif
import CProfdShim

/// Wall-clock instants paired with the monotonic clock, for report headers and session ids.
enum WallClock {
    struct Instant: Sendable {
        var seconds: Int
        var milliseconds: Int
        var monotonicNs: UInt64

        /// `2026-11-26T11:17:55.123Z`
        var rfc3339: String { format("%Y-%m-%dT%H:%M:%S") + ".\(pad(milliseconds, 3))Z" }
        /// `20261126T111755.123Z`: sorts by time and is safe in a file name.
        var compact: String { format("%Y%m%dT%H%M%S") + ".\(pad(milliseconds, 3))Z" }

        /// The wall-clock instant at `monotonicNs`, assuming the wall clock does not jump in between.
        func at(monotonicNs other: UInt64) -> Instant {
            let deltaMs = (Int64(bitPattern: other &- monotonicNs)) / 1_000_000
            let totalMs = Int64(seconds) * 1000 + Int64(milliseconds) + deltaMs
            return Instant(seconds: Int(totalMs / 1000), milliseconds: Int(totalMs % 1000), monotonicNs: other)
        }

        private func format(_ pattern: String) -> String {
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, pattern, &parts)
            return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        private func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
    }

    static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(seconds: spec.tv_sec, milliseconds: spec.tv_nsec / 1_000_000, monotonicNs: profd_monotonic_ns())
    }
}
