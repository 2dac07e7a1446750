import Diagnostics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX calls Seal needs, with EINTR and short writes handled. Plain syscalls rather than
/// FileHandle so that secrets are read straight into guarded memory and fsync is explicit.
enum POSIXFile {
    static func error(_ call: String, path: String, what: String, errno code: Int32 = errno) -> SealError {
        SealError(.io, "Could not \(what) at \(path): \(String(cString: strerror(code))). Check the path and its permissions.",
                  cause: SystemCallError(call: call, errno: code))
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw error("write", path: path, what: "write")
            }
            offset += n
        }
    }

    /// Reads up to `buffer.count` bytes, retrying on EINTR; returns 0 only at end of file.
    static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            let n = read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw error("read", path: path, what: "read")
        }
    }

    /// Reads a whole small file into guarded memory; at most `maximum` bytes are kept (a longer
    /// file yields exactly `maximum` bytes, so callers can tell it is too long).
    static func readSecret(path: String, maximum: Int, what: String) throws -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error("open", path: path, what: what) }
        defer { close(fd) }
        let scratch = SecretBytes(count: maximum) { _ in }
        var filled = 0
        try scratch.withUnsafeBytes { raw in
            let buffer = UnsafeMutableRawBufferPointer(mutating: raw)
            while filled < maximum {
                let n = try readSome(fd, UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), path: path)
                if n == 0 { break }
                filled += n
            }
        }
        return scratch.slice(0..<filled)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("open", path: dir, what: "open the folder to flush it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error("fsync", path: dir, what: "flush the folder") }
    }
}
