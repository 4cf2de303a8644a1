import Foundation
import ProfdProtocol
import Testing

/// `TerminalSafe.json`: JSONEncoder leaves C1 controls raw; the rewrite escapes them and nothing else.
@Suite("TerminalSafe.json")
struct TerminalSafeJSONTests {
    @Test("C1 controls become \\u00XX escapes and the document decodes to the same strings", arguments: [
        "\u{9B}2J", "a\u{80}b\u{9F}c", "\u{A0}é\u{100}Ā", "plain", "\u{C2}\u{9B}", "€ \u{1B}[31m \u{0}",
    ])
    func escapesC1Only(_ value: String) throws {
        let encoded = try JSONEncoder().encode([value])
        let escaped = TerminalSafe.json(encoded)
        let text = try #require(String(validating: escaped, as: UTF8.self))
        #expect(!text.unicodeScalars.contains { (0x80..<0xA0).contains($0.value) })
        #expect(try JSONDecoder().decode([String].self, from: Data(escaped)) == [value])
        let hasC1 = value.unicodeScalars.contains { (0x80..<0xA0).contains($0.value) }
        #expect(hasC1 || escaped == Array(encoded), "text without C1 is left byte for byte")
    }

    @Test("a trailing 0xC2 lead byte is kept")
    func trailingLeadByte() {
        #expect(TerminalSafe.json([0x22, 0xC2]) == [0x22, 0xC2])
        #expect(TerminalSafe.json([0xC2, 0x9B]) == Array(#"\u009b"#.utf8))
    }
}
