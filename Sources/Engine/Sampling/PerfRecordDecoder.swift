/// Walks and decodes the records of one perf ring's data area.
///
/// Layouts follow `sample_type = IP | TID | TIME | CPU | CALLCHAIN | STACK_USER` with `sample_id_all = 1`, as opened by
/// `profd_perf_open_cpu_clock` (which also asks for `context_switch` records).
enum PerfRecordDecoder {
    enum RecordType {
        static let exit: UInt32 = 4 // PERF_RECORD_EXIT
        static let lost: UInt32 = 2 // PERF_RECORD_LOST
        static let comm: UInt32 = 3 // PERF_RECORD_COMM
        static let fork: UInt32 = 7 // PERF_RECORD_FORK
        static let sample: UInt32 = 9 // PERF_RECORD_SAMPLE
        static let lostSamples: UInt32 = 13 // PERF_RECORD_LOST_SAMPLES
        static let contextSwitch: UInt32 = 14 // PERF_RECORD_SWITCH
    }

    /// `PERF_CONTEXT_MAX`: callchain entries at or above it are context markers, not addresses.
    static let contextMax = UInt64(bitPattern: -4095)
    static let cpuModeMask: UInt16 = 7 // PERF_RECORD_MISC_CPUMODE_MASK
    static let cpuModeKernel: UInt16 = 1 // PERF_RECORD_MISC_KERNEL
    /// On a SWITCH record: the thread left the CPU (otherwise it entered it).
    static let switchOut: UInt16 = 0x2000 // PERF_RECORD_MISC_SWITCH_OUT
    /// On a switch-out: the thread was preempted while still runnable (it did not block).
    static let switchOutPreempt: UInt16 = 0x4000 // PERF_RECORD_MISC_SWITCH_OUT_PREEMPT
    /// Bytes of the `sample_id` trailer on non-sample records: {pid, tid}, {time}, {cpu, res}.
    static let sampleIDTrailer = 24
    /// The largest record the kernel can write (`header.size` is 16 bits).
    static let maxRecordSize = 65536

    /// One decoded record; `.other` covers THROTTLE, UNTHROTTLE and types the sampler did not ask for.
    enum Record: Equatable {
        case sample(RawSample)
        case fork(pid: Int32, tid: Int32, timeNs: UInt64)
        case exit(pid: Int32, tid: Int32, timeNs: UInt64)
        case comm(pid: Int32, tid: Int32, name: String)
        case lost(count: UInt64)
        case contextSwitch(pid: Int32, ContextSwitch)
        case other(type: UInt32)
        case malformed
    }

    /// Calls `body` with each complete record in `[tail, head)` of a ring data area of `size` bytes (a power of
    /// two); a record that wraps past the end is copied into `scratch` (at least `maxRecordSize` bytes) first.
    /// Returns the new tail: `head`, also when a corrupt header forces skipping the rest (no way to resync).
    @inline(__always)
    static func walk(
        data: UnsafeRawPointer, size: Int, tail: UInt64, head: UInt64,
        scratch: UnsafeMutableRawPointer,
        _ body: (_ type: UInt32, _ misc: UInt16, _ record: UnsafeRawBufferPointer) -> Void
    ) -> UInt64 {
        let mask = UInt64(size - 1)
        var position = tail
        while head &- position >= 8 {
            let offset = Int(position & mask)
            // Records are 8-byte aligned and sized, so the 8-byte header never straddles the end.
            let type = data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            let misc = data.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let length = Int(data.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
            guard length >= 8, UInt64(length) <= head &- position else { return head }
            if offset + length <= size {
                body(type, misc, UnsafeRawBufferPointer(start: data + offset, count: length))
            } else {
                let first = size - offset
                scratch.copyMemory(from: data + offset, byteCount: first)
                (scratch + first).copyMemory(from: data, byteCount: length - first)
                body(type, misc, UnsafeRawBufferPointer(start: scratch, count: length))
            }
            position &+= UInt64(length)
        }
        return position
    }

    /// Decodes one record (header included). Never traps on short or inconsistent records.
    static func decode(type: UInt32, misc: UInt16, record: UnsafeRawBufferPointer) -> Record {
        let count = record.count
        @inline(__always) func u32(_ at: Int) -> UInt32 { record.loadUnaligned(fromByteOffset: at, as: UInt32.self) }
        @inline(__always) func u64(_ at: Int) -> UInt64 { record.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
        switch type {
        case RecordType.sample:
            // header, ip, {pid, tid}, time, {cpu, res}, nr, ips[nr]
            guard count >= 48 else { return .malformed }
            let ip = u64(8)
            let nr = u64(40)
            guard nr <= UInt64((count - 48) / 8) else { return .malformed }
            var callchain: [UInt64] = []
            callchain.reserveCapacity(Int(nr))
            var index = 0
            while index < Int(nr) {
                let address = u64(48 + index * 8)
                if address < contextMax { callchain.append(address) }
                index += 1
            }
            let inKernel = misc & cpuModeMask == cpuModeKernel
            if callchain.isEmpty && !inKernel { callchain.append(ip) }
            // Then the user stack dump: size, data[size], dyn_size (the bytes actually copied).
            var words = StackWords()
            let stackAt = 48 + Int(nr) * 8
            if count >= stackAt + 8 {
                let size = u64(stackAt)
                if size >= 16, size <= UInt64(count - stackAt - 16) {
                    let copied = u64(stackAt + 8 + Int(size))
                    if copied >= 8 { words.top = u64(stackAt + 8) }
                    if copied >= 16 { words.second = u64(stackAt + 16) }
                }
            }
            return .sample(RawSample(
                pid: Int32(bitPattern: u32(16)), tid: Int32(bitPattern: u32(20)), timeNs: u64(24),
                cpu: u32(32), inKernel: inKernel, callchain: callchain, stackWords: words))
        case RecordType.fork, RecordType.exit:
            // header, pid, ppid, tid, ptid, time
            guard count >= 32 else { return .malformed }
            let pid = Int32(bitPattern: u32(8)), tid = Int32(bitPattern: u32(16)), time = u64(24)
            return type == RecordType.fork ? .fork(pid: pid, tid: tid, timeNs: time) : .exit(pid: pid, tid: tid, timeNs: time)
        case RecordType.comm:
            // header, pid, tid, comm (NUL-terminated, padded to 8), sample_id
            guard count >= 16 else { return .malformed }
            let end = max(16, count - sampleIDTrailer)
            let bytes = UnsafeRawBufferPointer(rebasing: record[16..<end])
            let name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            return .comm(pid: Int32(bitPattern: u32(8)), tid: Int32(bitPattern: u32(12)), name: name)
        case RecordType.lost:
            // header, id, lost
            guard count >= 24 else { return .malformed }
            return .lost(count: u64(16))
        case RecordType.contextSwitch:
            // header, then only the sample_id trailer: {pid, tid}, time, {cpu, res}
            guard count >= 8 + sampleIDTrailer else { return .malformed }
            let kind: ContextSwitch.Kind = misc & switchOut == 0 ? .switchIn
                : misc & switchOutPreempt != 0 ? .preempted : .switchOut
            return .contextSwitch(pid: Int32(bitPattern: u32(8)),
                                  ContextSwitch(tid: Int32(bitPattern: u32(12)), timeNs: u64(16), kind: kind))
        case RecordType.lostSamples:
            // header, lost
            guard count >= 16 else { return .malformed }
            return .lost(count: u64(8))
        default:
            return .other(type: type)
        }
    }

    /// Scans `[tail, head)` without consuming it and collects the tids of FORK records of process `pid`.
    static func forkedThreads(
        pid: Int32, data: UnsafeRawPointer, size: Int, tail: UInt64, head: UInt64,
        scratch: UnsafeMutableRawPointer, into tids: inout Set<Int32>
    ) {
        _ = walk(data: data, size: size, tail: tail, head: head, scratch: scratch) { type, misc, record in
            guard type == RecordType.fork,
                  case .fork(let forkPid, let tid, _) = decode(type: type, misc: misc, record: record),
                  forkPid == pid
            else { return }
            tids.insert(tid)
        }
    }
}
