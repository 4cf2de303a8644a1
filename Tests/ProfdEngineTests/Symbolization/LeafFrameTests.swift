@testable import ProfdEngine
import Testing

@Suite("Leaf frame repair")
struct LeafFrameTests {
    static let framed: [UInt8] = [0x55, 0x48, 0x89, 0xE5, 0x48, 0x83, 0xEC, 0x10]            // push rbp; mov rbp, rsp; sub
    static let framedCET: [UInt8] = [0xF3, 0x0F, 0x1E, 0xFA, 0x55, 0x48, 0x89, 0xE5]         // endbr64; push rbp; mov rbp, rsp
    static let frameless: [UInt8] = [0x48, 0x8D, 0x04, 0x37, 0xC3, 0x90, 0x90, 0x90]         // lea rax, [rdi+rsi]; ret

    @Test("where the return address is, by prologue and position", arguments: [
        (framed, UInt64(0), UInt8(0x55), Optional(0)),      // before push rbp
        (framed, UInt64(1), UInt8(0x48), Optional(1)),      // after push, before mov
        (framed, UInt64(4), UInt8(0x48), nil as Int?),     // frame set up: the kernel's chain is right
        (framed, UInt64(40), UInt8(0xC3), Optional(0)),     // on the final ret
        (framedCET, UInt64(4), UInt8(0x55), Optional(0)),
        (framedCET, UInt64(5), UInt8(0x48), Optional(1)),
        (framedCET, UInt64(8), UInt8(0x48), nil as Int?),
        (frameless, UInt64(0), UInt8(0x48), Optional(0)),
        (frameless, UInt64(4), UInt8(0xC3), Optional(0)),
    ])
    func slots(prologue: [UInt8], offset: UInt64, instruction: UInt8, expected: Int?) {
        #expect(LeafFrame.returnAddressSlot(functionPrologue: prologue, offset: offset, instructionByte: instruction) == expected)
    }

    @Test("calls are recognised before a return address", arguments: [
        ([0x90, 0x90, 0xE8, 0x10, 0x00, 0x00, 0x00] as [UInt8], Optional(LeafFrame.Call.direct(displacement: 16))),
        ([0x90, 0x90, 0xE8, 0xF0, 0xFF, 0xFF, 0xFF], Optional(LeafFrame.Call.direct(displacement: -16))),
        ([0x90, 0x90, 0x90, 0x90, 0x90, 0xFF, 0xD0], Optional(LeafFrame.Call.indirect)),       // call rax
        ([0x90, 0x90, 0x90, 0x90, 0xFF, 0x50, 0x08], Optional(LeafFrame.Call.indirect)),       // call [rax+8]
        ([0x90, 0xFF, 0x15, 0x00, 0x10, 0x00, 0x00], Optional(LeafFrame.Call.indirect)),       // call [rip+disp32]
        ([0x90, 0x90, 0x90, 0x90, 0x90, 0xFF, 0xE0], nil),                                    // jmp rax is no call
        ([0x48, 0x89, 0xE5, 0x5D, 0x90, 0x90, 0x90], nil),
    ])
    func calls(bytes: [UInt8], expected: LeafFrame.Call?) {
        #expect(LeafFrame.call(endingWith: bytes) == expected)
    }

    @Test("PLT stubs are recognised")
    func pltStubs() {
        #expect(LeafFrame.isPLTStub([0xFF, 0x25, 0x12, 0x34, 0x00, 0x00, 0x66, 0x90]))
        #expect(LeafFrame.isPLTStub([0xF3, 0x0F, 0x1E, 0xFA, 0xF2, 0xFF, 0x25, 0x00]))
        #expect(!LeafFrame.isPLTStub([0x55, 0x48, 0x89, 0xE5, 0x90, 0x90, 0x90, 0x90]))
    }
}
