/// Interns raw callchains so each distinct stack is stored and symbolized once.
///
/// A session at 1 kHz on a busy server sees millions of samples but only thousands of distinct stacks,
/// so samples keep a 32-bit stack id instead of their own address array.
public struct StackTable: Sendable {
    /// A distinct raw stack: user addresses leaf first (index 0 is the sampled IP), whether the sample
    /// fired while the thread was in the kernel, and the top stack words that may hold the leaf's return
    /// address (kept only when they point into code, so ordinary data does not multiply stacks).
    public struct Stack: Hashable, Sendable {
        public var addresses: [UInt64]
        public var inKernel: Bool
        public var stackWords: StackWords

        public init(addresses: [UInt64], inKernel: Bool, stackWords: StackWords = StackWords()) {
            self.addresses = addresses
            self.inKernel = inKernel
            self.stackWords = stackWords
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
