import Diagnostics
public import Foundation

/// Where a sealed value lives. Its canonical encoding is the AEAD's associated data, so a sealed
/// value moved to another table, row, column or version fails to open.
///
/// Encoding (big-endian): `0x01` (encoding version) || u32 len || table UTF-8 || i64 rowID ||
/// u32 version || u32 len || column UTF-8. Every variable field is length-prefixed, so two distinct
/// values never encode to the same bytes. Strings are compared by their UTF-8 bytes here, not by
/// Swift's canonical equivalence: use ASCII identifiers.
public struct RecordAD: Hashable, Sendable {
    public var table: String
    public var rowID: Int64
    /// The row's version: bump it when re-sealing a row so an older ciphertext cannot be replayed
    /// into it by someone who can write the database file.
    public var version: UInt32
    /// The column, for rows with several sealed fields; "" when a row has one sealed value.
    public var column: String

    public init(table: String, rowID: Int64, version: UInt32 = 1, column: String = "") {
        self.table = table
        self.rowID = rowID
        self.version = version
        self.column = column
    }

    public var encoded: [UInt8] {
        var e = CanonicalEncoder()
        e.append(UInt8(1))
        e.appendLengthPrefixed(Array(table.utf8))
        e.append(UInt64(bitPattern: rowID))
        e.append(version)
        e.appendLengthPrefixed(Array(column.utf8))
        return e.bytes
    }
}

/// Seals values of the memory store: `nonce (24) || ciphertext || tag (16)` with
/// XChaCha20-Poly1305-IETF and a random nonce; `RecordAD` as associated data.
/// Use the `.recordSealing` subkey of the data key.
public struct RecordSealer: Sendable {
    /// Bytes added to every plaintext.
    public static let overhead = XChaCha.overhead

    private let key: SecretBytes

    public init(key: SecretBytes) throws {
        guard key.count == XChaCha.keyBytes else {
            throw SealError(.invalidKey, "A record key must be \(XChaCha.keyBytes) bytes, got \(key.count). Use DataKey.subkey(for: .recordSealing).")
        }
        self.key = key
    }

    public func seal(_ plaintext: some ContiguousBytes, associatedData: RecordAD) -> [UInt8] {
        let ad = associatedData.encoded
        return plaintext.withUnsafeBytes { p in ad.withUnsafeBytes { XChaCha.seal(p, ad: $0, key: key) } }
    }

    /// Throws `.authenticationFailed` on any tampering, a wrong key or wrong associated data, and
    /// `.malformedSealedData` when the input is too short to be sealed.
    public func open(_ sealed: some ContiguousBytes, associatedData: RecordAD) throws -> [UInt8] {
        let ad = associatedData.encoded
        return try sealed.withUnsafeBytes { s -> [UInt8] in
            guard s.count >= XChaCha.overhead else {
                throw SealError(.malformedSealedData, "A sealed record is \(s.count) bytes, shorter than the \(XChaCha.overhead)-byte minimum: the stored value is damaged.")
            }
            var ok = false
            let count = s.count - XChaCha.overhead
            let plaintext = [UInt8](unsafeUninitializedCapacity: count) { out, initialised in
                let exact = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[..<count])
                ok = ad.withUnsafeBytes { XChaCha.open(s, ad: $0, key: key, into: exact) }
                initialised = count
            }
            guard ok else {
                throw SealError(.authenticationFailed, "A sealed record did not authenticate: it was altered, moved from another row, or sealed under another key. Restore the store from a backup if this persists.")
            }
            return plaintext
        }
    }
}
