import Foundation
import Testing
@testable import Seal
#if canImport(Glibc)
import Glibc
#endif

struct AtomicFileTests {
    @Test func replacesWholeAndLeavesNoTemporaryFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let path = folder.file("f")
        try AtomicFile.write(Data("first".utf8), to: path)
        try AtomicFile.write(Data("second, longer".utf8), to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("second, longer".utf8))
        #expect(try folder.contents() == ["f"])
        #expect(throws: (any Error).self) { try AtomicFile.write(Data("x".utf8), to: folder.file("no-such-folder/f")) }
        #expect(try folder.contents() == ["f"])
    }

    #if os(Linux)
    /// `keepCached: false`: the bytes are all there, and (being on disk) out of the page cache.
    @Test func uncachedWriteKeepsTheBytesAndDropsThePages() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanup() }
        let bytes = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        func residentPages(_ path: String) throws -> (resident: Int, total: Int) {
            let fd = open(path, O_RDONLY)
            try #require(fd >= 0)
            defer { close(fd) }
            let map = mmap(nil, bytes.count, PROT_READ, MAP_SHARED, fd, 0)
            try #require(map != MAP_FAILED)
            defer { munmap(map, bytes.count) }
            let pages = (bytes.count + Int(getpagesize()) - 1) / Int(getpagesize())
            var vector = [UInt8](repeating: 0, count: pages)
            try #require(mincore(map, bytes.count, &vector) == 0)
            return (vector.filter { $0 & 1 != 0 }.count, pages)
        }
        try AtomicFile.write(bytes, to: folder.file("cached"))
        try AtomicFile.write(bytes, to: folder.file("uncached"), keepCached: false)
        let cached = try residentPages(folder.file("cached")), uncached = try residentPages(folder.file("uncached"))
        #expect(cached.resident > cached.total / 2, "the control: \(cached.resident) of \(cached.total) pages cached")
        #expect(uncached.resident < uncached.total / 4, "\(uncached.resident) of \(uncached.total) pages still cached")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder.file("uncached")))) == bytes)
    }
    #endif
}
