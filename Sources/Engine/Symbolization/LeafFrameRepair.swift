/// Puts back the caller that frame-pointer unwinding skips when the sampled function has no frame.
///
/// The kernel walks the `rbp` chain. A function that never sets up a frame (a small leaf compiled
/// without one), or is sampled in its prologue before `mov rbp, rsp` or on its final `ret`, still has
/// its caller's `rbp`, so the walk reports the caller's caller and the caller vanishes from the
/// stack. Its return address is then on top of the stack, which each sample captures (two words).
/// The repair inserts it when the leaf's code says the frame is absent and the word is a genuine
/// return address: the bytes before it are a call instruction.
enum LeafFrame {
    /// Where the leaf's return address is, given the first bytes of its function and the sampled
    /// instruction's offset into it: slot 0 (`[sp]`), slot 1 (`[sp + 8]`, after `push rbp`), or nil when the
    /// frame is set up and the kernel's chain is already right.
    static func returnAddressSlot(functionPrologue bytes: [UInt8], offset: UInt64, instructionByte: UInt8?) -> Int? {
        if instructionByte == 0xC3 { return 0 }  // `ret`: the frame is already gone
        let start = bytes.starts(with: [0xF3, 0x0F, 0x1E, 0xFA]) ? 4 : 0  // endbr64
        let framed = bytes.count >= start + 4 && bytes[start] == 0x55
            && Array(bytes[(start + 1)...(start + 3)]) == [0x48, 0x89, 0xE5]  // push rbp; mov rbp, rsp
        guard framed else { return 0 }
        if offset <= UInt64(start) { return 0 }
        if offset == UInt64(start + 1) { return 1 }
        return nil
    }

    enum Call: Equatable {
        /// `call rel32` to this displacement from the return address.
        case direct(displacement: Int32)
        /// `call` through a register or memory (FF /2); its target cannot be checked.
        case indirect
    }

    /// The x86-64 call instruction that the 7 bytes before a return address end with, if any.
    static func call(endingWith before: [UInt8]) -> Call? {
        guard before.count == 7 else { return nil }
        if before[2] == 0xE8 {
            let displacement = UInt32(before[3]) | UInt32(before[4]) << 8 | UInt32(before[5]) << 16 | UInt32(before[6]) << 24
            return .direct(displacement: Int32(bitPattern: displacement))
        }
        func indirect(_ at: Int) -> Bool { before[at] == 0xFF && (before[at + 1] >> 3) & 7 == 2 }
        return indirect(5) || indirect(4) || indirect(1) ? .indirect : nil
    }

    /// Whether code starts with a PLT stub's jump through the GOT (`jmp *rel(%rip)`, optionally after
    /// `endbr64` and with a `bnd` prefix): a direct call to it may reach any function.
    static func isPLTStub(_ code: [UInt8]) -> Bool {
        let body = code.starts(with: [0xF3, 0x0F, 0x1E, 0xFA]) ? Array(code.dropFirst(4)) : code
        return body.starts(with: [0xFF, 0x25]) || body.starts(with: [0xF2, 0xFF, 0x25])
    }
}

extension Symbolizer {
    /// `callchain` with the leaf's caller put back when unwinding skipped it (see `LeafFrame`).
    ///
    /// Reads a few code bytes from the mapped files; results are cached per address.
    @available(*, noasync, message: "may read binaries; call from a thread, not the cooperative pool")
    public func repairedCallchain(_ callchain: [UInt64], stackWords: StackWords, in maps: ProcessMaps) -> [UInt64] {
        guard let leaf = callchain.first, stackWords != StackWords() else { return callchain }
        guard let (slot, function) = returnAddressSlot(leaf, in: maps) else { return callchain }
        let candidate = stackWords[slot]
        guard candidate != 0, callchain.count < 2 || callchain[1] != candidate,
              isReturnAddress(candidate, calling: function, in: maps)
        else { return callchain }
        return [leaf, candidate] + callchain.dropFirst()
    }

    /// The stack slot of the leaf's return address and the runtime address of the leaf's function.
    private func returnAddressSlot(_ leaf: UInt64, in maps: ProcessMaps) -> (Int, UInt64)? {
        guard let key = addressKey(leaf, in: maps) else { return nil }
        // The cache holds the offset into the function, which (unlike runtime addresses) is the same in
        // every process that maps the file.
        if let cached = leafSlots[key] { return cached.map { ($0.0, leaf - $0.1) } }
        var slot: (Int, UInt64)?
        if let mapping = maps.mapping(containing: leaf), let table = symbolTable(for: mapping),
           let virtual = table.virtualAddress(forFileOffset: mapping.fileOffset(of: leaf)),
           let symbol = table.symbol(containing: virtual) {
            let offset = virtual - symbol.address
            let start = leaf - offset
            if let prologue = codeBytes(at: start, count: 8, in: maps),
               let instruction = codeBytes(at: leaf, count: 1, in: maps) {
                slot = LeafFrame.returnAddressSlot(functionPrologue: prologue, offset: offset, instructionByte: instruction.first)
                    .map { ($0, offset) }
            }
        }
        leafSlots[key] = .some(slot)
        return slot.map { ($0.0, leaf - $0.1) }
    }

    /// Whether `address` follows a call that can reach `function`: a direct call to it or to a PLT stub,
    /// or an indirect call. Anything else on the stack (saved registers, locals) is not a return address.
    private func isReturnAddress(_ address: UInt64, calling function: UInt64, in maps: ProcessMaps) -> Bool {
        guard let key = addressKey(address, in: maps) else { return false }
        let cacheKey = ReturnAddressKey(returnAddress: key, function: function)
        if let cached = returnAddressChecks[cacheKey] { return cached }
        var result = false
        if address >= 7, let before = codeBytes(at: address - 7, count: 7, in: maps) {
            switch LeafFrame.call(endingWith: before) {
            case .direct(let displacement):
                let target = UInt64(bitPattern: Int64(bitPattern: address) &+ Int64(displacement))
                result = target == function || codeBytes(at: target, count: 8, in: maps).map(LeafFrame.isPLTStub) == true
            case .indirect:
                result = true
            case nil:
                result = false
            }
        }
        returnAddressChecks[cacheKey] = result
        return result
    }
}
