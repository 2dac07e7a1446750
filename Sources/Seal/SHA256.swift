import Diagnostics
public import Foundation
internal import Crypto

/// SHA-256: content addresses of blobs, the body hash of signed requests and the hash of the base
/// GGUF, where a digest any standard tool (`sha256sum`) can check is worth more than another hash's
/// speed. Computed by swift-crypto (BoringSSL), which uses the CPU's SHA extensions where it has
/// them: about 6× libsodium's portable `crypto_hash_sha256` on this machine, and these inputs run
/// to hundreds of megabytes.
public struct SHA256: Sendable {
    public static let byteCount = 32
    private var state = Crypto.SHA256()

    public init() {}

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { raw in
            guard raw.count > 0 else { return }
            state.update(bufferPointer: raw)
        }
    }

    public mutating func finish() -> [UInt8] {
        Array(state.finalize())
    }

    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finish()
    }

    /// Lower-case hex of the digest, the form used in URLs and manifests.
    public static func hex(_ bytes: some ContiguousBytes) -> String {
        Hex.encode(hash(bytes))
    }

    /// Hashes a file in 1 MiB chunks without holding it in memory.
    public static func hexOfFile(at url: URL) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw SealError(.io, "Cannot open \(url.path) to hash it.", remedy: "Check that the file exists and can be read.")
        }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { h.update(chunk) }
        return Hex.encode(h.finish())
    }
}
