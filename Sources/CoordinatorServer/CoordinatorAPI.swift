public import CoordinatorCore
import Federation
import Foundation
public import Hummingbird
public import Logging
import Seal
import NIOCore

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
            let body = try await collect(request, limit: small)
            // Enrollment is unauthenticated: one bucket per peer address, so one host's flood
            // does not lock every other host out of enrolling.
            if let wait = await limiter.take("enroll:" + context.peer, now: Date()) { throw rateLimited(wait) }
            let enroll = try decode(EnrollRequest.self, body)
            return try json(try await coordinator.enroll(enroll, now: Date()))
        }
        router.get("/v1/manifest") { request, _ in
            _ = try await authenticate(request, limit: 0)
            return try json(try await coordinator.signedManifest(now: Date()))
        }
        router.get("/v1/blobs/:sha256") { request, context in
            _ = try await authenticate(request, limit: 0)
            return try await blob(request, context: context)
        }
        router.get("/v1/round") { request, _ in
            let (client, _) = try await authenticate(request, limit: 0)
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
    func collect(_ request: Request, limit: Int) async throws -> Data {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw CoordinatorError(.payloadTooLarge, "The body has \(length) bytes; this route accepts at most \(limit).", remedy: "Send only the message the route expects.")
        }
        var r = request
        let buffer: ByteBuffer
        do { buffer = try await r.collectBody(upTo: limit) } catch {
            throw CoordinatorError(.payloadTooLarge, "The body exceeds this route's limit of \(limit) bytes.", remedy: "Send only the message the route expects.")
        }
        metrics.received(bytes: buffer.readableBytes)
        return Data(buffer.readableBytesView)
    }

    /// Reads the body and checks the request's signature, nonce, clock and the client's rate.
    func authenticate(_ request: Request, limit: Int) async throws -> (EnrolledClient, Data) {
        let body = try await collect(request, limit: limit)
        let h = request.headers
        let client = try await coordinator.authenticate(
            method: request.method.rawValue, path: request.head.path ?? "/", bodySHA256: SHA256.hash(body),
            clientID: h[Self.clientHeader], timestamp: h[Self.timestampHeader], nonce: h[Self.nonceHeader],
            signature: h[Self.signatureHeader], now: Date())
        if let wait = await limiter.take(client.id, now: Date()) { throw rateLimited(wait) }
        return (client, body)
    }

    func roundRequest(_ request: Request, _ context: CoordinatorRequestContext, limit: Int) async throws -> (EnrolledClient, Data, UInt64) {
        guard let round = context.parameters.get("round", as: UInt64.self) else {
            throw CoordinatorError(.invalidRequest, "The round in the path is not a number.", remedy: "Use the round number GET /v1/round gave.")
        }
        let (client, body) = try await authenticate(request, limit: limit)
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

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// The coordinator's HTTP application; `pcoord serve` and the tests both build it here.
public func buildApplication(coordinator: Coordinator, configuration: ServerConfiguration, metrics: CoordinatorMetrics = CoordinatorMetrics(),
                             logger: Logger = Logger(label: "pcoord")) async -> some ApplicationProtocol {
    await coordinator.setObserver { metrics.observe($0) }
    let router = Router(context: CoordinatorRequestContext.self)
    router.add(middleware: APIErrorMiddleware(metrics: metrics, logger: logger))
    CoordinatorAPI(coordinator: coordinator, configuration: configuration, metrics: metrics,
                   limiter: RateLimiter(rate: configuration.requestsPerSecond, burst: configuration.burst)).register(on: router)
    return Application(router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pcoord"),
                       logger: logger)
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
    let app = await buildApplication(coordinator: coordinator, configuration: configuration, logger: logger)
    let ticker = startTicker(coordinator, interval: configuration.tickInterval, logger: logger)
    defer { ticker.cancel() }
    try await app.runService()
}
