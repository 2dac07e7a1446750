public import Foundation
import Seal

/// The short form of the coordinator's Ed25519 key that people compare over another channel:
/// SHA-256 of the key, first 16 bytes, in groups of four hex digits. `pcoord key` prints it beside
/// the key; `pclient join` prints the pinned key's.
public enum KeyFingerprint {
    public static func of(_ key: Data) -> String {
        let hex = Hex.encode(SHA256.hash(key).prefix(16))
        return stride(from: 0, to: hex.count, by: 4).map { i in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return String(hex[start..<hex.index(start, offsetBy: 4)])
        }.joined(separator: ":")
    }
}
