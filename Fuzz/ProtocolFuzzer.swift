// libFuzzer target for the protocol decoder (FrameDecoder). Built by Fuzz/build.sh, outside the core package,
// with `-sanitize=fuzzer,address`; run by `make fuzz` and `make fuzz-smoke`. See docs/fuzzing.md.
//
// Input layout: byte 0 is a control byte, the rest is the byte stream fed to the decoder.
//   control bit 7     decoder limit: set → maximumPayloadLength 32 (payloadTooLarge paths), clear → default
//   control bits 0-6  chunking seed: 0 → the whole stream in one append; otherwise chunk sizes 1...64 come
//                     from a generator seeded by it, so libFuzzer can vary the split independently of the bytes.
//
// Properties checked (any failure traps, and libFuzzer saves the input as a crash):
//   1. Nothing traps or touches memory it should not (ASan), whatever the bytes.
//   2. Round trip: every decoded message re-encodes to one frame that decodes to exactly that message.
//   3. Chunking does not matter: fed in chunks, the decoder yields the same messages and ends with the same
//      error (or none) as when fed the whole stream at once.
//   4. Bounded buffer: after draining, bufferedByteCount <= header + maximumPayloadLength + last chunk.
//   5. Once decodeNext() has thrown, the decoder is failed for good: decodeNext() and finish() rethrow the same
//      error and appended bytes are discarded. (finish() is non-mutating, so an error it throws is not sticky;
//      there it is only checked that a second finish() throws the same.)
import ProfdProtocol

/// What decoding one stream produced: its messages and how it ended.
struct Outcome: Equatable {
    var messages: [ProfdMessage] = []
    var error: ProtocolError?
}

/// SplitMix64, for chunk sizes.
struct ChunkSizes {
    var state: UInt64
    mutating func next() -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return 1 + Int((z ^ (z >> 31)) % 64)
    }
}

func failProperty(_ what: String) -> Never {
    fatalError("profd-protocol-fuzz property failed: \(what)")
}

/// Decodes `stream`, appending it in chunks (seed 0: all at once), checking properties 4 and 5 on the way.
func decode(_ stream: ArraySlice<UInt8>, limit: Int, chunkSeed: UInt8) -> Outcome {
    var decoder = FrameDecoder(maximumPayloadLength: limit)
    var sizes = ChunkSizes(state: UInt64(chunkSeed))
    var outcome = Outcome()
    var offset = stream.startIndex
    var finishing = false
    do {
        repeat {
            let chunk = chunkSeed == 0 ? stream.count : sizes.next()
            let end = min(offset + chunk, stream.endIndex)
            decoder.append(stream[offset..<end])
            offset = end
            while let message = try decoder.decodeNext() { outcome.messages.append(message) }
            if decoder.bufferedByteCount > ProtocolLimits.headerLength + decoder.maximumPayloadLength + chunk {
                failProperty("buffer holds \(decoder.bufferedByteCount) bytes after a \(chunk)-byte chunk")
            }
        } while offset < stream.endIndex
        finishing = true
        try decoder.finish()
    } catch {
        outcome.error = error
        if finishing {
            do {
                try decoder.finish()
                failProperty("a second finish() after \(error) did not throw")
            } catch let again {
                if again != error { failProperty("a second finish() after \(error) threw \(again)") }
            }
            return outcome
        }
        // Property 5: the decoder stays failed with the same error; appended bytes are discarded.
        decoder.append([0x50, 0x46, 0x01, 0x05, 0, 0, 0, 0])
        do {
            _ = try decoder.decodeNext()
            failProperty("decodeNext() after \(error) did not throw")
        } catch let again {
            if again != error { failProperty("decodeNext() after \(error) threw \(again)") }
        }
        do {
            try decoder.finish()
            failProperty("finish() after \(error) did not throw")
        } catch let again {
            if again != error { failProperty("finish() after \(error) threw \(again)") }
        }
        if error.description.isEmpty { failProperty("\(error.code) has an empty description") }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func profdProtocolFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let control = input[0]
    let limit = control & 0x80 != 0 ? 32 : ProtocolLimits.defaultMaximumPayloadLength
    let stream = input[1...]

    let chunked = decode(stream, limit: limit, chunkSeed: control & 0x7F)

    // Property 2: round trip of every decoded message.
    for message in chunked.messages {
        let frame = message.encoded
        var decoder = FrameDecoder()
        decoder.append(frame)
        do {
            guard let again = try decoder.decodeNext() else { failProperty("re-encoded \(message.type) does not decode") }
            try decoder.finish()
            if again != message {
                failProperty("round trip changed a \(message.type): decoded \(message), re-decoded \(again)")
            }
        } catch {
            failProperty("re-encoded \(message.type) fails to decode: \(error)")
        }
    }

    // Property 3: chunking does not change the outcome.
    if control & 0x7F != 0 {
        let whole = decode(stream, limit: limit, chunkSeed: 0)
        if whole != chunked {
            failProperty("chunked decoding gave \(chunked.messages.count) messages, error \(String(describing: chunked.error)); "
                         + "whole gave \(whole.messages.count), error \(String(describing: whole.error))")
        }
    }
    return 0
}
