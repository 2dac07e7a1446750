import Diagnostics
public import Foundation
internal import CSodium

// Sealed stream format, versions 1 and 2 (all integers big-endian):
//  1. magic, 8 bytes: "PLLMSEAL"
//  2. format version, 1 byte: 1, or 2 for a file bound to a role and a generation
//  3. chunk size, 4 bytes: plaintext bytes per chunk, 1 ... 16 MiB
//  3b. (version 2 only) generation, 8 bytes: which write of the file this is (1, 2, …)
//  4. secretstream header, 24 bytes (crypto_secretstream_xchacha20poly1305_HEADERBYTES)
//  5. chunks, each `crypto_secretstream_xchacha20poly1305_push` output of a plaintext chunk plus
//     17 bytes (ABYTES): every chunk but the last holds exactly `chunk size` plaintext bytes and is
//     tagged MESSAGE; the last holds 0 ... `chunk size` bytes (0 only for an empty plaintext) and
//     is tagged FINAL. The associated data of every chunk is bytes 1-3 (13 bytes; version 1) or
//     bytes 1-3b followed by T("pllm.file.v2") ‖ T(role) (version 2; the role is not stored: the
//     reader supplies it), so a changed header, or a file read in another role, fails the first chunk.
// secretstream chains each chunk's nonce to the previous one, so reordered, dropped or duplicated
// chunks fail authentication; a missing FINAL chunk means the stream was cut.

enum SealedStreamFormat {
    static let magic = Array("PLLMSEAL".utf8)
    static let version: UInt8 = 1
    static let bindingVersion: UInt8 = 2
    static let streamHeaderBytes = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    /// Bytes before the secretstream header (magic, version, chunk size, and the generation in version 2).
    static func preambleBytes(version: UInt8) -> Int { 8 + 1 + 4 + (version == bindingVersion ? 8 : 0) }
    static func headerBytes(version: UInt8) -> Int { preambleBytes(version: version) + streamHeaderBytes }
    /// Version 1's header length.
    static let headerBytes = headerBytes(version: version)
    static let chunkOverhead = Int(crypto_secretstream_xchacha20poly1305_ABYTES)
    static let maximumChunkSize = 16 << 20
    static let tagMessage = UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    static let tagFinal = crypto_secretstream_xchacha20poly1305_tag_final()

    static func preamble(chunkSize: Int, binding: SealedFileBinding?) -> [UInt8] {
        var e = CanonicalEncoder()
        for b in magic { e.append(b) }
        e.append(binding == nil ? version : bindingVersion)
        e.append(UInt32(chunkSize))
        if let binding { e.append(binding.generation) }
        return e.bytes
    }

    /// The associated data of every chunk: the preamble, and in version 2 the role it was sealed for.
    static func associatedData(preamble: [UInt8], role: String?) -> [UInt8] {
        guard let role else { return preamble }
        var e = CanonicalEncoder()
        e.appendLengthPrefixed(Array("pllm.file.v2".utf8))
        e.appendLengthPrefixed(Array(role.utf8))
        return preamble + e.bytes
    }

    static func checkKey(_ key: SecretBytes) throws {
        guard key.count == Int(crypto_secretstream_xchacha20poly1305_KEYBYTES) else {
            throw SealError(.invalidKey, "A file-sealing key must be 32 bytes, got \(key.count). Use DataKey.subkey(for: .fileSealing).")
        }
    }
}

/// What a sealed file of version 2 is bound to: the role the reader must name (a personal adapter
/// cannot be opened as a profile), and its generation, stored in the header and authenticated, which
/// the owner compares with the generation it recorded, so an older copy of the file is recognised.
public struct SealedFileBinding: Sendable, Hashable {
    public var role: String
    public var generation: UInt64

    public init(role: String, generation: UInt64) {
        self.role = role
        self.generation = generation
    }
}

/// The secretstream state holds key material, so it lives in guarded memory and is wiped on deinit.
final class SecretStreamState {
    let pointer: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>
    private let size = MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size

    init() {
        Sodium.ensureInitialised()
        guard let raw = sodium_malloc(size) else { preconditionFailure("sodium_malloc failed: out of memory") }
        pointer = raw.bindMemory(to: crypto_secretstream_xchacha20poly1305_state.self, capacity: 1)
    }

    deinit {
        sodium_memzero(pointer, size)
        sodium_free(pointer)
    }
}

/// Incremental sealing without I/O: feed plaintext with `update`, end with `finish`, and write out
/// every returned byte in order (the header comes out of the first call). Not thread-safe.
public final class SealedStreamEncoder {
    public static let defaultChunkSize = 64 << 10

    public let chunkSize: Int
    private let state = SecretStreamState()
    private let preamble: [UInt8]
    /// The associated data of every chunk (the preamble, and the role when bound).
    private let associatedData: [UInt8]
    private var pendingHeader: [UInt8] = []
    private var buffer: [UInt8] = []
    private var finished = false

    /// With a `binding`, writes format version 2: bound to the role and carrying the generation.
    public init(key: SecretBytes, chunkSize: Int = SealedStreamEncoder.defaultChunkSize, binding: SealedFileBinding? = nil) throws {
        try SealedStreamFormat.checkKey(key)
        guard (1...SealedStreamFormat.maximumChunkSize).contains(chunkSize) else {
            throw SealError(.invalidArgument, "Chunk size \(chunkSize) is out of range 1...\(SealedStreamFormat.maximumChunkSize). Use the default (64 KiB).")
        }
        self.chunkSize = chunkSize
        preamble = SealedStreamFormat.preamble(chunkSize: chunkSize, binding: binding)
        associatedData = SealedStreamFormat.associatedData(preamble: preamble, role: binding?.role)
        var streamHeader = [UInt8](repeating: 0, count: SealedStreamFormat.streamHeaderBytes)
        let rc = key.withUnsafeBytes { k in
            crypto_secretstream_xchacha20poly1305_init_push(state.pointer, &streamHeader, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        precondition(rc == 0, "crypto_secretstream_xchacha20poly1305_init_push failed")
        pendingHeader = preamble + streamHeader
        buffer.reserveCapacity(chunkSize * 2)
    }

    /// Returns the sealed bytes ready so far (possibly none: a chunk is held back until it is known
    /// whether more data follows, so the last chunk can be tagged FINAL).
    public func update(_ plaintext: some ContiguousBytes) -> [UInt8] {
        precondition(!finished, "SealedStreamEncoder.update after finish")
        var out = takeHeader()
        plaintext.withUnsafeBytes { buffer.append(contentsOf: $0) }
        var start = 0
        while buffer.count - start > chunkSize {
            push(buffer[start..<start + chunkSize], tag: SealedStreamFormat.tagMessage, into: &out)
            start += chunkSize
        }
        if start > 0 { buffer.removeFirst(start) }
        return out
    }

    /// Seals what is left as the FINAL chunk and returns the last bytes of the stream.
    public func finish() -> [UInt8] {
        precondition(!finished, "SealedStreamEncoder.finish called twice")
        var out = takeHeader()
        push(buffer[...], tag: SealedStreamFormat.tagFinal, into: &out)
        buffer.removeAll()
        finished = true
        return out
    }

    private func takeHeader() -> [UInt8] {
        defer { pendingHeader = [] }
        return pendingHeader
    }

    private func push(_ chunk: ArraySlice<UInt8>, tag: UInt8, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: chunk.count + SealedStreamFormat.chunkOverhead))
        var written: UInt64 = 0
        let rc = out.withUnsafeMutableBytes { o in
            chunk.withUnsafeBytes { raw in
                withNonNull(raw) { m in
                    associatedData.withUnsafeBufferPointer { ad in
                        crypto_secretstream_xchacha20poly1305_push(
                            state.pointer, o.baseAddress!.assumingMemoryBound(to: UInt8.self) + start, &written,
                            m, UInt64(raw.count), ad.baseAddress!, UInt64(ad.count), tag)
                    }
                }
            }
        }
        precondition(rc == 0 && Int(written) == chunk.count + SealedStreamFormat.chunkOverhead, "crypto_secretstream_xchacha20poly1305_push failed")
    }
}

/// Incremental opening without I/O: feed sealed bytes with `update`, then call `finish` at end of
/// input. Plaintext comes out chunk by chunk as each authenticates, but the stream as a whole is
/// only known complete when `finish` returns: do not act on the data before that. Not thread-safe.
public final class SealedStreamDecoder {
    /// Which streams a decoder accepts: unbound ones (version 1), or ones bound to a role.
    public enum Expectation: Sendable {
        /// Version 1 only.
        case unbound
        /// Version 2 sealed for `role`, whose generation `accept` allows.
        case bound(role: String, accept: @Sendable (UInt64) -> Bool)
        /// Either: version 1, or version 2 sealed for `role` (any generation). For migrating files
        /// sealed before bindings existed.
        case boundOrLegacy(role: String)
    }

    private let key: SecretBytes
    private let expectation: Expectation
    private let state = SecretStreamState()
    private var associatedData: [UInt8] = []
    /// The generation in a version 2 header, once the header is read (nil for version 1).
    public private(set) var generation: UInt64?
    private var chunkSize = 0
    private var buffer: [UInt8] = []
    private var headerRead = false
    private var sawFinal = false
    private var chunkIndex = 0

    public init(key: SecretBytes, expecting expectation: Expectation = .unbound) throws {
        try SealedStreamFormat.checkKey(key)
        self.key = key
        self.expectation = expectation
    }

    /// Returns the plaintext of every chunk completed by these bytes.
    public func update(_ sealed: some ContiguousBytes) throws -> [UInt8] {
        sealed.withUnsafeBytes { buffer.append(contentsOf: $0) }
        if sawFinal, !buffer.isEmpty { throw trailingDataError }
        if !headerRead {
            guard let needed = headerLength(), buffer.count >= needed else { return [] }
            try readHeader()
        }
        var out: [UInt8] = []
        let full = chunkSize + SealedStreamFormat.chunkOverhead
        var start = 0
        while buffer.count - start >= full, !sawFinal {
            try pull(buffer[start..<start + full], into: &out)
            start += full
        }
        buffer.removeFirst(start)
        if sawFinal, !buffer.isEmpty { throw trailingDataError }
        return out
    }

    /// Call at end of input: opens the last, shorter chunk if any and checks the stream ended with
    /// its FINAL chunk. Returns the remaining plaintext.
    public func finish() throws -> [UInt8] {
        if sawFinal {
            guard buffer.isEmpty else { throw trailingDataError }
            return []
        }
        guard headerRead || (headerLength().map { buffer.count >= $0 } ?? false) else {
            throw SealError(.sealedFileTruncated, "The sealed file ends inside its header (\(buffer.count) bytes): it was cut short. Restore it from a backup.")
        }
        if !headerRead { try readHeader() }
        guard buffer.count >= SealedStreamFormat.chunkOverhead else { throw truncatedError }
        var out: [UInt8] = []
        try pull(buffer[...], into: &out)
        buffer.removeAll()
        guard sawFinal else { throw truncatedError }
        return out
    }

    /// The header's length once its version byte is buffered (nil before; version 1's for a version
    /// this build does not know, so that `readHeader` names the problem).
    private func headerLength() -> Int? {
        guard buffer.count > 8 else { return nil }
        return SealedStreamFormat.headerBytes(version: buffer[8])
    }

    private func readHeader() throws {
        guard buffer.starts(with: SealedStreamFormat.magic) else {
            throw SealError(.sealedFileHeader, "This is not a sealed file (wrong magic bytes). Check the path.")
        }
        let version = buffer[8]
        guard version == SealedStreamFormat.version || version == SealedStreamFormat.bindingVersion else {
            throw SealError(.unsupportedVersion, "The sealed file has format version \(version); this build reads versions 1 and 2. Use a newer build.")
        }
        let header = Array(buffer[..<SealedStreamFormat.headerBytes(version: version)])
        let size = header[9..<13].reduce(0) { $0 << 8 | Int($1) }
        guard (1...SealedStreamFormat.maximumChunkSize).contains(size) else {
            throw SealError(.sealedFileHeader, "The sealed file's header declares a chunk size of \(size) bytes, which is out of range: the header is damaged.")
        }
        let preambleBytes = SealedStreamFormat.preambleBytes(version: version)
        let role: String?
        switch (expectation, version == SealedStreamFormat.bindingVersion) {
        case (.unbound, false), (.boundOrLegacy, false):
            role = nil
        case (.bound(let r, _), true), (.boundOrLegacy(let r), true):
            role = r
            generation = header[13..<21].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        case (.unbound, true):
            throw SealError(.sealedFileHeader, "The sealed file is bound to a role (format version 2) where an unbound one was expected: it is not the file asked for.")
        case (.bound(let r, _), false):
            throw SealError(.sealedFileRolledBack, "The sealed \(r) file has format version 1, from before this home recorded its files' versions: it may be an older copy put back. Restore the current file, or remove it and rebuild it.")
        }
        let rc = key.withUnsafeBytes { k in
            header.withUnsafeBufferPointer { h in
                crypto_secretstream_xchacha20poly1305_init_pull(state.pointer, h.baseAddress! + preambleBytes,
                                                                k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard rc == 0 else {
            throw SealError(.sealedFileHeader, "The sealed file's stream header is invalid: the header is damaged.")
        }
        associatedData = SealedStreamFormat.associatedData(preamble: Array(header[..<preambleBytes]), role: role)
        chunkSize = size
        headerRead = true
        buffer.removeFirst(header.count)
    }

    /// Checks the generation once the first chunk has authenticated it (so a forged header number is
    /// reported as damage, not as a rollback).
    private func checkGeneration() throws {
        guard case .bound(let role, let accept) = expectation, let generation, !accept(generation) else { return }
        throw SealError(.sealedFileRolledBack, "The sealed \(role) file is generation \(generation), which is not the one this home recorded: it is an older (or another) copy put back. Restore the current file, or remove it and rebuild it.")
    }

    private func pull(_ chunk: ArraySlice<UInt8>, into out: inout [UInt8]) throws {
        let plainCount = chunk.count - SealedStreamFormat.chunkOverhead
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: plainCount))
        var written: UInt64 = 0
        var tag: UInt8 = 0
        let rc = out.withUnsafeMutableBytes { o in
            withNonNullMutable(UnsafeMutableRawBufferPointer(rebasing: o[start...])) { m in
                chunk.withUnsafeBufferPointer { c in
                    associatedData.withUnsafeBufferPointer { ad in
                        crypto_secretstream_xchacha20poly1305_pull(
                            state.pointer, m, &written, &tag,
                            c.baseAddress!, UInt64(c.count), ad.baseAddress!, UInt64(ad.count))
                    }
                }
            }
        }
        guard rc == 0, Int(written) == plainCount else {
            throw SealError(.sealedFileCorrupted, "Chunk \(chunkIndex) of the sealed file did not authenticate: the file was altered, reordered, cut, or sealed under another key. Restore it from a backup.")
        }
        chunkIndex += 1
        if chunkIndex == 1 { try checkGeneration() }
        if tag == SealedStreamFormat.tagFinal {
            sawFinal = true
        } else if tag != SealedStreamFormat.tagMessage {
            throw SealError(.sealedFileCorrupted, "Chunk \(chunkIndex - 1) of the sealed file has an unexpected tag \(tag): it was not written by this program.")
        }
    }

    private var truncatedError: SealError {
        SealError(.sealedFileTruncated, "The sealed file ends before its final chunk (after \(chunkIndex) chunks): it was cut short. Restore it from a backup.")
    }

    private var trailingDataError: SealError {
        SealError(.sealedFileTrailingData, "The sealed file has bytes after its final chunk: it was altered. Restore it from a backup.")
    }
}
