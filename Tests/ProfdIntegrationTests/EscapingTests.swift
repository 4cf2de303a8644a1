#if canImport(Glibc)
import Glibc
#endif
import CProfdShim
import Foundation
import ProfdEngine
import ProfdProtocol
import ProfdTestKit
import Testing

/// Hostile text in what a client names (SECURITY.md, "Faults"): terminal escapes, NUL, a C1 control and
/// invalid UTF-8 in route, service and function names never reach a stored file or profctl's output raw.
///
/// Data-driven: a new stored format is checked once it is written under the session directory; a new
/// profctl command needs a row in `runningCommands` or `finishedCommands`.
@Suite("Escaping: hostile route, service and function names in every format and command", .serialized)
struct EscapingTests {
    /// ESC sequences (colour, window title), BEL, NUL, C1 CSI (U+009B) and markup, as a valid Swift string.
    static let hostileRoute = "/a\u{1B}[31mRED\u{1B}]0;title\u{07}\u{0}\u{9B}2J<i>x&y"
    /// Raw bytes no Swift string can hold: a stray 0xFF, ESC, an overlong NUL, UTF-8 C1 CSI, a surrogate, a
    /// lone continuation byte. profd repairs invalid UTF-8 to U+FFFD as it decodes.
    static let rawRouteBytes: [UInt8] = Array("/raw-".utf8) + [0xFF, 0x1B, 0x5B, 0x32, 0x4A, 0xC0, 0x80, 0xC2, 0x9B, 0xED, 0xA0, 0x80, 0x9B, 0x21]
    static let rawServiceBytes: [UInt8] = Array("svc-".utf8) + [0x1B, 0x5D, 0x30, 0x3B, 0x78, 0x07, 0xFF, 0xC2, 0x9B, 0x00]
    /// What profd makes of the raw bytes (the decoder's repair).
    static var repairedRawRoute: String { String(decoding: rawRouteBytes, as: UTF8.self) }

    /// How a command's output is checked.
    enum Output {
        /// Text (or JSON, HTML): valid UTF-8, no C0 control but tab, newline and CR, no C1 code point.
        case text
        /// A gzip file (pprof) written with --output: its string table is checked as text.
        case gzipFile
    }

    struct Command: CustomStringConvertible {
        var arguments: [String]
        var output: Output = .text
        var description: String { "profctl " + arguments.joined(separator: " ") }
    }

    /// Commands run while the session is open (they read the running daemon or its live files).
    static func runningCommands(_ d: Paths) -> [Command] {
        [
            Command(arguments: ["status", "--socket", d.socket]),
            Command(arguments: ["status", "--json", "--socket", d.socket]),
            Command(arguments: ["top", "--once", "--state-dir", d.state, "--socket", d.socket]),
            Command(arguments: ["follow", "--once", "-n", "20", "--state-dir", d.state]),
            Command(arguments: ["follow", "--once", "--json", "-n", "20", "--state-dir", d.state]),
            Command(arguments: ["follow", "--once", "--show-all", "-n", "20", "--state-dir", d.state]),
        ]
    }

    /// Commands run on the written session `id`.
    static func finishedCommands(_ d: Paths, id: String) -> [Command] {
        var commands = [
            Command(arguments: ["list", "--state-dir", d.state]),
            Command(arguments: ["list", "--json", "--state-dir", d.state]),
            Command(arguments: ["list", "--slowest", "10", "--state-dir", d.state]),
            Command(arguments: ["list", "--route", "/raw-*", "--state-dir", d.state]),
            Command(arguments: ["dump", "--format", "pprof", "--output", d.scratch + "/session.pb.gz", "--state-dir", d.state], output: .gzipFile),
            Command(arguments: ["dump", "--from-capture", "--format", "text", "--state-dir", d.state]),
            Command(arguments: ["dump", "--format", "text", "--show-all", "--state-dir", d.state]),
            // A route that is not there: the error message names it.
            Command(arguments: ["dump", "--route", "/nope\u{1B}[31m", "--state-dir", d.state]),
        ]
        for format in ["text", "json", "html", "speedscope", "folded"] {
            commands.append(Command(arguments: ["dump", "--format", format, "--state-dir", d.state]))
            commands.append(Command(arguments: ["dump", "--route", repairedRawRoute, "--format", format, "--state-dir", d.state]))
        }
        for format in ["text", "json", "html"] {
            commands.append(Command(arguments: ["dump", "--request", "1", "--format", format, "--state-dir", d.state]))
            commands.append(Command(arguments: ["dump", "--request", "3", "--format", format, "--state-dir", d.state]))
            commands.append(Command(arguments: ["diff", id, id, "--format", format, "--state-dir", d.state]))
            commands.append(Command(arguments: ["diff", id, id, "--route", repairedRawRoute, "--format", format, "--state-dir", d.state]))
        }
        return commands
    }

    struct Paths {
        var socket: String
        var state: String
        var scratch: String
    }

    /// `bytes` with the first occurrence of `placeholder` replaced by `replacement` (same length, so the
    /// frame's length fields stay right): how a test sends bytes that no Swift string can hold.
    private func splice(_ bytes: [UInt8], _ placeholder: String, _ replacement: [UInt8]) throws -> [UInt8] {
        let needle = Array(placeholder.utf8)
        precondition(needle.count == replacement.count)
        guard let start = (0...(bytes.count - needle.count)).first(where: { Array(bytes[$0..<$0 + needle.count]) == needle }) else {
            throw TestKitError("placeholder \(placeholder) not in the frame")
        }
        var result = bytes
        result.replaceSubrange(start..<start + needle.count, with: replacement)
        return result
    }

    private func placeholder(_ prefix: String, for bytes: [UInt8]) -> String {
        prefix + String(repeating: "Z", count: bytes.count - prefix.utf8.count)
    }

    /// Why `bytes` is not safe text, or nil: invalid UTF-8, a C0 control other than tab, newline and CR, or
    /// a C1 code point.
    static func textProblem(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "not valid UTF-8" }
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let value = scalar.value
            if (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || (0x80..<0xA0).contains(value) {
                return "raw control U+\(String(value, radix: 16, uppercase: true)) at scalar \(offset): …\(String(text.unicodeScalars.dropFirst(max(0, offset - 40)).prefix(80)).debugDescription)…"
            }
        }
        return nil
    }

    /// The text inside a binary file, where names are: capture.bin's JSON header ("PROFDCAP", UInt32
    /// version, UInt32 length, JSON), or a pprof profile's string table (field 6 of the top-level message).
    /// The rest is numbers, where any byte pattern may occur.
    static func textParts(ofBinary bytes: [UInt8], path: String) -> [[UInt8]]? {
        if path.hasSuffix("capture.bin") {
            guard bytes.count >= 16, Array(bytes[0..<8]) == Array("PROFDCAP".utf8) else { return nil }
            let length = bytes[12..<16].reversed().reduce(0) { $0 << 8 | Int($1) }
            guard 16 + length <= bytes.count else { return nil }
            return [Array(bytes[16..<16 + length])]
        }
        var strings: [[UInt8]] = []
        var position = 0
        func varint() -> Int? {
            var value = 0, shift = 0
            while position < bytes.count, shift < 64 {
                let byte = bytes[position]
                position += 1
                value |= Int(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while position < bytes.count {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1: position += 8
            case 5: position += 4
            case 2:
                guard let length = varint(), length >= 0, position + length <= bytes.count else { return nil }
                if key >> 3 == 6 { strings.append(Array(bytes[position..<position + length])) }
                position += length
            default: return nil
            }
        }
        return position == bytes.count ? strings : nil
    }

    /// `textProblem` of each text part of a binary file, or why it has none; the parts must hold the
    /// hostile function's name (so the check looked where the names are).
    static func binaryProblem(_ bytes: [UInt8], path: String) -> String? {
        guard let parts = textParts(ofBinary: bytes, path: path), !parts.isEmpty else { return "cannot find the text in \(path)" }
        guard parts.contains(where: { String(decoding: $0, as: UTF8.self).contains("hostile_fn_") }) else {
            return "the text of \(path) does not name the hostile function"
        }
        return parts.lazy.compactMap { textProblem($0) }.first
    }

    /// Every regular file under `directory`, with its name's raw bytes (names are untrusted too).
    static func files(under directory: String) -> [(path: String, name: [UInt8])] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [(String, [UInt8])] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            let text = String(decoding: name, as: UTF8.self)
            guard text != ".", text != ".." else { continue }
            let path = directory + "/" + text
            if entry.pointee.d_type == UInt8(DT_DIR) {
                found += files(under: path)
            } else {
                found.append((path, name))
            }
        }
        return found
    }

    /// Runs profctl with stdout and stderr in files; returns its exit code and both outputs' bytes.
    private func run(_ command: Command, scratch: String) throws -> (code: Int32, stdout: [UInt8], stderr: [UInt8]) {
        let out = scratch + "/stdout", err = scratch + "/stderr"
        let child = try ChildProcess("/bin/sh", ["-c", #"exec "$0" "$@" >"$OUT" 2>"$ERR""#, try TestExecutables.path(of: "profctl")] + command.arguments,
                                     environment: ["OUT=\(out)", "ERR=\(err)", "NO_COLOR=1"])
        while try child.readLine(timeoutMs: 60_000) != nil {}
        let code = child.waitForExit().exitCode
        return (code, TestFiles.bytes(out) ?? [], TestFiles.bytes(err) ?? [])
    }

    /// Runs every command and checks its stdout (or output file) and stderr.
    private func check(_ commands: [Command], scratch: String) throws {
        print("escaping: \(commands.count) profctl runs checked")
        for command in commands {
            let result = try run(command, scratch: scratch)
            let failed = command.arguments.contains("/nope\u{1B}[31m")
            #expect(failed ? result.code != 0 : result.code == 0, "\(command): exit \(result.code): \(String(decoding: result.stderr, as: UTF8.self))")
            #expect(Self.textProblem(result.stderr) == nil, "\(command) stderr: \(Self.textProblem(result.stderr) ?? "")")
            switch command.output {
            case .text:
                #expect(!result.stdout.isEmpty || failed, "\(command) printed nothing")
                #expect(Self.textProblem(result.stdout) == nil, "\(command): \(Self.textProblem(result.stdout) ?? "")")
            case .gzipFile:
                let path = try #require(command.arguments.firstIndex(of: "--output").map { command.arguments[$0 + 1] })
                let gunzip = try ChildProcess("/bin/sh", ["-c", #"exec gzip -dc "$0" >"$0.raw""#, path])
                #expect(gunzip.waitForExit().exitCode == 0, "\(path) is gzip")
                let raw = TestFiles.bytes(path + ".raw") ?? []
                #expect(raw.count > 100)
                #expect(Self.binaryProblem(raw, path: path) == nil, "\(command): \(Self.binaryProblem(raw, path: path) ?? "")")
            }
        }
    }

    @Test("every stored file and every profctl command's output is free of raw escapes, NUL, C1 and invalid UTF-8")
    func hostileNamesEverywhere() throws {
        let daemon = try DaemonHarness()
        let scratch = daemon.stateDirectory + "-scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let paths = Paths(socket: daemon.socketPath, state: daemon.stateDirectory, scratch: scratch)

        // Function names: the /raw- requests burn their CPU in a function whose symbol name is hostile.
        let hostile = try HostileSymbolLibrary(directory: scratch)

        let client = try RawConnection(path: daemon.socketPath)
        let servicePlaceholder = placeholder("svc-", for: Self.rawServiceBytes)
        client.send(try splice(ProfdMessage.hello(Hello(service: servicePlaceholder)).encoded, servicePlaceholder, Self.rawServiceBytes))
        guard case .message(.helloAck) = try client.receive() else { throw TestKitError("no helloAck") }
        // Every format, and every request kept (slow threshold 0), so requests/ and live/ hold them too.
        client.send(.startSession(StartSession(frequencyHz: 1000, options: SessionOptions(formats: 7, slowThresholdNs: 0))))
        guard case .message(.sessionStarted(let started)) = try client.receive() else { throw TestKitError("session did not start") }
        let id = started.sessionId

        let tid = UInt32(bitPattern: profd_gettid())
        let routePlaceholder = placeholder("/raw-", for: Self.rawRouteBytes)
        for spanId in UInt64(1)...4 {
            let raw = spanId % 2 == 1
            let begin = ProfdMessage.spanBegin(SpanBegin(spanId: spanId, threadId: tid, timeNs: profd_monotonic_ns(),
                                                         route: raw ? routePlaceholder : Self.hostileRoute)).encoded
            client.send(raw ? try splice(begin, routePlaceholder, Self.rawRouteBytes) : begin)
            if raw { hostile.burn(milliseconds: 150) } else { _ = integrationBurnAlpha(until: threadCPUNs() + 150_000_000) }
            client.send(.spanEnd(SpanEnd(spanId: spanId, threadId: tid, timeNs: profd_monotonic_ns(), httpStatus: raw ? 500 : 200)))
        }
        let liveDirectory = daemon.stateDirectory + "/live/" + id
        #expect(DaemonProbe.waitUntil(seconds: 30) { Self.files(under: liveDirectory).filter { $0.path.hasSuffix(".txt") }.count >= 4 },
                "the four kept requests are written live")
        try check(Self.runningCommands(paths), scratch: scratch)
        let liveFiles = Self.files(under: liveDirectory)

        client.send(.stopSession)
        guard case .message(.sessionStopped) = try client.receive() else { throw TestKitError("session did not stop") }

        // Every stored file: the session's reports in every format, its routes and kept requests, and the
        // live copies; file names too. capture.bin is binary: its JSON header is checked as text.
        let stored = Self.files(under: daemon.stateDirectory + "/sessions/" + id) + liveFiles
        let formats = Set(stored.map { ($0.path as NSString).pathExtension })
        print("escaping: \(stored.count) stored files checked, extensions \(formats.sorted())")
        #expect(formats.isSuperset(of: ["txt", "json", "html", "bin"]))
        #expect(stored.filter { $0.path.contains("/requests/") }.count >= 12, "4 kept requests × 3 formats")
        for file in stored {
            #expect(Self.textProblem(file.name) == nil, "file name \(file.path): \(Self.textProblem(file.name) ?? "")")
            guard let bytes = TestFiles.bytes(file.path) else { continue }  // a live file removed meanwhile
            let problem = file.path.hasSuffix(".bin") ? Self.binaryProblem(bytes, path: file.path) : Self.textProblem(bytes)
            #expect(problem == nil, "\(file.path): \(problem ?? "")")
        }

        // JSON parses and round-trips the names, escaped in the file; HTML shows them escaped.
        let session = try DaemonProbe.document(daemon.stateDirectory, session: id)
        #expect(Set((session.routes ?? []).map(\.route)) == [Self.hostileRoute, Self.repairedRawRoute])
        #expect(session.session.service == String(decoding: Self.rawServiceBytes, as: UTF8.self))
        let hostileFunction = session.functions.first { $0.function.hasPrefix("hostile_fn_") }
        #expect(hostileFunction?.function == HostileSymbolLibrary.repairedName, "the hostile symbol is a frame, its name repaired, not mangled")
        print("escaping: hostile function \(TerminalSafe.string(hostileFunction?.function ?? "missing")) with \(hostileFunction?.totalSamples ?? 0) samples")
        #expect((hostileFunction?.totalSamples ?? 0) > 100, "the /raw- requests' CPU is in the hostile function")
        let store = ReportStore(stateDirectory: daemon.stateDirectory)
        let json = String(decoding: try store.readFile(session: id, relativePath: "session.json"), as: UTF8.self)
        #expect(json.contains(#"/a\u001b[31mRED\u001b]0;title\u0007\u0000\u009b2J<i>x&y"#), "C0 and C1 controls escaped in the JSON text")
        let html = String(decoding: try store.readFile(session: id, relativePath: "session.html"), as: UTF8.self)
        #expect(!html.contains("<i>") && html.contains("&lt;i&gt;"), "markup in a route is shown, not interpreted")
        let text = String(decoding: try store.readFile(session: id, relativePath: "session.txt"), as: UTF8.self)
        #expect(text.contains(#"/a\u{1b}[31mRED\u{1b}]0;title\u{7}\u{0}\u{9b}2J<i>x&y"#), "text shows the route's escapes visibly")

        try check(Self.finishedCommands(paths, id: id), scratch: scratch)
        #expect(daemon.stop().exitCode == 0)
    }
}
