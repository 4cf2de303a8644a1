import Foundation

/// Burns about `milliseconds` of CPU in this function's own frame.
@inline(never)
func burnCPUForUser(milliseconds: Int) -> UInt64 {
    burn(milliseconds: milliseconds, seed: 0x9E37_79B9_7F4A_7C15)
}

/// Burns about `milliseconds` of CPU, for the order items route.
@inline(never)
func burnCPUForOrderItems(milliseconds: Int) -> UInt64 {
    burn(milliseconds: milliseconds, seed: 0xC2B2_AE3D_27D4_EB4F)
}

@inline(__always)
private func burn(milliseconds: Int, seed: UInt64) -> UInt64 {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(milliseconds))
    var state = seed
    repeat {
        for _ in 0..<2_000 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
        }
    } while ContinuousClock.now < deadline
    return state
}
