internal import CSodium

/// libsodium must be initialised once before any other call; `sodium_init` is itself idempotent,
/// and Swift runs a static `let` initialiser exactly once, atomically, on first access.
enum Sodium {
    private static let initialised: Bool = {
        // 0: initialised now, 1: already initialised, -1: failure (no usable entropy source).
        sodium_init() >= 0
    }()

    @inline(__always)
    static func ensureInitialised() {
        precondition(initialised, "libsodium failed to initialise (sodium_init returned -1): no secure random source is available, so nothing can be sealed or opened.")
    }
}

/// Cryptographically secure random bytes (`randombytes_buf`).
public enum SecureRandom {
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "negative byte count")
        Sodium.ensureInitialised()
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            if let base = buffer.baseAddress, count > 0 { randombytes_buf(base, count) }
            initialised = count
        }
    }

    static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.ensureInitialised()
        if let base = buffer.baseAddress, buffer.count > 0 { randombytes_buf(base, buffer.count) }
    }
}
