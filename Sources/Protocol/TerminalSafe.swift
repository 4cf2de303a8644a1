/// Makes untrusted text (routes, symbol names, service names) safe to print on a terminal, for the client,
/// the daemon's renderers and profctl alike:
/// control characters, including ESC, become visible `\u{…}` escapes.
public enum TerminalSafe {
    public static func string(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x00..<0x20, 0x7F..<0xA0, 0x2028, 0x2029:
                result += "\\u{" + String(scalar.value, radix: 16) + "}"
            case 0x5C:
                result += "\\\\"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
