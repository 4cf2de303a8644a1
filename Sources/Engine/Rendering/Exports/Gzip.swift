/// A gzip stream (RFC 1952) written in Swift, with no dependency: the data is compressed with one deflate
/// block of fixed Huffman codes and greedy LZ77 matching (RFC 1951 §3.2.6), or kept in stored blocks
/// (§3.2.4) when that is smaller, as for random bytes. Not zlib's ratio, but pprof's string tables and
/// repeated location lists shrink several-fold, and every gzip reader accepts it.
public enum Gzip {
    public static func wrap(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [
            0x1F, 0x8B,             // magic
            0x08,                   // CM = deflate
            0x00,                   // FLG: no name, comment or extra fields
            0x00, 0x00, 0x00, 0x00, // MTIME: none, so the output depends only on the input
            0x00,                   // XFL
            0x03,                   // OS = Unix
        ]
        let compressed = deflateFixed(data)
        if compressed.count < storedSize(data.count) {
            out += compressed
        } else {
            out += deflateStored(data)
        }
        appendLittleEndian(&out, crc32(data), bytes: 4)
        appendLittleEndian(&out, UInt32(truncatingIfNeeded: data.count), bytes: 4)
        return out
    }

    // MARK: stored blocks

    /// The largest stored block deflate allows.
    static let maxStoredBlock = 65_535

    static func storedSize(_ count: Int) -> Int {
        count + max(1, (count + maxStoredBlock - 1) / maxStoredBlock) * 5
    }

    /// Deflate data of uncompressed blocks.
    static func deflateStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(storedSize(data.count))
        var offset = 0
        repeat {
            let length = min(maxStoredBlock, data.count - offset)
            // BFINAL in bit 0, BTYPE = 00 (stored); the rest of the byte pads to the byte boundary.
            out.append(offset + length == data.count ? 0x01 : 0x00)
            appendLittleEndian(&out, UInt32(length), bytes: 2)
            appendLittleEndian(&out, UInt32(~UInt16(length)), bytes: 2)
            out.append(contentsOf: data[offset..<offset + length])
            offset += length
        } while offset < data.count
        return out
    }

    // MARK: fixed Huffman block

    private static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    private static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    private static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static let window = 32_768
    static let minMatch = 3
    static let maxMatch = 258
    static let maxChain = 64

    /// Deflate data of one final block with the fixed Huffman codes.
    static func deflateFixed(_ data: [UInt8]) -> [UInt8] {
        var bits = BitWriter()
        bits.write(1, count: 1)   // BFINAL
        bits.write(1, count: 2)   // BTYPE = 01, fixed Huffman
        let hashSize = 1 << 15
        var head = [Int](repeating: -1, count: hashSize)
        var previous = [Int](repeating: -1, count: window)
        func hash(_ i: Int) -> Int {
            (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & (hashSize - 1)
        }
        func insert(_ i: Int) {
            guard i + minMatch <= data.count else { return }
            let h = hash(i)
            previous[i & (window - 1)] = head[h]
            head[h] = i
        }
        var i = 0
        while i < data.count {
            var bestLength = 0, bestDistance = 0
            if i + minMatch <= data.count {
                var candidate = head[hash(i)]
                var chain = 0
                let limit = min(maxMatch, data.count - i)
                while candidate >= 0, i - candidate <= window, chain < maxChain {
                    if data[candidate + bestLength] == data[i + bestLength] || bestLength == 0 {
                        var length = 0
                        while length < limit && data[candidate + length] == data[i + length] { length += 1 }
                        if length > bestLength {
                            bestLength = length
                            bestDistance = i - candidate
                            if length == limit { break }
                        }
                    }
                    let next = previous[candidate & (window - 1)]
                    guard next < candidate else { break }
                    candidate = next
                    chain += 1
                }
            }
            if bestLength >= minMatch {
                writeLength(&bits, bestLength)
                writeDistance(&bits, bestDistance)
                for position in i..<i + bestLength { insert(position) }
                i += bestLength
            } else {
                writeLiteral(&bits, Int(data[i]))
                insert(i)
                i += 1
            }
        }
        writeLiteral(&bits, 256)   // end of block
        return bits.finish()
    }

    /// Writes a literal/length symbol (0...285) with its fixed Huffman code.
    private static func writeLiteral(_ bits: inout BitWriter, _ symbol: Int) {
        switch symbol {
        case 0...143: bits.writeCode(0x30 + symbol, count: 8)
        case 144...255: bits.writeCode(0x190 + symbol - 144, count: 9)
        case 256...279: bits.writeCode(symbol - 256, count: 7)
        default: bits.writeCode(0xC0 + symbol - 280, count: 8)
        }
    }

    private static func writeLength(_ bits: inout BitWriter, _ length: Int) {
        var code = lengthBase.count - 1
        while lengthBase[code] > length { code -= 1 }
        writeLiteral(&bits, 257 + code)
        bits.write(UInt64(length - lengthBase[code]), count: lengthExtra[code])
    }

    private static func writeDistance(_ bits: inout BitWriter, _ distance: Int) {
        var code = distanceBase.count - 1
        while distanceBase[code] > distance { code -= 1 }
        bits.writeCode(code, count: 5)
        bits.write(UInt64(distance - distanceBase[code]), count: distanceExtra[code])
    }

    /// Packs bits least significant first, as deflate does.
    struct BitWriter {
        private(set) var bytes: [UInt8] = []
        private var buffer: UInt64 = 0
        private var used = 0

        /// Writes the low `count` bits of `value`, least significant first (extra bits, headers).
        mutating func write(_ value: UInt64, count: Int) {
            guard count > 0 else { return }
            buffer |= (value & ((1 << UInt64(count)) - 1)) << UInt64(used)
            used += count
            while used >= 8 {
                bytes.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                used -= 8
            }
        }

        /// Writes a Huffman code, most significant bit first.
        mutating func writeCode(_ code: Int, count: Int) {
            var reversed: UInt64 = 0
            for bit in 0..<count { reversed |= UInt64((code >> bit) & 1) << UInt64(count - 1 - bit) }
            write(reversed, count: count)
        }

        /// The bytes, the last one padded with zero bits.
        mutating func finish() -> [UInt8] {
            if used > 0 { bytes.append(UInt8(truncatingIfNeeded: buffer)) }
            buffer = 0
            used = 0
            return bytes
        }
    }

    // MARK: CRC-32

    /// CRC-32 (ISO 3309 / ITU-T V.42, the polynomial gzip and zlib use).
    public static func crc32(_ data: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return ~crc
    }

    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func appendLittleEndian(_ out: inout [UInt8], _ value: UInt32, bytes: Int) {
        for index in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }
}
