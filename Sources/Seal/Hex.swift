/// Lower-case hexadecimal: digests in URLs and manifests, blind-index tokens, client ids, test vectors.

public import Diagnostics
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Upper- or lower-case digits, an even number of them.
    public static func decode(_ string: String) throws(SealError) -> [UInt8] {
        let chars = Array(string.utf8)
        guard chars.count % 2 == 0 else {
            throw SealError(.invalidArgument, "A hex string has an odd number of digits (\(chars.count)).")
        }
        func value(_ c: UInt8) throws(SealError) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: throw SealError(.invalidArgument, "A hex string contains a non-hex character.")
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            out.append(try value(chars[i]) << 4 | value(chars[i + 1]))
            i += 2
        }
        return out
    }
}
