import ProfdProtocol
import Testing

@Suite("FrameDecoder fuzzing")
struct FuzzTests {
    /// Produces one input: pure noise, a mutated stream of valid frames, or a valid header over random payload.
    static func input(_ rng: inout SeededGenerator, corpus: [[UInt8]]) -> [UInt8] {
        switch rng.next() % 4 {
        case 0:
            return (0..<Int(rng.next() % 64)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 1:
            let type = MessageType.v1.randomElement(using: &rng)!.rawValue
            let payload = (0..<Int(rng.next() % 48)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let announced: UInt32? = rng.next() % 3 == 0 ? UInt32(truncatingIfNeeded: rng.next() % 80) : nil
            return rawFrame(type: type, payload: payload, announcedLength: announced)
        default:
            var bytes: [UInt8] = []
            for _ in 0..<(1 + rng.next() % 3) { bytes += corpus.randomElement(using: &rng)! }
            for _ in 0..<(1 + rng.next() % 4) where !bytes.isEmpty {
                let index = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 5 {
                case 0: bytes[index] ^= UInt8(1) << (rng.next() % 8)
                case 1: bytes[index] = UInt8.random(in: 0...255, using: &rng)
                case 2: bytes.removeSubrange(index...)
                case 3: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                default: bytes[index] = [0x00, 0x7F, 0x80, 0xFF].randomElement(using: &rng)!
                }
            }
            return bytes
        }
    }

    @Test("200k random and mutated inputs never trap and never break invariants")
    func fuzz() {
        var rng = SeededGenerator(seed: 0x5046_0001)
        let corpus = sampleMessages.map(\.encoded)
        var decodedCount = 0, errorCount = 0, invariantFailures: [String] = []
        var codesSeen: Set<String> = []
        for iteration in 0..<200_000 {
            let bytes = Self.input(&rng, corpus: corpus)
            let limit = rng.next() % 4 == 0 ? 32 : 65_536
            var decoder = FrameDecoder(maximumPayloadLength: limit)
            var offset = 0
            do {
                while offset < bytes.count {
                    let chunk = 1 + Int(rng.next() % 16)
                    let end = min(offset + chunk, bytes.count)
                    decoder.append(bytes[offset..<end])
                    offset = end
                    while let message = try decoder.decodeNext() {
                        decodedCount += 1
                        // Whatever decodes must re-encode to a frame that decodes to the same message.
                        if (try? decodeAll(message.encoded)) != [message] {
                            invariantFailures.append("re-encode mismatch at iteration \(iteration)")
                        }
                    }
                    if decoder.bufferedByteCount > ProtocolLimits.headerLength + limit + chunk {
                        invariantFailures.append("buffer grew to \(decoder.bufferedByteCount) at iteration \(iteration)")
                    }
                }
                try decoder.finish()
            } catch {
                errorCount += 1
                codesSeen.insert(error.code.description)
                if error.description.isEmpty { invariantFailures.append("empty description") }
            }
        }
        #expect(invariantFailures.isEmpty, "\(invariantFailures.prefix(5))")
        #expect(decodedCount > 10_000)
        #expect(errorCount > 10_000)
        let allCodes: Set = ["truncated", "badMagic", "unsupportedVersion", "unknownMessageType", "payloadTooLarge", "malformed"]
        #expect(codesSeen == allCodes)
    }
}
