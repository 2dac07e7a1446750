import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP connection to the live test server, to play what an HTTP client library would
/// never do: a head without its body, a head trickled byte by byte, silence. `source` picks the
/// local address (anything in 127.0.0.0/8 is this machine), to stand for another host.
///
/// Reads block, so they run on a Dispatch thread: blocking a thread of Swift's cooperative pool
/// (two on a two-core machine) would starve the in-process server the test talks to.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    init(port: Int, from source: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var local = Self.address(source, port: 0)
        var remote = Self.address("127.0.0.1", port: UInt16(port))
        let ok = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        } && withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard ok else {
            let e = errno
            close(fd)
            throw TestFailure("connect from \(source) to port \(port): errno \(e)")
        }
    }

    deinit { close(fd) }

    /// False when the peer has closed (no SIGPIPE: MSG_NOSIGNAL).
    @discardableResult
    func send(_ text: String) -> Bool { send(Data(text.utf8)) }

    @discardableResult
    func send(_ data: Data) -> Bool {
        data.withUnsafeBytes { p in
            var offset = 0
            while offset < p.count {
                let n = Glibc.send(fd, p.baseAddress! + offset, p.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    /// Reads until the peer closes or `timeout` seconds pass: what arrived, and whether it closed
    /// (EOF or a reset) and after how many seconds.
    func read(timeout: Double) async -> (data: Data, closed: Bool, seconds: Double) {
        await offPool { self.blockingRead(timeout: timeout) }
    }

    /// Reads until a whole response (head and Content-Length bytes of body) arrived, or `timeout`.
    func readResponse(timeout: Double) async -> String? {
        await offPool { self.blockingReadResponse(timeout: timeout) }
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }

    private func blockingRead(timeout: Double) -> (data: Data, closed: Bool, seconds: Double) {
        let start = Date()
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = timeout - Date().timeIntervalSince(start)
            if left <= 0 { return (data, false, Date().timeIntervalSince(start)) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(max(1, left * 1000)))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return (data, true, Date().timeIntervalSince(start)) }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    private func blockingReadResponse(timeout: Double) -> String? {
        let start = Date()
        var text = ""
        while Date().timeIntervalSince(start) < timeout {
            let (d, closed, _) = blockingRead(timeout: 0.1)
            text += String(decoding: d, as: UTF8.self)
            if let range = text.range(of: "\r\n\r\n") {
                let head = text[..<range.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<range.upperBound].utf8.count >= length { return text }
            }
            if closed { return text.isEmpty ? nil : text }
        }
        return text.isEmpty ? nil : text
    }

    private static func address(_ ip: String, port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(port.bigEndian)
        a.sin_addr.s_addr = inet_addr(ip)
        return a
    }
}
