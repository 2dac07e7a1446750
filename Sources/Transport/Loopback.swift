import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TCP on 127.0.0.1 for whoever starts a local `pcoord serve` (peval's federated homes, pbench,
/// the process tests): a port to give it, and whether it listens yet.
package enum Loopback {
    /// A port on 127.0.0.1 that was free a moment ago, picked at random below the kernel's range
    /// of automatically assigned ports (`/proc/sys/net/ipv4/ip_local_port_range`) when that range
    /// leaves room: a server stopped and started again on it (a restart after kill -9) then cannot
    /// find it taken by another connection's automatic local port, nor by a client that, while the
    /// server is down, connects to itself. Otherwise whatever port binding to port 0 gives.
    package static func freePort() throws -> Int {
        let low = automaticPortRangeStart() ?? 32768
        if low > 20_000 {
            var random = SystemRandomNumberGenerator()
            for _ in 0..<64 {
                let port = Int.random(in: 20_000..<low, using: &random)
                if try tryBind(port: UInt16(port)) != nil { return port }
            }
        }
        guard let port = try tryBind(port: 0) else {
            throw TransportError(.io, "cannot bind a socket on 127.0.0.1 to find a free port (errno \(errno))")
        }
        return port
    }

    /// Binds a socket to 127.0.0.1:`port` and closes it: the port it got, or nil if it was taken.
    private static func tryBind(port: UInt16) throws -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TransportError(.io, "cannot open a socket to find a free port (errno \(errno))") }
        defer { close(fd) }
        var address = address(port: port)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    /// The first port of the kernel's automatic (ephemeral) range, where the system says it.
    static func automaticPortRangeStart() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return nil }
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
    }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    package static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = address(port: UInt16(truncatingIfNeeded: port))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func address(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(port.bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }
}
