/// Interns raw callchains so each distinct stack is stored and symbolized once.
///
/// A session at 1 kHz on a busy server sees millions of samples but only thousands of distinct stacks,
/// so samples keep a 32-bit stack id instead of their own address array.
public struct StackTable: Sendable {
    /// A distinct raw stack: user addresses leaf first (index 0 is the sampled IP), and whether the
    /// sample fired while the thread was in the kernel.
    public struct Stack: Hashable, Sendable {
        public var addresses: [UInt64]
        public var inKernel: Bool

        public init(addresses: [UInt64], inKernel: Bool) {
            self.addresses = addresses
            self.inKernel = inKernel
        }
    }

    public private(set) var stacks: [Stack] = []
    private var ids: [Stack: UInt32] = [:]

    public init() {}

    /// Returns the id of `stack`, adding it if it is new.
    public mutating func intern(_ stack: Stack) -> UInt32 {
        if let id = ids[stack] { return id }
        let id = UInt32(stacks.count)
        stacks.append(stack)
        ids[stack] = id
        return id
    }

    public var count: Int { stacks.count }

    public subscript(id: UInt32) -> Stack { stacks[Int(id)] }
}
