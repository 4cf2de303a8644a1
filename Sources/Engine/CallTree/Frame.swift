/// One symbolized stack frame: what the call tree groups by and what every renderer prints.
public struct Frame: Hashable, Sendable, Codable {
    /// Demangled function name, or a synthetic name such as `[kernel]` or `0x7f… (libfoo.so)` when unknown.
    public var function: String
    /// Path of the binary the address falls in (as in `/proc/PID/maps`), or a synthetic `[kernel]` / `[unknown]`.
    public var binary: String
    /// Source file, when debug info resolved it.
    public var file: String?
    /// Source line, when debug info resolved it.
    public var line: Int?

    public init(function: String, binary: String, file: String? = nil, line: Int? = nil) {
        self.function = function
        self.binary = binary
        self.file = file
        self.line = line
    }

    /// The frame the tree shows for time the thread spent inside the kernel (syscalls, page faults).
    public static let kernel = Frame(function: "[kernel]", binary: "[kernel]")
}
