extension EngineError.Code {
    /// An ELF file is truncated or has an offset, size or count that points outside the file.
    public static let elfMalformed = Self("elf_malformed")
    /// An ELF file is valid but not ELF64 little-endian, the only kind this symbolizer reads.
    public static let elfUnsupported = Self("elf_unsupported")
    /// A binary or `/proc/PID/maps` could not be opened or read.
    public static let symbolFileUnreadable = Self("symbol_file_unreadable")
    /// The file at a mapping's path is not the file the process mapped (different inode).
    public static let symbolFileChanged = Self("symbol_file_changed")
}
