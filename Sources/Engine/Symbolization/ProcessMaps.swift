/// The executable, file-backed mappings of one process, from `/proc/PID/maps`, sorted by address.
///
/// Anonymous, non-executable and pseudo mappings (`[heap]`, `[stack]`, `[vdso]`) are dropped.
public struct ProcessMaps: Sendable, Hashable {
    /// One executable mapping of a file.
    public struct Mapping: Sendable, Hashable {
        /// First address of the mapping.
        public var start: UInt64
        /// One past the last address.
        public var end: UInt64
        /// Offset in the file of `start`.
        public var fileOffset: UInt64
        /// Device major number of the mapped file.
        public var deviceMajor: UInt32
        /// Device minor number of the mapped file.
        public var deviceMinor: UInt32
        /// Inode of the mapped file.
        public var inode: UInt64
        /// Path as the kernel printed it, without the ` (deleted)` marker.
        public var path: String
        /// The kernel marked the path ` (deleted)`: the file at `path` now is not the mapped one.
        public var isDeleted: Bool

        public init(
            start: UInt64, end: UInt64, fileOffset: UInt64, deviceMajor: UInt32, deviceMinor: UInt32,
            inode: UInt64, path: String, isDeleted: Bool = false
        ) {
            self.start = start
            self.end = end
            self.fileOffset = fileOffset
            self.deviceMajor = deviceMajor
            self.deviceMinor = deviceMinor
            self.inode = inode
            self.path = path
            self.isDeleted = isDeleted
        }

        /// File offset of `address`, which must lie in `start ..< end`.
        public func fileOffset(of address: UInt64) -> UInt64 { (address &- start) &+ fileOffset }
    }

    /// Mappings sorted by `start`, never overlapping.
    public private(set) var mappings: [Mapping]

    /// Builds maps from mappings; they are sorted, and on overlap the later one in the array wins.
    public init(mappings: [Mapping] = []) {
        self.mappings = []
        for mapping in mappings { insert(mapping) }
    }

    /// Parses the text of `/proc/PID/maps`. Lines that do not parse are skipped.
    public init(parsing text: String) {
        var parsed: [Mapping] = []
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            if let mapping = Self.parseLine(line) { parsed.append(mapping) }
        }
        self.init(mappings: parsed)
    }

    /// Reads and parses `/proc/PID/maps`. Blocking; throws `.symbolFileUnreadable` with errno.
    @available(*, noasync, message: "reads procfs; call from a thread, not the cooperative pool")
    public static func read(pid: Int32) throws(EngineError) -> ProcessMaps {
        let bytes = try readWholeFile(path: "/proc/\(pid)/maps")
        return ProcessMaps(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Reads and parses an open maps file: a client's `/proc/self/maps` that it passed to profd, for a
    /// process profd may not open itself. Blocking.
    @available(*, noasync, message: "reads procfs; call from a thread, not the cooperative pool")
    public static func read(fd: Int32) throws(EngineError) -> ProcessMaps {
        let bytes = try readWholeFile(fd: fd, name: "passed maps (fd \(fd))")
        return ProcessMaps(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// The path of the lowest file-backed executable mapping: the main program, which the kernel maps
    /// at the lowest address (libraries go high). For when `/proc/PID/exe` is not readable.
    public var firstExecutablePath: String? { mappings.first?.path }

    /// The mapping whose `start ..< end` holds `address`, by binary search.
    public func mapping(containing address: UInt64) -> Mapping? {
        guard let index = indexOfLast(startingAtOrBefore: address) else { return nil }
        let mapping = mappings[index]
        return address < mapping.end ? mapping : nil
    }

    /// Adds `newer`'s mappings, keeping older ones that no newer mapping overlaps.
    ///
    /// A daemon snapshots maps at session start and on rescans; the union still names libraries that were
    /// unmapped, or processes that exited, before the report is built. Where address ranges were reused,
    /// the newer mapping wins.
    public mutating func merge(_ newer: ProcessMaps) {
        var result = newer.mappings
        for old in mappings where !newer.overlaps(old) {
            result.append(old)
        }
        result.sort { $0.start < $1.start }
        mappings = result
    }

    private mutating func insert(_ mapping: Mapping) {
        mappings.removeAll { $0.start < mapping.end && mapping.start < $0.end }
        let index = mappings.firstIndex { $0.start > mapping.start } ?? mappings.endIndex
        mappings.insert(mapping, at: index)
    }

    private func overlaps(_ other: Mapping) -> Bool {
        // The last mapping starting before other.end is the only candidate that can overlap it.
        guard other.end > 0, let index = indexOfLast(startingAtOrBefore: other.end - 1) else { return false }
        return mappings[index].end > other.start
    }

    private func indexOfLast(startingAtOrBefore address: UInt64) -> Int? {
        let count = mappings.countOfPrefix(withKey: \.start, atMost: address)
        return count == 0 ? nil : count - 1
    }

    /// Parses `start-end perms offset major:minor inode path`; nil unless executable and file-backed.
    private static func parseLine(_ line: Substring.UTF8View.SubSequence) -> Mapping? {
        var fields = FieldScanner(bytes: line)
        guard let range = fields.next(), let perms = fields.next(), let offset = fields.next(),
              let device = fields.next(), let inodeField = fields.next()
        else { return nil }
        guard perms.count >= 3, perms[perms.index(perms.startIndex, offsetBy: 2)] == UInt8(ascii: "x") else {
            return nil
        }
        let rest = fields.remainder()
        guard rest.first == UInt8(ascii: "/") else { return nil }
        guard let dash = range.firstIndex(of: UInt8(ascii: "-")),
              let start = hex(range[range.startIndex ..< dash]),
              let end = hex(range[range.index(after: dash)...]),
              start < end,
              let fileOffset = hex(offset),
              let colon = device.firstIndex(of: UInt8(ascii: ":")),
              let major = hex(device[device.startIndex ..< colon]), major <= UInt32.max,
              let minor = hex(device[device.index(after: colon)...]), minor <= UInt32.max,
              let inode = UInt64(Substring(decoding: inodeField, as: UTF8.self))
        else { return nil }
        var path = String(decoding: rest, as: UTF8.self)
        let deletedMarker = " (deleted)"
        let isDeleted = path.hasSuffix(deletedMarker)
        if isDeleted { path.removeLast(deletedMarker.count) }
        return Mapping(
            start: start, end: end, fileOffset: fileOffset, deviceMajor: UInt32(major),
            deviceMinor: UInt32(minor), inode: inode, path: path, isDeleted: isDeleted)
    }

    private static func hex(_ bytes: Substring.UTF8View.SubSequence) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        return UInt64(Substring(decoding: bytes, as: UTF8.self), radix: 16)
    }
}

/// Splits a maps line into space-separated fields; the path (which may hold spaces) is the remainder.
private struct FieldScanner {
    let bytes: Substring.UTF8View.SubSequence
    var position: Substring.UTF8View.Index

    init(bytes: Substring.UTF8View.SubSequence) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    mutating func next() -> Substring.UTF8View.SubSequence? {
        skipSpaces()
        let start = position
        while position < bytes.endIndex, bytes[position] != UInt8(ascii: " ") {
            position = bytes.index(after: position)
        }
        return start == position ? nil : bytes[start ..< position]
    }

    mutating func remainder() -> Substring.UTF8View.SubSequence {
        skipSpaces()
        return bytes[position...]
    }

    private mutating func skipSpaces() {
        while position < bytes.endIndex, bytes[position] == UInt8(ascii: " ") {
            position = bytes.index(after: position)
        }
    }
}
