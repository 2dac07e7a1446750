import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 server on 127.0.0.1 for the transport tests: one thread, one connection at a
/// time, `Connection: close` after every response. The handler sees each request (and its index)
/// and returns a response, which may be cut after some body bytes to simulate a dropped transfer.
final class HTTPTestServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        /// Path with query, as sent.
        var path: String
        /// Lower-cased names.
        var headers: [String: String]
        var body: Data
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body = Data()
        /// Send only this many body bytes (Content-Length still announces all of them), then close.
        var cutAfter: Int? = nil

        static func json(_ status: Int, _ text: String) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")], body: Data(text.utf8))
        }

        /// Serves `blob` honouring `Range: bytes=N-` / `bytes=N-M` (206 + Content-Range, 416 past the end).
        static func blob(_ blob: Data, request: Request, cutAfter: Int? = nil) -> Response {
            guard let range = request.headers["range"] else {
                return Response(status: 200, headers: [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes")],
                                body: blob, cutAfter: cutAfter)
            }
            let spec = range.replacingOccurrences(of: "bytes=", with: "").split(separator: "-", omittingEmptySubsequences: false)
            guard spec.count == 2, let start = Int(spec[0]), start < blob.count else {
                return Response(status: 416, headers: [("Content-Range", "bytes */\(blob.count)")])
            }
            let end = Int(spec[1]).map { min($0, blob.count - 1) } ?? blob.count - 1
            return Response(status: 206, headers: [("Content-Type", "application/octet-stream"),
                                                   ("Content-Range", "bytes \(start)-\(end)/\(blob.count)")],
                            body: blob.subdata(in: start..<(end + 1)), cutAfter: cutAfter)
        }
    }

    let port: UInt16
    var url: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let handler: @Sendable (Request, Int) -> Response
    private let lock = NSLock()
    private var received: [Request] = []
    private let done = DispatchSemaphore(value: 0)

    var requests: [Request] { lock.withLock { received } }

    init(handler: @escaping @Sendable (Request, Int) -> Response) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = fd
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// Stops accepting and waits for the thread to finish.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        done.wait()
    }

    private func serve() {
        defer { done.signal() }
        var index = 0
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            if let request = readRequest(connection) {
                lock.withLock { received.append(request) }
                write(handler(request, index), to: connection)
                index += 1
            }
            shutdown(connection, Int32(SHUT_RDWR))
            close(connection)
        }
    }

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while headerEnd == nil {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where Array(buffer[i..<(i + 4)]) == separator { headerEnd = i; break }
            }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = head[0].split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(buffer[(headerEnd! + 4)...])
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < length {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            body.append(contentsOf: chunk[0..<n])
        }
        return Request(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: Data(body))
    }

    private func write(_ response: Response, to fd: Int32) {
        var head = "HTTP/1.1 \(response.status) \(reason(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        let body = response.cutAfter.map { Array(response.body.prefix($0)) } ?? Array(response.body)
        bytes.append(contentsOf: body)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    private func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 206: "Partial Content"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 409: "Conflict"
        case 416: "Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// Collects the waits a transport asked for, instead of sleeping.
final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var delays: [Double] = []
    var recorded: [Double] { lock.withLock { delays } }
    var sleep: @Sendable (Double) -> Void { { [self] d in lock.withLock { delays.append(d) } } }
}
