public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file replacement that survives a crash at any point: readers see the old file or the
/// complete new one. The bytes go to a temporary file in the same folder, are fsynced, renamed over
/// the destination, and the folder is fsynced.
public enum AtomicFile {
    /// `keepCached: false` drops the file's pages from the page cache once they are on disk: for
    /// large files written to be read back only after a crash (the coordinator's masked inputs).
    /// Writing many of them otherwise keeps growing the cache, and each write then costs about ten
    /// times more CPU on our VMs (new guest pages); clean pages, dropped, are reused by the next one.
    public static func write(_ bytes: some ContiguousBytes, to path: String, permissions: mode_t = 0o600, keepCached: Bool = true) throws {
        let temporary = path + ".tmp-" + Hex.encode(SecureRandom.bytes(count: 8))
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw POSIXFile.error("open", path: temporary, what: "create a temporary file") }
        var done = false
        defer {
            if !done { unlink(temporary) }
        }
        do {
            try bytes.withUnsafeBytes { try POSIXFile.writeAll(fd, $0, path: temporary) }
            guard fsync(fd) == 0 else { throw POSIXFile.error("fsync", path: temporary, what: "flush the file") }
            #if os(Linux)
            // Advice only: a failure changes nothing but the cache.
            if !keepCached { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
            #endif
        } catch {
            close(fd)
            throw error
        }
        guard close(fd) == 0 else { throw POSIXFile.error("close", path: temporary, what: "close the file") }
        guard rename(temporary, path) == 0 else { throw POSIXFile.error("rename", path: path, what: "move the file into place") }
        done = true
        try POSIXFile.fsyncDirectory(POSIXFile.directory(of: path))
    }
}
