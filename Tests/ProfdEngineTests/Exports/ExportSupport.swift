import Foundation
import Testing

/// Runs external checkers (python3 with jsonschema and gzip, gzip) for the export tests.
/// A missing tool fails the test with a message naming the package: nothing is skipped.
enum ExternalTool {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `arguments` through `/usr/bin/env` (so PATH finds the tool) with `input` on stdin.
    /// stdin, stdout and stderr are temporary files, so no pipe can fill up and block the child.
    static func run(_ arguments: [String], input: [UInt8] = []) throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("profd-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inURL = directory.appendingPathComponent("in"), outURL = directory.appendingPathComponent("out"),
            errURL = directory.appendingPathComponent("err")
        try Data(input).write(to: inURL)
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// Runs a python3 script; fails with a clear message if python3 or a module is missing.
    static func python(_ script: String, _ arguments: [String] = [], input: [UInt8] = [],
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let result = try run(["python3", "-c", script] + arguments, input: input)
        if result.status == 127 {
            Issue.record("python3 is not installed (apt-get install python3 python3-jsonschema)", sourceLocation: sourceLocation)
        } else if result.stderr.contains("ModuleNotFoundError") {
            Issue.record("a python3 module is missing (apt-get install python3-jsonschema): \(result.stderr)", sourceLocation: sourceLocation)
        }
        return result
    }

    /// Validates a speedscope file against the official schema kept in Tests/Fixtures.
    static let speedscopeSchemaPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/speedscope-file-format-schema.json").path

    static let validateSpeedscope = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft6Validator.check_schema(schema)
        document = json.load(sys.stdin)
        errors = sorted(jsonschema.Draft6Validator(schema).iter_errors(document), key=str)
        for error in errors:
            print(error.message, list(error.absolute_path))
        sys.exit(1 if errors else 0)
        """
}

/// Just enough of a protocol-buffers reader to check the pprof encoder's output.
struct ProtoMessage {
    enum Value { case varint(UInt64), bytes([UInt8]) }
    var fields: [(number: Int, value: Value)] = []

    init(_ bytes: [UInt8]) throws {
        var index = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard index < bytes.count, shift < 64 else { throw ProtoError() }
                let byte = bytes[index]; index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }
        while index < bytes.count {
            let key = try varint()
            switch key & 7 {
            case 0: fields.append((Int(key >> 3), .varint(try varint())))
            case 2:
                let length = Int(try varint())
                guard index + length <= bytes.count else { throw ProtoError() }
                fields.append((Int(key >> 3), .bytes(Array(bytes[index..<index + length]))))
                index += length
            default: throw ProtoError()
            }
        }
    }

    struct ProtoError: Error {}

    func varints(_ number: Int) -> [UInt64] {
        fields.compactMap { if $0.number == number, case .varint(let v) = $0.value { v } else { nil } }
    }
    func varint(_ number: Int) -> UInt64 { varints(number).last ?? 0 }
    func bytes(_ number: Int) -> [[UInt8]] {
        fields.compactMap { if $0.number == number, case .bytes(let b) = $0.value { b } else { nil } }
    }
    func messages(_ number: Int) throws -> [ProtoMessage] { try bytes(number).map(ProtoMessage.init) }
    func strings(_ number: Int) -> [String] { bytes(number).map { String(decoding: $0, as: UTF8.self) } }
    /// A packed repeated varint field.
    func packed(_ number: Int) throws -> [UInt64] {
        var result: [UInt64] = []
        for chunk in bytes(number) {
            var index = 0
            while index < chunk.count {
                var value: UInt64 = 0, shift: UInt64 = 0
                while true {
                    guard index < chunk.count else { throw ProtoError() }
                    let byte = chunk[index]; index += 1
                    value |= UInt64(byte & 0x7F) << shift
                    if byte & 0x80 == 0 { break }
                    shift += 7
                }
                result.append(value)
            }
        }
        return result + varints(number)
    }
}

extension Array where Element == UInt8 {
    /// Hex, 32 bytes a line: how binary goldens are stored.
    var hexLines: String {
        stride(from: 0, to: count, by: 32).map { start in
            self[start..<Swift.min(start + 32, count)].map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
