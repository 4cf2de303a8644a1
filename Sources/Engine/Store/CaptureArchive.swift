import Foundation
import ProfdProtocol

extension EngineError.Code {
    /// A stored capture that cannot be read: truncated, forged or from another version.
    public static let captureMalformed = Self("capture_malformed")
}

/// A session's raw capture, already symbolized: what profd stores next to the reports (`capture.bin`) so
/// that any report can be built again later, with other options, without the process or its binaries.
///
/// It holds the samples, spans, run slices and context switches exactly as recorded, and each stack as
/// frames rather than addresses (so it stays readable after the binaries change). Layout, little-endian:
///
/// ```
/// "PROFDCAP" u32 version(1)
/// u32 n, n bytes of JSON: metadata, options, spans, frames, thread names, counters
/// u32 n, n × stack:  u8 inKernel, u16 count, count × u32 frame index (outermost first, no [kernel] frame)
/// u32 n, n × sample: i32 tid, u32 stack, u64 timeNs
/// u32 n, n × slice:  u32 span index, i32 tid, u64 beginNs, u64 endNs
/// u32 n, n × switch: i32 tid, u8 kind, u64 timeNs
/// ```
public struct CaptureArchive: Sendable {
    public static let magic = Array("PROFDCAP".utf8)
    public static let version: UInt32 = 1

    /// The options a session's reports were written with, in a form that survives on disk.
    public struct StoredOptions: Codable, Sendable, Equatable {
        public var formats: [String]
        public var slowThresholdNs: UInt64?
        public var requestFileName: String
        public var includedRoutes: [String]
        public var excludedRoutes: [String]
        public var keepServerErrors: Bool
        public var keptBasisPoints: Int
        public var logKeptRequests: Bool

        public init(_ options: ReportOptions) {
            formats = options.formats.map(\.rawValue).sorted()
            slowThresholdNs = options.slowThresholdNs
            requestFileName = options.requestFileName
            includedRoutes = options.includedRoutes
            excludedRoutes = options.excludedRoutes
            keepServerErrors = options.keepServerErrors
            keptBasisPoints = options.keptBasisPoints
            logKeptRequests = options.logKeptRequests
        }

        public var reportOptions: ReportOptions {
            ReportOptions(formats: Set(formats.compactMap(ReportOptions.Format.init(rawValue:))),
                          slowThresholdNs: slowThresholdNs, requestFileName: requestFileName,
                          includedRoutes: includedRoutes, excludedRoutes: excludedRoutes,
                          keepServerErrors: keepServerErrors, keptBasisPoints: keptBasisPoints,
                          logKeptRequests: logKeptRequests)
        }
    }

    private struct Header: Codable {
        var metadata: SessionMetadata
        var options: StoredOptions
        var spans: [SpanRecord]
        var frames: [Frame]
        var threadNames: [String: String]
        var lostSamples: UInt64
        var droppedSamples: UInt64
        var droppedSpans: UInt64
        var droppedSwitches: UInt64
        var switchesCompleteUntilNs: UInt64?
    }

    public var metadata: SessionMetadata
    public var options: ReportOptions
    /// The capture, with each stack's addresses replaced by indexes into `frames` (outermost first).
    public var capture: Capture
    public var frames: [Frame]

    /// Archives `capture`: every stack becomes frames, taken from `framesByStack` (what the reports used)
    /// or from `symbolize` for stacks no report needed.
    public init(metadata: SessionMetadata, options: ReportOptions, capture original: Capture,
                framesByStack: [UInt32: [Frame]], symbolize: (StackTable.Stack) -> [Frame]) {
        self.metadata = metadata
        self.options = options
        var frameIndex: [Frame: UInt64] = [:]
        var frames: [Frame] = []
        var archived = Capture()
        var stackMap: [UInt32] = []
        stackMap.reserveCapacity(original.stacks.count)
        for id in 0..<UInt32(original.stacks.count) {
            let stack = original.stacks[id]
            var rootFirst = framesByStack[id] ?? ReportBuilder.rootFirstFrames(of: stack, symbolize: symbolize)
            if stack.inKernel, rootFirst.last == .kernel { rootFirst.removeLast() }
            let indexes = rootFirst.map { frame -> UInt64 in
                if let index = frameIndex[frame] { return index }
                frameIndex[frame] = UInt64(frames.count)
                frames.append(frame)
                return UInt64(frames.count - 1)
            }
            stackMap.append(archived.stacks.intern(.init(addresses: indexes, inKernel: stack.inKernel)))
        }
        archived.samples = original.samples.map { CapturedSample(tid: $0.tid, stack: stackMap[Int($0.stack)], timeNs: $0.timeNs) }
        archived.spans = original.spans
        archived.slices = original.slices
        archived.switches = original.switches
        archived.threadNames = original.threadNames
        archived.lostSamples = original.lostSamples
        archived.droppedSamples = original.droppedSamples
        archived.droppedSpans = original.droppedSpans
        archived.droppedSwitches = original.droppedSwitches
        archived.switchesCompleteUntilNs = original.switchesCompleteUntilNs
        self.capture = archived
        self.frames = frames
    }

    /// Builds the reports again, with the stored options or others.
    public func build(options: ReportOptions? = nil, wallClockTime: @escaping @Sendable (UInt64) -> String = { _ in "" }) -> ReportBuilder.Reports {
        let frames = self.frames
        return ReportBuilder(metadata: metadata, capture: capture, options: options ?? self.options, wallClockTime: wallClockTime)
            .build { stack in
                // Stored outermost first; the builder wants the leaf first.
                stack.addresses.reversed().map { Int($0) < frames.count ? frames[Int($0)] : Frame(function: "[bad frame index]", binary: "[unknown]") }
            }
    }

    // MARK: Encoding

    public func encoded() throws(EngineError) -> [UInt8] {
        let header = Header(metadata: metadata, options: StoredOptions(options), spans: capture.spans, frames: frames,
                            threadNames: Dictionary(uniqueKeysWithValues: capture.threadNames.map { (String($0.key), $0.value) }),
                            lostSamples: capture.lostSamples, droppedSamples: capture.droppedSamples,
                            droppedSpans: capture.droppedSpans, droppedSwitches: capture.droppedSwitches,
                            switchesCompleteUntilNs: capture.switchesCompleteUntilNs)
        let json: [UInt8]
        do { json = TerminalSafe.json(try JSONEncoder().encode(header)) } catch { throw EngineError(.storeWriteFailed, "encode capture header: \(error)") }
        var out = Self.magic
        out.reserveCapacity(json.count + capture.samples.count * 16 + capture.stacks.count * 24 + 64)
        out.put(Self.version)
        out.put(UInt32(json.count))
        out.append(contentsOf: json)
        out.put(UInt32(capture.stacks.count))
        for id in 0..<UInt32(capture.stacks.count) {
            let stack = capture.stacks[id]
            out.append(stack.inKernel ? 1 : 0)
            out.put(UInt16(clamping: stack.addresses.count))
            for index in stack.addresses.prefix(Int(UInt16.max)) { out.put(UInt32(truncatingIfNeeded: index)) }
        }
        out.put(UInt32(capture.samples.count))
        for sample in capture.samples {
            out.put(UInt32(bitPattern: sample.tid)); out.put(sample.stack); out.put(sample.timeNs)
        }
        out.put(UInt32(capture.slices.count))
        for slice in capture.slices {
            out.put(UInt32(truncatingIfNeeded: slice.span)); out.put(UInt32(bitPattern: slice.threadId))
            out.put(slice.beginNs); out.put(slice.endNs)
        }
        out.put(UInt32(capture.switches.count))
        for record in capture.switches {
            out.put(UInt32(bitPattern: record.tid)); out.append(record.kind.rawValue); out.put(record.timeNs)
        }
        return out
    }

    /// Decodes an archive; throws `malformed` on anything that does not add up, never traps.
    public static func decode(_ bytes: [UInt8]) throws(EngineError) -> CaptureArchive {
        var reader = ArchiveReader(bytes: bytes)
        guard try reader.bytes(8) == magic[...] else { throw EngineError(.captureMalformed, "not a profd capture (bad magic)") }
        let version = try reader.u32()
        guard version == Self.version else { throw EngineError(.captureMalformed, "capture version \(version) is not supported (this profctl reads \(Self.version))") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(try reader.bytes(Int(try reader.u32()))))
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.captureMalformed, "capture header: \(error)")
        }
        var capture = Capture()
        let stackCount = Int(try reader.u32())
        for _ in 0..<stackCount {
            let inKernel = try reader.u8() != 0
            let count = Int(try reader.u16())
            var indexes: [UInt64] = []
            indexes.reserveCapacity(count)
            for _ in 0..<count {
                let index = try reader.u32()
                guard Int(index) < header.frames.count else { throw EngineError(.captureMalformed, "frame index \(index) out of range") }
                indexes.append(UInt64(index))
            }
            let id = capture.stacks.intern(.init(addresses: indexes, inKernel: inKernel))
            guard Int(id) == capture.stacks.count - 1 else { throw EngineError(.captureMalformed, "duplicate stack in capture") }
        }
        let sampleCount = Int(try reader.u32())
        try reader.require(sampleCount, bytesEach: 16)
        capture.samples.reserveCapacity(sampleCount)
        for _ in 0..<sampleCount {
            let tid = Int32(bitPattern: try reader.u32()), stack = try reader.u32(), time = try reader.u64()
            guard Int(stack) < stackCount else { throw EngineError(.captureMalformed, "stack \(stack) out of range") }
            capture.samples.append(CapturedSample(tid: tid, stack: stack, timeNs: time))
        }
        let sliceCount = Int(try reader.u32())
        try reader.require(sliceCount, bytesEach: 24)
        for _ in 0..<sliceCount {
            let span = Int(try reader.u32()), tid = Int32(bitPattern: try reader.u32())
            let begin = try reader.u64(), end = try reader.u64()
            guard span < header.spans.count, begin <= end else { throw EngineError(.captureMalformed, "bad run slice") }
            capture.slices.append(RunSliceRecord(span: span, threadId: tid, beginNs: begin, endNs: end))
        }
        let switchCount = Int(try reader.u32())
        try reader.require(switchCount, bytesEach: 13)
        for _ in 0..<switchCount {
            let tid = Int32(bitPattern: try reader.u32())
            guard let kind = ContextSwitch.Kind(rawValue: try reader.u8()) else { throw EngineError(.captureMalformed, "bad switch kind") }
            capture.switches.append(ContextSwitch(tid: tid, timeNs: try reader.u64(), kind: kind))
        }
        guard reader.atEnd else { throw EngineError(.captureMalformed, "trailing bytes after the capture") }
        capture.spans = header.spans
        capture.threadNames = Dictionary(uniqueKeysWithValues: header.threadNames.compactMap { key, value in Int32(key).map { ($0, value) } })
        capture.lostSamples = header.lostSamples
        capture.droppedSamples = header.droppedSamples
        capture.droppedSpans = header.droppedSpans
        capture.droppedSwitches = header.droppedSwitches
        capture.switchesCompleteUntilNs = header.switchesCompleteUntilNs
        return CaptureArchive(metadata: header.metadata, options: header.options.reportOptions, capture: capture, frames: header.frames)
    }

    private init(metadata: SessionMetadata, options: ReportOptions, capture: Capture, frames: [Frame]) {
        self.metadata = metadata
        self.options = options
        self.capture = capture
        self.frames = frames
    }
}

private extension [UInt8] {
    mutating func put<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Bounds-checked little-endian reads over an archive's bytes.
private struct ArchiveReader {
    let bytes: [UInt8]
    var position = 0

    var atEnd: Bool { position == bytes.count }

    mutating func bytes(_ count: Int) throws(EngineError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - position >= count else { throw EngineError(.captureMalformed, "capture is truncated") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// Fails early when `count` records of `size` bytes cannot fit, so a forged count cannot make us reserve memory.
    func require(_ count: Int, bytesEach size: Int) throws(EngineError) {
        guard count <= (bytes.count - position) / size else { throw EngineError(.captureMalformed, "capture is truncated") }
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(EngineError) -> T {
        let slice = try bytes(MemoryLayout<T>.size)
        var value: T = 0
        for (shift, byte) in slice.enumerated() { value |= T(byte) << (shift * 8) }
        return value
    }

    mutating func u8() throws(EngineError) -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws(EngineError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(EngineError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(EngineError) -> UInt64 { try integer(UInt64.self) }
}
