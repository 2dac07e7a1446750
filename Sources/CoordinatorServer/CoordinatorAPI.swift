public import CoordinatorCore
import Federation
import Foundation
public import Hummingbird
public import Logging
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
import Seal
import Synchronization

/// The HTTP routes of protocol/openapi.yaml over a `Coordinator`.
struct CoordinatorAPI: Sendable {
    let coordinator: Coordinator
    let configuration: ServerConfiguration
    let metrics: CoordinatorMetrics
    let limiter: RateLimiter
    let fileIO = FileIO()

    static let clientHeader = FieldName(RequestSigning.clientHeader)!
    static let timestampHeader = FieldName(RequestSigning.timestampHeader)!
    static let nonceHeader = FieldName(RequestSigning.nonceHeader)!
    static let signatureHeader = FieldName(RequestSigning.signatureHeader)!

    func register(on router: Router<CoordinatorRequestContext>) {
        let small = configuration.smallBodyLimit, large = configuration.largeBodyLimit
        router.get("/v1/health") { _, _ in try json(Health(status: "ok", protocolVersion: federationProtocolVersion)) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        router.post("/v1/enroll") { request, context in
            // Enrollment is unauthenticated: one bucket per peer address, so one host's flood
            // does not lock every other host out of enrolling; spent before the body is read.
            if let wait = await limiter.take("enroll:" + context.peer, now: Date()) { throw rateLimited(wait) }
            let body = try await collect(request, context, limit: small)
            let enroll = try decode(EnrollRequest.self, body)
            return try json(try await coordinator.enroll(enroll, now: Date()))
        }
        router.get("/v1/manifest") { request, context in
            _ = try await authenticate(request, context, limit: 0)
            return try json(try await coordinator.signedManifest(now: Date()))
        }
        router.get("/v1/blobs/:sha256") { request, context in
            _ = try await authenticate(request, context, limit: 0)
            return try await blob(request, context: context)
        }
        router.get("/v1/round") { request, context in
            let (client, _) = try await authenticate(request, context, limit: 0)
            return try json(try await coordinator.roundStatus(for: client, now: Date()))
        }
        router.post("/v1/rounds/:round/advertise-keys") { request, context in
            let (client, body, round) = try await roundRequest(request, context, limit: small)
            let m = try decode(AdvertiseKeys.self, body)
            try checkRound(m.round, round)
            try await coordinator.submit(.advertiseKeys(m), from: client, now: Date())
            return accepted(round, .advertiseKeys)
        }
        router.get("/v1/rounds/:round/roster") { request, context in
            let (client, _, round) = try await roundRequest(request, context, limit: 0)
            return try json(try await coordinator.roster(round: round, for: client))
        }
        router.post("/v1/rounds/:round/share-keys") { request, context in
            let (client, body, round) = try await roundRequest(request, context, limit: large)
            let m = try decode(ShareKeys.self, body)
            try checkRound(m.round, round)
            try await coordinator.submit(.shareKeys(m), from: client, now: Date())
            return accepted(round, .shareKeys)
        }
        router.get("/v1/rounds/:round/shares") { request, context in
            let (client, _, round) = try await roundRequest(request, context, limit: 0)
            return try json(try await coordinator.shares(round: round, for: client))
        }
        router.post("/v1/rounds/:round/masked-input") { request, context in
            let limit = await coordinator.maskedInputBytes ?? small
            let (client, body, round) = try await roundRequest(request, context, limit: limit)
            try await coordinator.submitMaskedInput(round: round, words: body, from: client, now: Date())
            return accepted(round, .maskedInput)
        }
        router.get("/v1/rounds/:round/survivors") { request, context in
            let (client, _, round) = try await roundRequest(request, context, limit: 0)
            return try json(try await coordinator.survivors(round: round, for: client))
        }
        router.post("/v1/rounds/:round/consistency") { request, context in
            let (client, body, round) = try await roundRequest(request, context, limit: small)
            let m = try decode(ConsistencySignature.self, body)
            try checkRound(m.round, round)
            try await coordinator.submit(.consistency(m), from: client, now: Date())
            return accepted(round, .consistencyCheck)
        }
        router.get("/v1/rounds/:round/unmask-request") { request, context in
            let (client, _, round) = try await roundRequest(request, context, limit: 0)
            return try json(try await coordinator.unmaskRequest(round: round, for: client))
        }
        router.post("/v1/rounds/:round/unmask") { request, context in
            let (client, body, round) = try await roundRequest(request, context, limit: large)
            let m = try decode(UnmaskResponse.self, body)
            try checkRound(m.round, round)
            try await coordinator.submit(.unmask(m), from: client, now: Date())
            return accepted(round, .unmasking)
        }
        router.get("/v1/rounds/:round") { request, context in
            let (_, _, round) = try await roundRequest(request, context, limit: 0)
            return try json(try await coordinator.summary(round: round))
        }
    }

    // MARK: Helpers

    struct Health: Codable { let status: String; let protocolVersion: Int }
    struct Accepted: Codable { let round: UInt64; let stage: RoundStage; let accepted: Bool }

    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try WireCoding.encoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func accepted(_ round: UInt64, _ stage: RoundStage) -> Response {
        (try? json(Accepted(round: round, stage: stage, accepted: true))) ?? Response(status: .ok)
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        do { return try WireCoding.decoder().decode(type, from: body) } catch {
            throw CoordinatorError(.malformedBody, "The body is not a valid \(T.self) in JSON.",
                                   remedy: "Encode it as protocol/openapi.yaml describes (byte strings in standard base64, dates in ISO 8601).")
        }
    }

    func checkRound(_ inBody: UInt64, _ inPath: UInt64) throws {
        guard inBody == inPath else {
            throw CoordinatorError(.invalidRequest, "The message names round \(inBody) but was posted to round \(inPath).", remedy: "Post each message to its own round's URL.")
        }
    }

    func rateLimited(_ seconds: Double) -> HeaderedError {
        let s = max(1, Int(seconds.rounded(.up)))
        return HeaderedError(error: CoordinatorError(.rateLimited, "Too many requests from this client.", remedy: "Retry after \(s) s."),
                             headers: [(.retryAfter, String(s))])
    }

    /// The body, refused with 413 past `limit` bytes (by Content-Length at once, or while reading).
    /// A body that has not arrived `bodyTimeout` seconds after the head closes the connection.
    func collect(_ request: Request, _ context: CoordinatorRequestContext, limit: Int) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw CoordinatorError(.payloadTooLarge, "The body has \(length) bytes; this route accepts at most \(limit).", remedy: "Send only the message the route expects.")
        }
        let channel = context.channel
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(configuration.bodyTimeout * 1000))) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        var r = request
        let buffer: ByteBuffer
        do { buffer = try await r.collectBody(upTo: limit) } catch {
            throw CoordinatorError(.payloadTooLarge, "The body exceeds this route's limit of \(limit) bytes.", remedy: "Send only the message the route expects.")
        }
        metrics.received(bytes: buffer.readableBytes)
        context.body.markRead()
        return Data(buffer.readableBytesView)
    }

    /// A signed request, checked in the order of protocol/PROTOCOL.md §2.3: the headers (well-formed,
    /// timestamp, enrolled client, unseen nonce) and the client's rate before the body is read; the
    /// body up to the route's `limit`; the signature over it; then the rate token is spent and the
    /// nonce recorded, the only write. A request refused at any step changes nothing.
    func authenticate(_ request: Request, _ context: CoordinatorRequestContext, limit: Int) async throws -> (EnrolledClient, Data) {
        let h = request.headers
        let checked = try coordinator.requests.checkHeaders(clientID: h[Self.clientHeader], timestamp: h[Self.timestampHeader],
                                                            nonce: h[Self.nonceHeader], signature: h[Self.signatureHeader], now: Date())
        let id = checked.client.id
        if let wait = await limiter.check(id, now: Date()) { throw rateLimited(wait) }
        let body = try await collect(request, context, limit: limit)
        try coordinator.requests.verify(checked, method: request.method.rawValue, path: request.head.path ?? "/", bodySHA256: SHA256.hash(body))
        if let wait = await limiter.take(id, now: Date()) { throw rateLimited(wait) }
        try coordinator.requests.record(checked, now: Date())
        return (checked.client, body)
    }

    func roundRequest(_ request: Request, _ context: CoordinatorRequestContext, limit: Int) async throws -> (EnrolledClient, Data, UInt64) {
        guard let round = context.parameters.get("round", as: UInt64.self) else {
            throw CoordinatorError(.invalidRequest, "The round in the path is not a number.", remedy: "Use the round number GET /v1/round gave.")
        }
        let (client, body) = try await authenticate(request, context, limit: limit)
        return (client, body, round)
    }

    /// GET /v1/blobs/{sha256}: the whole file or one byte range, streamed from disk.
    func blob(_ request: Request, context: CoordinatorRequestContext) async throws -> Response {
        let sha = context.parameters.get("sha256") ?? ""
        let (path, ref) = try await coordinator.blobFile(sha256: sha)
        var headers: HTTPFields = [.acceptRanges: "bytes", .contentType: "application/octet-stream", .eTag: "\"\(ref.sha256)\""]
        switch ByteRange.parse(request.headers[.range], size: ref.size) {
        case .whole:
            let body = ref.size == 0 ? ResponseBody() : try await fileIO.loadFile(path: path, context: context)
            return Response(status: .ok, headers: headers, body: body)
        case .part(let r):
            headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(ref.size)"
            let body = try await fileIO.loadFile(path: path, range: Int(r.lowerBound)...Int(r.upperBound), context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        case .unsatisfiable:
            throw HeaderedError(error: CoordinatorError(.rangeNotSatisfiable, "The range lies outside the blob's \(ref.size) bytes.",
                                                        remedy: "Ask for bytes inside 0…\(max(0, ref.size - 1)), or resume from the length already downloaded."),
                                headers: [(.contentRange, "bytes */\(ref.size)"), (.acceptRanges, "bytes")])
        }
    }
}

/// Hummingbird's basic context plus the peer's address (the enrollment rate limit's key).
public struct CoordinatorRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or "unknown" (no socket, as in router tests).
    public let peer: String
    /// The connection, which a body that does not arrive in time closes.
    let channel: any Channel
    /// Whether a handler read the whole body (a refusal before it closes the connection).
    let body = BodyProgress()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress ?? "unknown"
        channel = source.channel
    }
}

/// Set once a request's body has been read whole.
final class BodyProgress: Sendable {
    private let read = Atomic<Bool>(false)
    func markRead() { read.store(true, ordering: .relaxed) }
    var wasRead: Bool { read.load(ordering: .relaxed) }
}

/// The coordinator's HTTP application; `pcoord serve` and the tests both build it here.
/// Connections are bounded before any route runs: in all (`maxConnections`: past it the listener
/// stops accepting), per peer address (`ConnectionGuard`), in silence (`idleTimeout`, which a
/// trickled request head does not reset) and per body (`bodyTimeout`); with `tls` set, only TLS.
public func buildApplication(coordinator: Coordinator, configuration: ServerConfiguration, metrics: CoordinatorMetrics = CoordinatorMetrics(),
                             logger: Logger = Logger(label: "pcoord")) async throws -> some ApplicationProtocol {
    await coordinator.setObserver { metrics.observe($0) }
    let router = Router(context: CoordinatorRequestContext.self)
    router.add(middleware: APIErrorMiddleware(metrics: metrics, logger: logger))
    router.add(middleware: AddressRateLimit(limiter: RateLimiter(rate: configuration.addressRequestsPerSecond, burst: configuration.addressBurst)))
    CoordinatorAPI(coordinator: coordinator, configuration: configuration, metrics: metrics,
                   limiter: RateLimiter(rate: configuration.requestsPerSecond, burst: configuration.burst)).register(on: router)
    let counts = ConnectionCounts(limit: configuration.maxConnectionsPerAddress)
    let http1 = HTTPServerBuilder.http1(configuration: .init(
        additionalChannelHandlers: [ConnectionGuard(counts: counts)],
        idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000)),
        httpDecoderConfiguration: .init(maxHeaderFieldSize: 8 << 10, maxHeaderListSize: 32 << 10, maxHeaderFieldCount: 64)))
    let server: HTTPServerBuilder
    if let tls = configuration.tls {
        server = try .tls(http1, tlsConfiguration: try tlsConfiguration(tls))
    } else {
        server = http1
    }
    return Application(router: router, server: server,
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pcoord",
                                            availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)),
                       logger: logger)
}

/// The server's TLS configuration from PEM files: the chain (leaf first) and its private key.
func tlsConfiguration(_ files: ServerConfiguration.TLSFiles) throws -> TLSConfiguration {
    do {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        guard !chain.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
        let key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    } catch {
        throw CoordinatorError(.configuration, "Cannot load the TLS certificate \(files.certificateChain) or key \(files.privateKey): \(error).",
                               remedy: "Give PEM files: the certificate chain (leaf first) and its unencrypted private key.", cause: error)
    }
}

/// Ticks the round machine every `interval` seconds until cancelled, so deadlines fire without traffic.
public func startTicker(_ coordinator: Coordinator, interval: Double, logger: Logger) -> Task<Void, Never> {
    Task {
        while !Task.isCancelled {
            do { try await coordinator.tick(now: Date()) } catch { logger.error("tick failed", metadata: ["error": "\(error)"]) }
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
        }
    }
}

/// Serves until the process is asked to stop (SIGINT/SIGTERM through Hummingbird's service group).
public func serve(coordinator: Coordinator, configuration: ServerConfiguration, logger: Logger) async throws {
    let app = try await buildApplication(coordinator: coordinator, configuration: configuration, logger: logger)
    let ticker = startTicker(coordinator, interval: configuration.tickInterval, logger: logger)
    defer { ticker.cancel() }
    try await app.runService()
}
