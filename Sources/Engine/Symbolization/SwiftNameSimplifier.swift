/// Shortens a fully demangled Swift name to what a profile reader needs. Pure; never fails.
///
/// Rules, applied anywhere a word starts:
/// - dropped: `merged `, `specialized `, `static `, `(extension in M):`, ` with unmangled suffix "…"`, and
///   `generic [partial |pre-|not re-abstracted ]specialization <…> of `, `function signature specialization <…> of `;
/// - dropped: generic parameter lists and where clauses (`init<A where …>` → `init`), effects and the return
///   type after an argument list, the type after ` : ` (accessors such as `x.getter : Swift.Int`), and the
///   signature of a closure or local function (`closure #1 (Swift.Int) -> () in f()` → `closure #1 in f()`);
/// - argument lists become labels: `(_: Swift.Int, b: Swift.Int)` → `(_:b:)`, `(Swift.Int)` → `(_:)`;
/// - private discriminators go: `(helper in _2DF8…)` → `helper`, `T.(in _2DF8…).f` → `T.f`;
/// - `partial apply forwarder for ` becomes `partial apply for `; `reabstraction thunk helper …` becomes
///   `reabstraction thunk`; `protocol witness for R in conformance T : P in M` keeps `R` and `T`;
/// - kept as written: module-qualified names, `closure #N in`, `implicit closure #N in`,
///   `(N) suspend resume partial function for`, `(N) await resume partial function for`,
///   `async function pointer to`, `dispatch thunk of`, operators (`Swift.Int.== infix(_:_:)`).
/// A name whose brackets do not balance comes back unchanged. Apply it to Swift names only: it would also
/// rewrite a C++ signature such as `f(int)`.
public enum SwiftNameSimplifier {
    /// The short form of the demangled Swift name `name`.
    public static func simplify(_ name: String) -> String {
        var scanner = Scanner(Array(name.utf8))
        guard scanner.run() else { return name }
        return String(decoding: scanner.output, as: UTF8.self)
    }
}

private struct Scanner {
    static let droppedWords: [StaticString] = ["merged ", "specialized ", "static "]
    static let specializations: [StaticString] = [
        "generic specialization <", "generic partial specialization <", "function signature specialization <",
        "generic not re-abstracted specialization <", "generic pre-specialization <",
    ]
    /// True for the first bytes of `droppedWords` and `specializations`.
    static func startsDroppedWord(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "m"), UInt8(ascii: "s"), UInt8(ascii: "g"), UInt8(ascii: "f"): true
        default: false
        }
    }

    let input: [UInt8]
    var output: [UInt8] = []
    var position = 0
    var inConformance = false

    init(_ input: [UInt8]) {
        self.input = input
        output.reserveCapacity(input.count)
    }

    /// Transforms `input` into `output`; false when the brackets do not balance.
    mutating func run() -> Bool {
        var end = input.count
        if let suffix = find(" with unmangled suffix ", from: 0) { end = suffix }
        while position < end {
            let byte = input[position]
            let atWordStart = position == 0 || input[position - 1] == UInt8(ascii: " ")
            if atWordStart, Self.startsDroppedWord(byte), skipWordPrefixes() { continue }
            if atWordStart, byte == UInt8(ascii: "p"), matches("partial apply forwarder for ") {
                emit("partial apply for ")
                position += StaticString("partial apply forwarder for ").utf8CodeUnitCount
                continue
            }
            if atWordStart, byte == UInt8(ascii: "r"), matches("reabstraction thunk") {
                emit("reabstraction thunk")
                return true
            }
            if byte == UInt8(ascii: " "), matches(" in conformance ") {
                emit(" in conformance ")
                position += StaticString(" in conformance ").utf8CodeUnitCount
                inConformance = true
                continue
            }
            if byte == UInt8(ascii: " "), matches(" : ") {
                // In `conformance T : P in M` the protocol and module follow; elsewhere an accessor's type.
                if inConformance { return true }
                position = skipToContext(from: position, end: end)
                continue
            }
            switch byte {
            case UInt8(ascii: "("):
                if matches("(extension in ") {
                    guard let close = matchingClose(from: position, end: end) else { return false }
                    position = close + 1
                    if position < end, input[position] == UInt8(ascii: ":") { position += 1 }
                } else if endsWithIdentifier() {
                    guard let close = matchingClose(from: position, end: end) else { return false }
                    emitLabels(from: position + 1, to: close)
                    position = skipToContext(from: close + 1, end: end)
                } else if let close = matchingClose(from: position, end: end),
                          let name = privateDiscriminatorName(from: position + 1, to: close) {
                    output.append(contentsOf: name)
                    position = close + 1
                    // `T.(in _HASH).f` names nothing: drop it with one of the dots around it.
                    if name.isEmpty, output.last == UInt8(ascii: "."), position < end,
                       input[position] == UInt8(ascii: ".") {
                        position += 1
                    }
                } else {
                    output.append(byte)
                    position += 1
                }
            case UInt8(ascii: "<") where endsWithIdentifier() || output.last == UInt8(ascii: ">"):
                guard let close = matchingClose(from: position, end: end) else { return false }
                position = close + 1
            case UInt8(ascii: "<") where output.last == UInt8(ascii: " "):
                // A generic signature before a type: `for <A where A: P> T`, `conformance < where …> T`.
                guard let close = matchingClose(from: position, end: end) else { return false }
                position = close + 1
                if position < end, input[position] == UInt8(ascii: " ") { position += 1 }
            case UInt8(ascii: "["):
                guard let close = matchingClose(from: position, end: end) else { return false }
                output.append(contentsOf: input[position ... close])
                position = close + 1
            case UInt8(ascii: "#"):
                output.append(byte)
                position += 1
                let digitsStart = position
                while position < end, isDigit(input[position]) {
                    output.append(input[position])
                    position += 1
                }
                // `closure #1 (sig) -> R in …`, `local #1 (sig) in …`: drop the signature.
                if position > digitsStart, position + 1 < end, input[position] == UInt8(ascii: " "),
                   [UInt8(ascii: "("), UInt8(ascii: "@"), UInt8(ascii: "<")].contains(input[position + 1]) {
                    position = skipToContext(from: position, end: end)
                }
            default:
                output.append(byte)
                position += 1
            }
        }
        return true
    }

    /// Skips `merged `, `specialized `, `static ` and `… specialization <…> of `; true if one was skipped.
    private mutating func skipWordPrefixes() -> Bool {
        for word in Self.droppedWords where matches(word) {
            position += word.utf8CodeUnitCount
            return true
        }
        for word in Self.specializations where matches(word) {
            let open = position + word.utf8CodeUnitCount - 1
            // The demangler can print unbalanced brackets in a specialization's parameters (`Argument Types : [`),
            // so fall back to the first `> of ` when the brackets do not match.
            if let close = matchingClose(from: open, end: input.count), match(" of ", at: close + 1) {
                position = close + 5
            } else if let of = find("> of ", from: open) {
                position = of + 5
            } else {
                return false
            }
            return true
        }
        return false
    }

    /// Writes `(a:_:)` for the argument list in `start ..< end` (exclusive of the parentheses).
    private mutating func emitLabels(from start: Int, to end: Int) {
        output.append(UInt8(ascii: "("))
        if isLabelList(from: start, to: end) {  // already simplified: `(_:b:)`
            output.append(contentsOf: input[start ..< end])
            output.append(UInt8(ascii: ")"))
            return
        }
        var argumentStart = start
        var index = start
        var depth = 0
        func label(_ from: Int, _ to: Int) -> ArraySlice<UInt8>? {
            var i = from
            while i < to, input[i] == UInt8(ascii: " ") { i += 1 }
            guard i < to else { return nil }
            var j = i
            while j < to, isIdentifier(input[j]) { j += 1 }
            if j > i, j + 1 < to, input[j] == UInt8(ascii: ":"), input[j + 1] == UInt8(ascii: " ") { return input[i ..< j] }
            return [UInt8(ascii: "_")]
        }
        while index <= end {
            let byte = index < end ? input[index] : UInt8(ascii: ",")
            if index == end || (depth == 0 && byte == UInt8(ascii: ",")) {
                if let name = label(argumentStart, index) {
                    output.append(contentsOf: name)
                    output.append(UInt8(ascii: ":"))
                }
                argumentStart = index + 1
            } else {
                depth += depthChange(at: index)
            }
            index += 1
        }
        output.append(UInt8(ascii: ")"))
    }

    /// True for `a:_:b:` (labels, each followed by a colon, nothing else).
    private func isLabelList(from start: Int, to end: Int) -> Bool {
        guard start < end, input[end - 1] == UInt8(ascii: ":") else { return false }
        var previousWasColon = true
        for index in start ..< end {
            let byte = input[index]
            if byte == UInt8(ascii: ":") {
                if previousWasColon { return false }
                previousWasColon = true
            } else if isIdentifier(byte) {
                previousWasColon = false
            } else {
                return false
            }
        }
        return true
    }

    /// `helper` for `helper in _2DF8E098…` (a private discriminator), else nil.
    private func privateDiscriminatorName(from start: Int, to end: Int) -> ArraySlice<UInt8>? {
        let separator: Int
        if match("in _", at: start) {
            separator = start - 1  // `(in _HASH)`: an unnamed private context
        } else if let found = find(" in _", from: start), found < end, found > start {
            separator = found
        } else {
            return nil
        }
        let hash = input[(separator + 5) ..< end]
        guard !hash.isEmpty, hash.allSatisfy({ isDigit($0) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F")) })
        else { return nil }
        return separator < start ? [] : input[start ..< separator]
    }

    /// The index of the next top-level ` in ` (where a context follows) at or after `from`, else `end`.
    private func skipToContext(from: Int, end: Int) -> Int {
        var depth = 0
        var index = from
        while index < end {
            if depth == 0, match(" in ", at: index) { return index }
            depth = max(0, depth + depthChange(at: index))
            index += 1
        }
        return end
    }

    /// Index of the bracket closing the one at `open` (`(`, `[` or `<`), counting all three kinds.
    private func matchingClose(from open: Int, end: Int) -> Int? {
        var depth = 0
        var index = open
        while index < end {
            depth += depthChange(at: index)
            if depth == 0 { return index }
            if depth < 0 { return nil }
            index += 1
        }
        return nil
    }

    /// +1 for an opening bracket, -1 for a closing one; the `>` of `->` is not a bracket.
    private func depthChange(at index: Int) -> Int {
        switch input[index] {
        case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "<"): 1
        case UInt8(ascii: ")"), UInt8(ascii: "]"): -1
        case UInt8(ascii: ">"): index > 0 && input[index - 1] == UInt8(ascii: "-") ? 0 : -1
        default: 0
        }
    }

    private func endsWithIdentifier() -> Bool {
        guard let last = output.last else { return false }
        return isIdentifier(last)
    }

    private func isIdentifier(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "`") || byte >= 0x80
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private func matches(_ needle: StaticString) -> Bool { match(needle, at: position) }

    private func match(_ needle: StaticString, at index: Int) -> Bool {
        let count = needle.utf8CodeUnitCount
        guard index >= 0, count <= input.count - index else { return false }
        let bytes = needle.utf8Start
        for offset in 0 ..< count where input[index + offset] != bytes[offset] { return false }
        return true
    }

    private func find(_ needle: StaticString, from: Int) -> Int? {
        var index = from
        while index < input.count {
            if match(needle, at: index) { return index }
            index += 1
        }
        return nil
    }

    private mutating func emit(_ text: StaticString) {
        output.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
