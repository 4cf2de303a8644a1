/// The demo's CPU work, in functions with names a reader can find in the report.

/// A random number from the system generator (`getrandom(2)` on Linux): the expensive half of /compute.
@inline(never)
func randomNumber() -> Int {
    Int.random(in: 0...100)
}

/// Adds two numbers: the cheap half of /compute, called exactly as often as `randomNumber()`.
@inline(never)
func addNumbers(_ a: Int, _ b: Int) -> Int {
    a &+ b
}

/// pyinstrument's classic example: two functions called equally often, with very different costs.
@inline(never)
func compute(iterations: Int) -> Int {
    var total = 0
    for _ in 0..<iterations {
        total = addNumbers(total, randomNumber())
    }
    return total
}

/// FNV-1a over a buffer, many rounds: /hash's CPU burn, in a function of its own.
@inline(never)
func hashPayload(rounds: Int) -> UInt64 {
    var payload = [UInt8](repeating: 0, count: 4096)
    for index in payload.indices { payload[index] = UInt8(truncatingIfNeeded: index &* 31) }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for round in 0..<rounds {
        payload[round % payload.count] &+= 1
        for byte in payload {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
    }
    return hash
}
