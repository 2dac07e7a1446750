public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a sealed file (format in SealedStream.swift) atomically: the bytes go to a temporary file
/// in the destination's folder; `commit()` seals the FINAL chunk, fsyncs, renames over `path` and
/// fsyncs the folder. Until then `path` is untouched; dropping the writer uncommitted removes the
/// temporary file. Use the `.fileSealing` subkey of the data key. Not thread-safe.
public final class SealedFileWriter {
    public let path: String
    private let temporaryPath: String
    private var fd: Int32
    private let encoder: SealedStreamEncoder
    private var committed = false

    public init(path: String, key: SecretBytes, chunkSize: Int = SealedStreamEncoder.defaultChunkSize,
                binding: SealedFileBinding? = nil) throws {
        encoder = try SealedStreamEncoder(key: key, chunkSize: chunkSize, binding: binding)
        self.path = path
        temporaryPath = path + ".tmp-" + Hex.encode(SecureRandom.bytes(count: 8))
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXFile.error("open", path: temporaryPath, what: "create a temporary file") }
    }

    public func write(_ bytes: some ContiguousBytes) throws {
        precondition(!committed, "SealedFileWriter.write after commit")
        // Feed large inputs in slices so the ciphertext held in memory stays bounded.
        let slice = Swift.max(encoder.chunkSize, 1 << 20)
        try bytes.withUnsafeBytes { raw in
            var start = 0
            repeat {
                let end = Swift.min(start + slice, raw.count)
                let sealed = encoder.update(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                try sealed.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: temporaryPath) }
                start = end
            } while start < raw.count
        }
    }

    public func commit() throws {
        precondition(!committed, "SealedFileWriter.commit called twice")
        let sealed = encoder.finish()
        try sealed.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: temporaryPath) }
        guard fsync(fd) == 0 else { throw POSIXFile.error("fsync", path: temporaryPath, what: "flush the sealed file") }
        guard close(fd) == 0 else {
            fd = -1
            throw POSIXFile.error("close", path: temporaryPath, what: "close the sealed file")
        }
        fd = -1
        guard rename(temporaryPath, path) == 0 else { throw POSIXFile.error("rename", path: path, what: "move the sealed file into place") }
        committed = true
        try POSIXFile.fsyncDirectory(POSIXFile.directory(of: path))
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
    }
}

/// Reads a sealed file chunk by chunk. `nextChunk()` returns plaintext as each chunk authenticates
/// and nil once the FINAL chunk has been read and the file has ended; any damage, truncation,
/// reordering or trailing bytes throw. Not thread-safe.
public final class SealedFileReader {
    public let path: String
    private let fd: Int32
    private let decoder: SealedStreamDecoder
    private var readBuffer: [UInt8]
    private var done = false

    public init(path: String, key: SecretBytes, expecting expectation: SealedStreamDecoder.Expectation = .unbound) throws {
        decoder = try SealedStreamDecoder(key: key, expecting: expectation)
        self.path = path
        readBuffer = [UInt8](repeating: 0, count: 64 << 10)
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXFile.error("open", path: path, what: "open the sealed file") }
    }

    public func nextChunk() throws -> [UInt8]? {
        while !done {
            let n = try readBuffer.withUnsafeMutableBytes { try POSIXFile.readSome(fd, $0, path: path) }
            if n == 0 {
                done = true
                let last = try decoder.finish()
                return last.isEmpty ? nil : last
            }
            let plaintext = try readBuffer.withUnsafeBytes { try decoder.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            if !plaintext.isEmpty { return plaintext }
        }
        return nil
    }

    /// The generation of a bound (version 2) file, once its header is read; nil for version 1.
    public var generation: UInt64? { decoder.generation }

    /// Reads the rest of the file; returns only if all of it authenticated and ended with FINAL.
    public func readToEnd() throws -> [UInt8] {
        var all: [UInt8] = []
        while let chunk = try nextChunk() { all.append(contentsOf: chunk) }
        return all
    }

    deinit { close(fd) }
}

/// Seals `data` into a new file at `path`, replacing any file there atomically.
public func sealFile(_ data: some ContiguousBytes, to path: String, key: SecretBytes, chunkSize: Int = SealedStreamEncoder.defaultChunkSize,
                     binding: SealedFileBinding? = nil) throws {
    let writer = try SealedFileWriter(path: path, key: key, chunkSize: chunkSize, binding: binding)
    try writer.write(data)
    try writer.commit()
}

/// Opens a whole sealed file; returns only if every chunk authenticated and the file ended with FINAL.
public func openSealedFile(at path: String, key: SecretBytes, expecting expectation: SealedStreamDecoder.Expectation = .unbound) throws -> [UInt8] {
    try SealedFileReader(path: path, key: key, expecting: expectation).readToEnd()
}

/// `openSealedFile`, with the generation of a bound file (nil for version 1).
public func openSealedFileWithGeneration(at path: String, key: SecretBytes,
                                         expecting expectation: SealedStreamDecoder.Expectation) throws -> (bytes: [UInt8], generation: UInt64?) {
    let reader = try SealedFileReader(path: path, key: key, expecting: expectation)
    let bytes = try reader.readToEnd()
    return (bytes, reader.generation)
}
