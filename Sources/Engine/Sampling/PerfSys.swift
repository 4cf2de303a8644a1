#if canImport(Glibc)
import Glibc
#endif
internal import CProfdShim

/// The sampler's syscall funnel: retries EINTR and reports errno as a value.
enum PerfSys {
    struct Failure: Error {
        var errno: Int32
    }

    /// Runs `body` until it does not fail with EINTR; a negative result becomes `Failure(errno)`.
    @inline(__always)
    static func call(_ body: () -> Int32) throws(Failure) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code != EINTR { throw Failure(errno: code) }
        }
    }

    /// Wraps `perf_event_open(2)` for the sampler's cpu-clock event.
    static func openCPUClock(tid: Int32, cpu: Int32, periodNs: UInt64, wakeupBytes: UInt32) throws(Failure) -> Int32 {
        try call { profd_perf_open_cpu_clock(tid, cpu, periodNs, wakeupBytes) }
    }

    static func enable(_ fd: Int32) throws(Failure) { _ = try call { profd_perf_enable(fd) } }

    static func disable(_ fd: Int32) throws(Failure) { _ = try call { profd_perf_disable(fd) } }

    static func setOutput(_ fd: Int32, to target: Int32) throws(Failure) {
        _ = try call { profd_perf_set_output(fd, target) }
    }

    /// Wraps `mmap(2)` of an event's ring.
    static func mapRing(_ fd: Int32, length: Int) throws(Failure) -> UnsafeMutableRawPointer {
        guard let base = profd_perf_mmap(fd, length) else { throw Failure(errno: Glibc.errno) }
        return base
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    // MARK: /proc and /sys

    /// The thread ids in `/proc/<pid>/task`, ascending.
    static func threads(of pid: Int32) throws(Failure) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { throw Failure(errno: Glibc.errno) }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    /// The whole content of a small pseudo-file, or nil when it cannot be read.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && Glibc.errno == EINTR { continue }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The thread's name from `/proc/<pid>/task/<tid>/comm`.
    static func threadName(pid: Int32, tid: Int32) -> String? {
        guard let text = readSmallFile("/proc/\(pid)/task/\(tid)/comm") else { return nil }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    /// Whether the thread has run at least once (`/proc/<pid>/task/<tid>/schedstat`, first field > 0).
    /// A thread that has run was woken after `copy_process` wrote its FORK record, so that record is visible.
    static func threadHasRun(pid: Int32, tid: Int32) -> Bool {
        guard let text = readSmallFile("/proc/\(pid)/task/\(tid)/schedstat"),
              let first = text.split(separator: " ").first, let runNs = UInt64(first)
        else { return false }
        return runNs > 0
    }

    /// Online CPU numbers from `/sys/devices/system/cpu/online` ("0-3,6"), else 0..<online count.
    static func onlineCPUs() -> [Int32] {
        if let text = readSmallFile("/sys/devices/system/cpu/online"), let cpus = parseCPUList(text), !cpus.isEmpty {
            return cpus
        }
        return (0..<Int32(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1))).map { $0 }
    }

    /// Parses a kernel CPU list such as "0-3,6\n"; nil when malformed.
    static func parseCPUList(_ text: String) -> [Int32]? {
        var cpus: [Int32] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }) {
            let bounds = part.split(separator: "-", maxSplits: 1)
            guard let low = Int32(bounds[0]) else { return nil }
            let high = bounds.count == 2 ? Int32(bounds[1]) : low
            guard let high, high >= low else { return nil }
            cpus.append(contentsOf: low...high)
        }
        return cpus
    }
}
