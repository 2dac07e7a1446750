import Foundation
import Testing
import Transport
#if canImport(Glibc)
import Glibc
#endif

struct LoopbackTests {
    /// The port comes from below the kernel's automatic range, so no automatically bound socket can
    /// take it while a server restarts on it; it can be listened on, and `accepts` sees the listener.
    @Test func freePortIsOutsideTheAutomaticRangeAndUsable() throws {
        let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let low = try #require(range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) })
        var seen = Set<Int>()
        for _ in 0..<20 {
            let port = try Loopback.freePort()
            if low > 20_000 { #expect((20_000..<low).contains(port), "port \(port), automatic range from \(low)") }
            seen.insert(port)
        }
        #expect(seen.count > 1, "the ports are drawn at random")

        let port = try Loopback.freePort()
        #expect(!Loopback.accepts(port: port))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        try #require(bound && listen(fd, 4) == 0)
        #expect(Loopback.accepts(port: port))
    }
}
