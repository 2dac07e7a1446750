public import Foundation
internal import CSodium

/// A secret (key, passphrase, secret half of a key pair) in `sodium_malloc` memory: guard pages on
/// both sides, a canary, `mlock`ed where the OS allows (RLIMIT_MEMLOCK; failure to lock is silent),
/// wiped with `sodium_memzero` and freed on deinit. Immutable after initialisation, hence Sendable.
///
/// Each instance costs a few pages and mappings, so use it for keys and passphrases, not bulk data.
/// Equality is constant-time in the contents (`sodium_memcmp`); lengths are not secret. It is not
/// Hashable on purpose, and its descriptions never print the bytes.
public final class SecretBytes: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer
    public let count: Int

    /// Allocates `count` guarded bytes and lets `initialize` fill them. If `initialize` throws, the
    /// memory is wiped and freed before the error propagates.
    public init(count: Int, initializingWith initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        precondition(count >= 0, "negative byte count")
        Sodium.ensureInitialised()
        guard let raw = sodium_malloc(Swift.max(count, 1)) else {
            preconditionFailure("sodium_malloc(\(count)) failed: out of memory or out of memory mappings")
        }
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: raw, count: count))
        } catch {
            sodium_memzero(raw, Swift.max(count, 1))
            sodium_free(raw)
            throw error
        }
        pointer = raw
        self.count = count
    }

    /// `count` bytes from `randombytes_buf`.
    public convenience init(randomCount count: Int) {
        self.init(count: count) { SecureRandom.fill($0) }
    }

    /// Copies `bytes` into guarded memory. The source is not wiped: prefer initialisers that write
    /// the secret straight into guarded memory when the source is itself secret.
    public convenience init(copying bytes: some ContiguousBytes) {
        let count = bytes.withUnsafeBytes { $0.count }
        self.init(count: count) { destination in
            bytes.withUnsafeBytes { source in
                if count > 0 { destination.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: count) }
            }
        }
    }

    /// The UTF-8 bytes of `string`. Swift strings cannot be wiped, so this is for tests and for
    /// values that already live in ordinary memory anyway.
    public convenience init(utf8 string: String) {
        self.init(copying: Array(string.utf8))
    }

    deinit {
        sodium_memzero(pointer, Swift.max(count, 1))
        sodium_free(pointer)
    }

    /// Read access; the buffer's base address is never nil, even for zero bytes. Do not let the
    /// pointer escape, and do not copy the bytes into ordinary arrays unless you must.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// A new allocation holding `range` of these bytes.
    public func slice(_ range: Range<Int>) -> SecretBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice out of bounds")
        return SecretBytes(count: range.count) { destination in
            if range.count > 0 {
                destination.baseAddress!.copyMemory(from: pointer + range.lowerBound, byteCount: range.count)
            }
        }
    }
}

extension SecretBytes: Equatable {
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs === rhs { return true }
        return sodium_memcmp(lhs.pointer, rhs.pointer, lhs.count) == 0
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["count": count]) }
}
