import Diagnostics
public import Seal
internal import CSodium
internal import Dispatch
internal import Foundation
internal import CMask

/// X25519 (`crypto_scalarmult`), used for the two per-round key pairs of SecAgg.
public enum X25519 {
    public static let keyByteCount = 32

    /// A key pair whose secret is 32 bytes drawn from `rng` (libsodium clamps when multiplying).
    public static func keyPair(using rng: inout some RandomNumberGenerator) -> (secret: SecretBytes, publicKey: [UInt8]) {
        var raw = rng.bytes(count: keyByteCount)
        let secret = SecretBytes(copying: raw)
        for i in raw.indices { raw[i] = 0 }
        return (secret, publicKey(secret: secret))
    }

    /// `crypto_scalarmult_base`.
    public static func publicKey(secret: SecretBytes) -> [UInt8] {
        precondition(secret.count == keyByteCount, "X25519 secret keys are 32 bytes")
        SodiumInit.ensure()
        var pk = [UInt8](repeating: 0, count: keyByteCount)
        secret.withUnsafeBytes { sk in
            _ = crypto_scalarmult_base(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return pk
    }

    /// False for a key of the wrong length or of low order (the all-zero point, the other points of
    /// order dividing 8 and their non-canonical encodings): every clamped scalar is a multiple of 8,
    /// so multiplying such a point gives the all-zero result, which libsodium refuses with −1. A
    /// server that accepted one would let its sender make every honest agreement fail.
    public static func isAcceptablePublicKey(_ key: some Collection<UInt8>) -> Bool {
        guard key.count == keyByteCount else { return false }
        SodiumInit.ensure()
        var q = [UInt8](repeating: 0, count: keyByteCount)
        let scalar = [UInt8](repeating: 0x5a, count: keyByteCount)
        return crypto_scalarmult(&q, scalar, Array(key)) == 0
    }

    /// `crypto_scalarmult`; refuses low-order peer keys (libsodium returns -1 for the all-zero result).
    public static func sharedSecret(secret: SecretBytes, peer: [UInt8]) throws -> [UInt8] {
        guard peer.count == keyByteCount, secret.count == keyByteCount else {
            throw FederationError(.invalidKey, "X25519 keys must be 32 bytes.")
        }
        SodiumInit.ensure()
        var q = [UInt8](repeating: 0, count: keyByteCount)
        let rc = secret.withUnsafeBytes { sk in
            crypto_scalarmult(&q, sk.baseAddress!.assumingMemoryBound(to: UInt8.self), peer)
        }
        guard rc == 0 else {
            throw FederationError(.invalidKey, "An X25519 public key has low order; the participant that sent it is excluded.")
        }
        return q
    }

    /// The 256-bit key two participants share for one round and one purpose:
    ///
    ///     BLAKE2b-256( T(label) ‖ T(q) ‖ id_lo ‖ T(pk_lo) ‖ id_hi ‖ T(pk_hi) ‖ round )
    ///
    /// with q = X25519(sk_self, pk_peer), "lo" the participant with the smaller id, ids UInt16 and
    /// round UInt64 big endian, T(x) = UInt32-BE length ‖ x (`Transcript`). Both sides get the same
    /// key; a different round, pair or purpose gives an unrelated one.
    /// The pairwise mask seed s_uv of `derivedKey` with label "pllm.secagg.v1.mask-seed".
    public static func pairwiseMaskSeed(secret: SecretBytes, ownID: ParticipantID, ownPublic: [UInt8],
                                        peerID: ParticipantID, peerPublic: [UInt8], round: UInt64) throws -> SecretBytes {
        try derivedKey(label: Label.pairMaskSeed, secret: secret, ownID: ownID, ownPublic: ownPublic, peerID: peerID, peerPublic: peerPublic, round: round)
    }

    /// The pairwise share-encryption key of `derivedKey` with label "pllm.secagg.v1.share-key".
    public static func pairwiseShareKey(secret: SecretBytes, ownID: ParticipantID, ownPublic: [UInt8],
                                        peerID: ParticipantID, peerPublic: [UInt8], round: UInt64) throws -> SecretBytes {
        try derivedKey(label: Label.pairShareKey, secret: secret, ownID: ownID, ownPublic: ownPublic, peerID: peerID, peerPublic: peerPublic, round: round)
    }

    static func derivedKey(label: String, secret: SecretBytes, ownID: UInt16, ownPublic: [UInt8],
                           peerID: UInt16, peerPublic: [UInt8], round: UInt64) throws -> SecretBytes {
        var q = try sharedSecret(secret: secret, peer: peerPublic)
        defer { for i in q.indices { q[i] = 0 } }
        var t = Transcript(label: label)
        t.appendBytes(q)
        let (loID, loPK, hiID, hiPK) = ownID < peerID ? (ownID, ownPublic, peerID, peerPublic) : (peerID, peerPublic, ownID, ownPublic)
        t.append(loID); t.appendBytes(loPK)
        t.append(hiID); t.appendBytes(hiPK)
        t.append(round)
        var digest = Blake2b.hash(t.bytes, outputByteCount: 32)
        t.wipe()
        defer { for i in digest.indices { digest[i] = 0 } }
        return SecretBytes(copying: digest)
    }
}

/// Expands a 32-byte seed into a mask of UInt32 words.
///
/// Word i of the mask is the little-endian UInt32 at bytes 4i…4i+3 of the chunk keystream
///
///     chunk c = crypto_stream_chacha20_ietf(4·chunkWords bytes, nonce = LE64(round) ‖ LE32(c), key = seed)
///
/// for c = ⌊i / chunkWords⌋, chunkWords = 2^16. Each chunk restarts the ChaCha20 block counter at 0
/// under its own nonce, so any chunk can be produced alone (and in parallel).
public enum MaskExpansion {
    public static let chunkWords = 1 << 16

    /// The first `count` words of the mask.
    public static func expand(seed: SecretBytes, round: UInt64, count: Int) -> [UInt32] {
        var out = [UInt32](repeating: 0, count: count)
        apply(seed: seed, round: round, sign: .add, to: &out)
        return out
    }

    public enum Sign: Sendable { case add, subtract }

    /// vector ← vector ± mask (mod 2^32).
    public static func apply(seed: SecretBytes, round: UInt64, sign: Sign, to vector: inout [UInt32]) {
        apply([(seed, sign)], round: round, to: &vector, workers: 1)
    }

    /// vector ← vector ± mask_1 ± mask_2 … (mod 2^32), chunk-major: each chunk of the vector
    /// stays in cache while every mask's keystream for that chunk is added, and chunks are spread
    /// over `workers` threads (the per-chunk nonces make them independent). The keystream is
    /// folded into the vector as it is made (`cmask_chacha20_accumulate`: AVX-512, AVX2 or
    /// portable C, picked at run time), never stored.
    public static func apply(_ masks: [(seed: SecretBytes, sign: Sign)], round: UInt64, to vector: inout [UInt32], workers: Int) {
        precondition(masks.allSatisfy { $0.seed.count == 32 }, "mask seeds are 32 bytes")
        let total = vector.count
        guard total > 0, !masks.isEmpty else { return }
        let chunkCount = (total + chunkWords - 1) / chunkWords
        let threads = Swift.max(1, Swift.min(workers, chunkCount))
        vector.withUnsafeMutableBufferPointer { acc in
            let shared = SharedBuffer(pointer: acc)
            let next = ChunkCounter()
            let work: @Sendable (Int) -> Void = { _ in
                var nonce = [UInt8](repeating: 0, count: 12)
                withUnsafeBytes(of: round.littleEndian) { for j in 0..<8 { nonce[j] = $0[j] } }
                while true {
                    let chunk = next.take()
                    guard chunk < chunkCount else { return }
                    let start = chunk * chunkWords
                    let n = Swift.min(chunkWords, total - start)
                    withUnsafeBytes(of: UInt32(chunk).littleEndian) { for j in 0..<4 { nonce[8 + j] = $0[j] } }
                    let part = shared.pointer.baseAddress! + start
                    for (seed, sign) in masks {
                        seed.withUnsafeBytes { key in
                            cmask_chacha20_accumulate(part, n, key.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce, 0,
                                                      sign == .subtract ? 1 : 0)
                        }
                    }
                }
            }
            if threads == 1 {
                work(0)
            } else {
                DispatchQueue.concurrentPerform(iterations: threads, execute: work)
            }
        }
    }

    /// The mask kernel this CPU runs ("avx512", "avx2" or "portable").
    public static var kernelName: String { String(cString: cmask_kernel_name()) }
}

/// Hands out chunk numbers to worker threads, each once.
private final class ChunkCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take() -> Int {
        lock.lock(); defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

/// Lets worker threads write disjoint chunks of one buffer.
private struct SharedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableBufferPointer<UInt32>
}
