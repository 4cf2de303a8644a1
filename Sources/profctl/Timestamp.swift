import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Times profctl reads and prints: RFC 3339 (the reports' times), a few looser spellings of it for
/// `--since`/`--until`, and `-1h`-style durations before now. Everything is UTC; no time zone database.
enum Timestamp {
    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Seconds since the epoch of an RFC 3339 date or date-time: `2026-11-26`, `2026-11-26T11:17`,
    /// `2026-11-26T11:17:55Z`, `2026-11-26 11:17:55.123+01:00`. A time without an offset is UTC; a date
    /// alone is its midnight, UTC. Nil when `text` is none of these.
    static func parse(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        var position = 0
        func number(_ count: Int) -> Int? {
            guard position + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<(position + count)] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            position += count
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard position < bytes.count, bytes[position] == character.asciiValue else { return false }
            position += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        guard position < bytes.count else { return seconds }
        guard expect("T") || expect("t") || expect(" "), let hour = number(2), expect(":"), let minute = number(2),
              hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(":") {
            guard let second = number(2), second <= 60 else { return nil }
            seconds += Double(second)
            if expect(".") {
                var scale = 0.1
                let start = position
                while position < bytes.count, (0x30...0x39).contains(bytes[position]) {
                    seconds += Double(bytes[position] - 0x30) * scale
                    scale /= 10
                    position += 1
                }
                guard position > start else { return nil }
            }
        }
        guard position < bytes.count else { return seconds }
        if expect("Z") || expect("z") { return position == bytes.count ? seconds : nil }
        let sign: Double
        if expect("+") { sign = 1 } else if expect("-") { sign = -1 } else { return nil }
        guard let offsetHours = number(2), expect(":"), let offsetMinutes = number(2), position == bytes.count,
              offsetHours < 24, offsetMinutes < 60 else { return nil }
        return seconds - sign * Double(offsetHours * 3600 + offsetMinutes * 60)
    }

    /// A duration before now: `-90s`, `-30m`, `-1h`, `-2d`, `-1w`, or several (`-1h30m`). Nil otherwise.
    static func parseRelative(_ text: String) -> Double? {
        guard text.hasPrefix("-"), text.count > 1 else { return nil }
        var total = 0.0
        var value: Int?
        for character in text.dropFirst() {
            if let digit = character.wholeNumberValue, character.isASCII {
                value = (value ?? 0) * 10 + digit
                guard value! < 100_000_000 else { return nil }
                continue
            }
            let unit: Double
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            case "w": unit = 604_800
            default: return nil
            }
            guard let amount = value else { return nil }
            total += Double(amount) * unit
            value = nil
        }
        guard value == nil else { return nil }
        return total
    }

    /// Now, in seconds since the epoch.
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// `2026-11-26 11:17:55` from an RFC 3339 UTC time as the reports write it (`2026-11-26T11:17:55.123Z`);
    /// other spellings are shown as they are.
    static func short(_ rfc3339: String, milliseconds: Bool = false) -> String {
        let bytes = Array(rfc3339.utf8)
        guard bytes.count >= 19, bytes[10] == UInt8(ascii: "T"), rfc3339.hasSuffix("Z") else { return rfc3339 }
        var end = 19
        if milliseconds, bytes.count >= 23, bytes[19] == UInt8(ascii: ".") { end = 23 }
        var text = String(decoding: bytes[0..<end], as: UTF8.self)
        text = String(text.prefix(10)) + " " + String(text.dropFirst(11))
        return text
    }
}

/// A `--since`/`--until` value: an RFC 3339 date or time, `now`, or a duration before now (`-1h`).
struct TimeBound: ExpressibleByArgument {
    var seconds: Double
    var text: String

    init?(argument: String) {
        if argument == "now" {
            seconds = Timestamp.now()
        } else if let relative = Timestamp.parseRelative(argument) {
            seconds = Timestamp.now() - relative
        } else if let absolute = Timestamp.parse(argument) {
            seconds = absolute
        } else {
            return nil
        }
        text = argument
    }

    var defaultValueDescription: String { text }
}

/// Durations as `list` shows them.
enum DurationText {
    /// `850ms`, `12.3s`, `4m05s`, `2h03m`.
    static func session(_ ns: UInt64) -> String {
        let seconds = Double(ns) / 1e9
        if seconds < 1 { return "\(ns / 1_000_000)ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, (whole % 3600) / 60)
    }

    /// A request's wall time: `0.88ms`, `123.45ms`, `1.234s`, as the text reports write them.
    static func request(_ ns: UInt64) -> String {
        ns >= 1_000_000_000 ? String(format: "%.3fs", Double(ns) / 1e9) : String(format: "%.2fms", Double(ns) / 1e6)
    }
}
