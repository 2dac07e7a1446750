public import Foundation
internal import CSodium

/// SHA-256 (`crypto_hash_sha256`): content addresses of blobs and the body hash of signed
/// requests, where a digest any standard tool (`sha256sum`) can check is worth more than speed.
public struct SHA256: Sendable {
    public static let byteCount = Int(crypto_hash_sha256_BYTES)
    private var state = crypto_hash_sha256_state()

    public init() {
        Sodium.ensureInitialised()
        crypto_hash_sha256_init(&state)
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            _ = crypto_hash_sha256_update(&state, base.assumingMemoryBound(to: UInt8.self), UInt64(raw.count))
        }
    }

    public mutating func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        crypto_hash_sha256_final(&state, &out)
        return out
    }

    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finish()
    }

    /// Lower-case hex of the digest, the form used in URLs and manifests.
    public static func hex(_ bytes: some ContiguousBytes) -> String {
        hash(bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Hashes a file in 1 MiB chunks without holding it in memory.
    public static func hexOfFile(at url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw SealError(.io, "Cannot open \(url.path) to hash it.")
        }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { h.update(chunk) }
        return h.finish().map { String(format: "%02x", $0) }.joined()
    }
}
