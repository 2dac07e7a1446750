// GPT-2's byte <-> unicode table. Byte-level BPE vocabularies store every byte as a printable
// character, so that token strings never contain raw control bytes or spaces: the 188 bytes that
// are printable Latin-1 ('!'...'~', '¡'...'¬', '®'...'ÿ') stand for themselves and the other 68
// are numbered upwards from U+0100 in byte order (space 0x20 -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
package enum ByteLevel {
    static func isSelfMapped(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// `byteToScalar[b]` is the character that stands for byte `b` in token strings.
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isSelfMapped(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a token-string character stands for, or nil if it is not one of the 256.
    package static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if value < 256 {
            return isSelfMapped(Int(value)) ? UInt8(value) : nil
        }
        guard value < 256 + 68 else { return nil }
        return scalarToByteHigh[Int(value - 256)]
    }

    // Bytes for U+0100...U+0143, in order.
    private static let scalarToByteHigh: [UInt8] = (0..<256).filter { !isSelfMapped($0) }.map { UInt8($0) }

    /// The token string for a byte sequence (`"Hello world"` -> `"HelloĠworld"`).
    package static func encode<S: Sequence<UInt8>>(_ bytes: S) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(byteToScalar[Int(byte)]) }
        return String(scalars)
    }
}
