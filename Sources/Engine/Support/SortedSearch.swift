extension RandomAccessCollection where Index == Int {
    /// The number of leading elements whose `key` is at most `value`, in a collection sorted by `key`:
    /// the index just after the last such element (binary search).
    func countOfPrefix(withKey key: (Element) -> UInt64, atMost value: UInt64) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let mid = low + (high - low) / 2
            if key(self[mid]) <= value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
