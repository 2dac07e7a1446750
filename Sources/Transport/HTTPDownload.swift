import Foundation
import Federation
import Seal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HTTPTransport {
    /// Downloads a content-addressed blob to `destination`, resumably and verified:
    ///
    /// 1. bytes go to `destination + ".part"`; a part file left by an earlier, interrupted run is
    ///    kept and continued with `Range: bytes=N-` (a server that answers 200 instead of 206 makes
    ///    the download start over; 416 discards the part file);
    /// 2. a cut connection or a truncated body is resumed from where it stopped; an attempt that
    ///    moved bytes does not count against the retry budget, so a slow, flaky link still finishes;
    /// 3. the finished part file must have `size` bytes (when given) and the SHA-256 `sha256`; on a
    ///    mismatch it is deleted and `.hashMismatch` thrown (nothing is left behind);
    /// 4. then it is fsynced and renamed into place atomically.
    ///
    /// A destination that already holds the right content is left as it is.
    /// `progress` is called with (bytes on disk, expected size) after every attempt.
    public func download(_ path: String, sha256: String, size: Int64?, to destination: String,
                         progress: ((Int64, Int64?) -> Void)? = nil) throws {
        let request = "GET \(path)"
        let expected = sha256.lowercased()
        if FileManager.default.fileExists(atPath: destination),
           (try? SHA256.hexOfFile(at: URL(fileURLWithPath: destination))) == expected {
            return
        }
        let part = destination + ".part"
        let fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw HTTPError(.io, "cannot create \(part): \(String(cString: strerror(errno))); check the folder exists and is writable", request: request)
        }
        var closed = false
        defer { if !closed { close(fd) } }

        var rng = SodiumRandom()
        var failures = 0
        var furthest = Int64(lseek(fd, 0, SEEK_END))   // the longest the part file has been
        while true {
            var offset = Int64(lseek(fd, 0, SEEK_END))
            if let size, offset > size {
                guard ftruncate(fd, 0) == 0 else { throw ioError(part, request) }
                offset = Int64(lseek(fd, 0, SEEK_END))
            }
            if let size, offset == size { break }
            let sink = Sink(fd: fd, resumeOffset: offset)
            do {
                let response = try perform("GET", path, body: nil, contentType: nil, signed: identity != nil,
                                           headers: ["Accept: application/octet-stream"], sink: sink, timeout: nil)
                progress?(Int64(lseek(fd, 0, SEEK_END)), size)
                if response.status == 200 || response.status == 206 {
                    if size == nil { break }
                    continue   // the loop checks the length; a short body resumes
                }
                if response.status == 416 {
                    // The part file does not fit the blob (it changed, or the part is damaged): start over.
                    guard ftruncate(fd, 0) == 0 else { throw ioError(part, request) }
                    failures += 1
                    guard failures < configuration.retry.maxAttempts else {
                        throw statusError(response, method: "GET", path: path)
                    }
                    continue
                }
                let error = statusError(response, method: "GET", path: path)
                failures += 1
                guard Self.retryable(status: response.status), failures < configuration.retry.maxAttempts else { throw error }
                let wait = response.retryAfter.map { min($0, configuration.retry.maxRetryAfter) }
                    ?? configuration.retry.backoff(attempt: failures, using: &rng)
                sleepBetweenAttempts(wait)
            } catch let e as HTTPError where e.isConnectionError {
                let reached = Int64(lseek(fd, 0, SEEK_END))
                progress?(reached, size)
                if reached > furthest {
                    // Progress was made: resume straight away. (A server that ignores Range and cuts
                    // every full transfer at the same point makes no progress and runs out of attempts.)
                    furthest = reached
                    failures = 0
                    continue
                }
                failures += 1
                guard failures < configuration.retry.maxAttempts else { throw e }
                sleepBetweenAttempts(configuration.retry.backoff(attempt: failures, using: &rng))
            }
        }

        guard fsync(fd) == 0 else { throw ioError(part, request) }
        let length = Int64(lseek(fd, 0, SEEK_END))
        close(fd)
        closed = true
        let actual = try SHA256.hexOfFile(at: URL(fileURLWithPath: part))
        guard actual == expected, size.map({ $0 == length }) ?? true else {
            unlink(part)
            throw HTTPError(.hashMismatch,
                "the downloaded blob has SHA-256 \(actual) and \(length) bytes, but the signed manifest promises \(expected)\(size.map { " and \($0) bytes" } ?? ""); the file was deleted. Run the command again; if it repeats, the coordinator's storage is damaged: tell its operator",
                request: request)
        }
        guard rename(part, destination) == 0 else { throw ioError(destination, request) }
        let folder = (destination as NSString).deletingLastPathComponent
        let dfd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    private func ioError(_ path: String, _ request: String) -> HTTPError {
        HTTPError(.io, "cannot write \(path): \(String(cString: strerror(errno))); check free space and permissions", request: request)
    }
}
