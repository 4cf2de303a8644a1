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

extension TerminalSafe {
    /// JSON text with every C1 control (U+0080–U+009F) written as a `\u00XX` escape.
    ///
    /// JSONEncoder escapes only C0 controls, but a raw U+009B is a CSI to terminals that honour C1 controls
    /// in UTF-8, and JSON reports and documents are printed by profctl. In UTF-8 these code points are the
    /// byte pairs C2 80…C2 9F (0xC2 is never a continuation byte), and in JSON text they can only stand
    /// inside strings, so the escaped document decodes to the same value.
    public static func json(_ encoded: some Collection<UInt8>) -> [UInt8] {
        guard encoded.contains(0xC2) else { return Array(encoded) }  // no U+0080…U+00BF at all: the common case
        var result: [UInt8] = []
        result.reserveCapacity(encoded.count)
        var pendingLead = false
        for byte in encoded {
            if pendingLead {
                pendingLead = false
                if (0x80..<0xA0).contains(byte) {
                    result += Array("\\u00".utf8) + hexDigits(byte)
                    continue
                }
                result.append(0xC2)
            }
            if byte == 0xC2 { pendingLead = true } else { result.append(byte) }
        }
        if pendingLead { result.append(0xC2) }
        return result
    }

    private static func hexDigits(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }
}
