#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ProfdTestKit

/// A shared library, assembled at test time, whose one function has a hostile symbol name: ESC sequences,
/// BEL, a UTF-8 C1 CSI and a byte that is not UTF-8. A client that loads it and burns CPU in it puts that
/// name into profd's symbolized frames, the one way a client controls function names.
///
/// The function is a frame-pointer prologue around a countdown loop, so profd unwinds through it.
struct HostileSymbolLibrary {
    /// The symbol's raw bytes (no NUL: ELF names are C strings).
    static let nameBytes: [UInt8] = Array("hostile_fn_".utf8) + [0x1B] + Array("[31mRED".utf8) + [0x1B] + Array("]0;t".utf8)
        + [0x07, 0xC2, 0x9B] + Array("2J".utf8) + [0xFF] + Array("<b>_end".utf8)
    /// What profd makes of the name: invalid UTF-8 repaired to U+FFFD.
    static var repairedName: String { String(decoding: nameBytes, as: UTF8.self) }

    private let handle: UnsafeMutableRawPointer
    private let function: @convention(c) (UInt64) -> UInt64

    /// Assembles and links the library in `directory` and loads it.
    init(directory: String) throws {
        let source = directory + "/hostile.s", library = directory + "/libhostile.so"
        let quoted = [0x22] + Self.nameBytes + [0x22]
        var assembly: [UInt8] = []
        for line in [
            Array("    .text\n    .globl ".utf8) + quoted,
            Array("    .type ".utf8) + quoted + Array(", @function".utf8),
            quoted + Array(":".utf8),
            Array("    push %rbp\n    mov %rsp, %rbp\n    mov %rdi, %rax\n1:  dec %rax\n    jnz 1b\n    pop %rbp\n    ret".utf8),
            Array("    .size ".utf8) + quoted + Array(", .-".utf8) + quoted,
            Array("    .section .note.GNU-stack,\"\",@progbits".utf8),
        ] { assembly += line + [0x0A] }
        guard FileManager.default.createFile(atPath: source, contents: Data(assembly)) else { throw TestKitError("cannot write \(source)") }
        let compiler = try ChildProcess(try Self.compiler(), ["-shared", "-nostdlib", "-o", library, source])
        guard compiler.waitForExit().exitCode == 0 else { throw TestKitError("could not build \(library)") }
        guard let handle = dlopen(library, RTLD_NOW) else { throw TestKitError("dlopen \(library): \(String(cString: dlerror()))") }
        let name = Self.nameBytes.map { CChar(bitPattern: $0) } + [0]
        guard let symbol = dlsym(handle, name) else { throw TestKitError("dlsym: the hostile symbol is not exported") }
        self.handle = handle
        function = unsafeBitCast(symbol, to: (@convention(c) (UInt64) -> UInt64).self)
    }

    /// A C compiler driver to assemble and link with: `cc` if installed, else the Swift toolchain's `clang`
    /// (always there, on the test runner's PATH).
    private static func compiler() throws -> String {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let directories = ["/usr/bin"] + path.split(separator: ":").map(String.init)
        for name in ["cc", "clang"] {
            if let found = directories.map({ $0 + "/" + name }).first(where: { access($0, X_OK) == 0 }) { return found }
        }
        throw TestKitError("no cc or clang on PATH to build the hostile-symbol library")
    }

    /// Runs the hostile function's loop for about `milliseconds` of this thread's CPU time.
    func burn(milliseconds: UInt64) {
        let deadline = threadCPUNs() + milliseconds * 1_000_000
        while threadCPUNs() < deadline { _ = function(2_000_000) }
    }
}
