/// Sizes as profd's status line and profctl print them: `3.4 MiB`, `1023 B`.
public enum ByteCount {
    public static func human(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int(value * 10 + 0.5)
        return unit == 0 ? "\(n) B" : "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
