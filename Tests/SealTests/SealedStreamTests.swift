import Diagnostics
import Foundation
import Testing
@testable import Seal

@Suite struct SealedStreamTests {
    let key = DataKey.generate().subkey(for: .fileSealing)

    func seal(_ plaintext: [UInt8], chunkSize: Int, feeds: Int = 1) throws -> [UInt8] {
        let encoder = try SealedStreamEncoder(key: key, chunkSize: chunkSize)
        var out: [UInt8] = []
        let step = max(1, plaintext.count / feeds)
        var start = 0
        while start < plaintext.count {
            let end = min(start + step, plaintext.count)
            out += encoder.update(Array(plaintext[start..<end]))
            start = end
        }
        return out + encoder.finish()
    }

    func open(_ sealed: [UInt8], key: SecretBytes? = nil, feed: Int = 1000) throws -> [UInt8] {
        let decoder = try SealedStreamDecoder(key: key ?? self.key)
        var out: [UInt8] = []
        var start = 0
        while start < sealed.count {
            let end = min(start + feed, sealed.count)
            out += try decoder.update(Array(sealed[start..<end]))
            start = end
        }
        return out + (try decoder.finish())
    }

    /// The byte ranges of the header and of each chunk of a stream sealed with `chunkSize`.
    func chunkRanges(of sealed: [UInt8], chunkSize: Int) -> [Range<Int>] {
        let full = chunkSize + SealedStreamFormat.chunkOverhead
        var ranges: [Range<Int>] = []
        var start = SealedStreamFormat.headerBytes
        while start < sealed.count {
            let end = min(start + full, sealed.count)
            ranges.append(start..<end)
            start = end
        }
        return ranges
    }

    @Test(arguments: [0, 1, 15, 16, 17, 48, 100, 1000])
    func roundTrips(length: Int) throws {
        let plaintext = SecureRandom.bytes(count: length)
        for feeds in [1, 3, 7] {
            let sealed = try seal(plaintext, chunkSize: 16, feeds: feeds)
            let chunks = max(1, (length + 15) / 16)
            #expect(sealed.count == SealedStreamFormat.headerBytes + length + chunks * SealedStreamFormat.chunkOverhead)
            for feed in [1, 5, 33, 100_000] {
                #expect(try open(sealed, feed: feed) == plaintext)
            }
        }
    }

    @Test func emptyPlaintextIsHeaderPlusOneFinalChunk() throws {
        let sealed = try seal([], chunkSize: 64 << 10)
        #expect(sealed.count == 37 + 17)
        #expect(Array(sealed[..<8]) == Array("PLLMSEAL".utf8))
        #expect(try open(sealed) == [])
    }

    @Test func everyTruncationFails() throws {
        let plaintext = SecureRandom.bytes(count: 70)
        let sealed = try seal(plaintext, chunkSize: 16)
        let boundaries = Set(chunkRanges(of: sealed, chunkSize: 16).map(\.lowerBound))
        #expect(boundaries.count == 5)
        for length in 0..<sealed.count {
            let error = sealError { _ = try open(Array(sealed[..<length])) }
            #expect(error != nil, "truncation at \(length) was accepted")
            if boundaries.contains(length) || length < SealedStreamFormat.headerBytes {
                #expect(error?.code == .sealedFileTruncated, "truncation at boundary \(length)")
            } else {
                #expect(error?.code == .sealedFileCorrupted || error?.code == .sealedFileTruncated)
            }
        }
    }

    @Test func everyByteFlipFails() throws {
        let sealed = try seal(SecureRandom.bytes(count: 40), chunkSize: 16)
        for i in sealed.indices {
            var tampered = sealed
            tampered[i] ^= 0x01
            #expect(sealError { _ = try open(tampered) } != nil, "flip at \(i) was accepted")
        }
    }

    @Test func reorderedDroppedAndDuplicatedChunksFail() throws {
        let sealed = try seal(SecureRandom.bytes(count: 64), chunkSize: 16)
        let header = Array(sealed[..<SealedStreamFormat.headerBytes])
        let chunks = chunkRanges(of: sealed, chunkSize: 16).map { Array(sealed[$0]) }
        #expect(chunks.count == 4)
        let variants: [[[UInt8]]] = [
            [chunks[1], chunks[0], chunks[2], chunks[3]],   // swap
            [chunks[0], chunks[2], chunks[1], chunks[3]],
            [chunks[0], chunks[2], chunks[3]],              // drop a middle chunk
            [chunks[1], chunks[2], chunks[3]],              // drop the first
            [chunks[0], chunks[0], chunks[1], chunks[2], chunks[3]], // duplicate
            [chunks[0], chunks[1], chunks[2], chunks[3], chunks[3]],
        ]
        for variant in variants {
            let error = sealError { _ = try open(header + variant.flatMap { $0 }) }
            #expect(error?.code == .sealedFileCorrupted || error?.code == .sealedFileTrailingData)
        }
        #expect(try open(header + chunks.flatMap { $0 }) == Array(try open(sealed)))
    }

    @Test func trailingBytesWrongKeyAndForeignHeadersFail() throws {
        let sealed = try seal(Array("hello".utf8), chunkSize: 16)
        // After a short final chunk, extra bytes make that chunk fail; after a full one, they are trailing data.
        #expect(sealError { _ = try open(sealed + [0]) }?.code == .sealedFileCorrupted)
        let fullFinal = try seal(SecureRandom.bytes(count: 32), chunkSize: 16)
        #expect(sealError { _ = try open(fullFinal + [0]) }?.code == .sealedFileTrailingData)
        #expect(sealError { _ = try open(fullFinal + fullFinal) }?.code == .sealedFileTrailingData)
        #expect(sealError { _ = try open(sealed, key: SecretBytes(randomCount: 32)) }?.code == .sealedFileCorrupted)
        var badMagic = sealed; badMagic[0] = UInt8(ascii: "X")
        #expect(sealError { _ = try open(badMagic) }?.code == .sealedFileHeader)
        var badVersion = sealed; badVersion[8] = 3
        #expect(sealError { _ = try open(badVersion) }?.code == .unsupportedVersion)
        var badChunkSize = sealed; badChunkSize[12] = 17
        #expect(sealError { _ = try open(badChunkSize) }?.code == .sealedFileCorrupted)
        #expect(sealError { _ = try SealedStreamEncoder(key: key, chunkSize: 0) }?.code == .invalidArgument)
        #expect(sealError { _ = try SealedStreamDecoder(key: SecretBytes(randomCount: 16)) }?.code == .invalidKey)
    }
}

@Suite struct SealedFileTests {
    let key = DataKey.generate().subkey(for: .fileSealing)

    @Test func multiChunkFileRoundTripsAtomically() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let path = folder.file("adapter.sealed")
        let plaintext = SecureRandom.bytes(count: 3 * 65536 + 1234)
        try sealFile(plaintext, to: path, key: key)
        #expect(try folder.contents() == ["adapter.sealed"])
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == 37 + plaintext.count + 4 * 17)
        #expect(try openSealedFile(at: path, key: key) == plaintext)

        // Chunk by chunk.
        let reader = try SealedFileReader(path: path, key: key)
        var chunks: [[UInt8]] = []
        while let chunk = try reader.nextChunk() { chunks.append(chunk) }
        #expect(chunks.map(\.count) == [65536, 65536, 65536, 1234])
        #expect(chunks.flatMap { $0 } == plaintext)

        // Overwriting replaces the file whole.
        try sealFile(Data("second".utf8), to: path, key: key)
        #expect(try openSealedFile(at: path, key: key) == Array("second".utf8))
        #expect(try folder.contents() == ["adapter.sealed"])
    }

    @Test func emptyFileRoundTrips() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        try sealFile([UInt8](), to: folder.file("empty"), key: key)
        #expect(try openSealedFile(at: folder.file("empty"), key: key) == [])
    }

    @Test func streamingWriterCommitsOnlyWhenAsked() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let path = folder.file("profile.sealed")
        do {
            let writer = try SealedFileWriter(path: path, key: key, chunkSize: 1024)
            try writer.write(SecureRandom.bytes(count: 5000))
            #expect(try folder.contents().count == 1)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        // Dropped without commit: nothing left behind.
        #expect(try folder.contents() == [])

        let writer = try SealedFileWriter(path: path, key: key, chunkSize: 1024)
        var expected: [UInt8] = []
        for piece in [100, 2000, 0, 1, 4096] {
            let bytes = SecureRandom.bytes(count: piece)
            expected += bytes
            try writer.write(bytes)
        }
        try writer.commit()
        #expect(try openSealedFile(at: path, key: key) == expected)
    }

    @Test func truncatedOrTamperedFilesFail() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let path = folder.file("f")
        try sealFile(SecureRandom.bytes(count: 200_000), to: path, key: key)
        let sealed = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let full = 65536 + 17
        for length in [0, 10, 37, 37 + full, 37 + full - 1, 37 + 2 * full, 37 + 2 * full + 5, sealed.count - 1] {
            try Data(sealed[..<length]).write(to: URL(fileURLWithPath: path))
            #expect(sealError { _ = try openSealedFile(at: path, key: key) } != nil, "length \(length)")
        }
        var flipped = sealed
        flipped[37 + full + 100] ^= 0x10
        try Data(flipped).write(to: URL(fileURLWithPath: path))
        #expect(sealError { _ = try openSealedFile(at: path, key: key) }?.code == .sealedFileCorrupted)
        #expect(sealError { _ = try openSealedFile(at: folder.file("missing"), key: key) }?.code == .io)
    }
}
