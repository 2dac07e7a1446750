import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Open connections per peer address, shared by every connection's `ConnectionGuard`.
final class ConnectionCounts: Sendable {
    let limit: Int
    private let counts = Mutex<[String: Int]>([:])

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection from `address`; false (and nothing counted) past the limit.
    func open(_ address: String) -> Bool {
        counts.withLock { c in
            let n = c[address, default: 0]
            guard n < limit else { return false }
            c[address] = n + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLock { c in
            let n = c[address, default: 0] - 1
            c[address] = n > 0 ? n : nil
        }
    }

    func count(_ address: String) -> Int { counts.withLock { $0[address, default: 0] } }
}

/// One per connection, after the HTTP codec: closes a connection from an address that already has
/// its share of connections open, and closes the connection after a response that says
/// `Connection: close` — the coordinator's refusal of a request whose body it will not read, so
/// that the body is not drained (read and thrown away) from a sender who may trickle it forever.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let counts: ConnectionCounts
    private var counted: String?
    private var refused = false
    private var closeAfterResponse = false
    private var lingering = false
    /// Seconds to keep reading (and dropping) what a refused sender still sends after the answer,
    /// so that closing with unread data does not reset the connection before the answer is read.
    static let linger: TimeAmount = .seconds(2)

    init(counts: ConnectionCounts) { self.counts = counts }

    func handlerAdded(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if counts.open(address) { counted = address } else { refused = true }
        if refused && context.channel.isActive { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if refused { context.close(promise: nil); return }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused && !lingering else { return }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { release() }

    private func release() {
        if let address = counted { counts.close(address) }
        counted = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection] == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closeAfterResponse else { context.write(data, promise: promise); return }
            // The answer goes out and the sending side closes; what else arrives is dropped for a
            // moment (a lingering close, as nginx does), then the connection closes whatever the peer does.
            lingering = true
            context.writeAndFlush(data, promise: promise)
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) { context.close(promise: nil) }
        }
    }
}
