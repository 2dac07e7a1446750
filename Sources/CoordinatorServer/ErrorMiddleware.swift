import CoordinatorCore
import Federation
import Foundation
import Hummingbird
import HTTPTypes
import Logging

/// An error that carries response headers besides its `CoordinatorError` (Retry-After, Content-Range).
struct HeaderedError: Error {
    let error: CoordinatorError
    let headers: [(FieldName, String)]
}

/// Turns every error into `APIErrorBody` JSON with a code and a remedy, counts requests by route
/// and status, and never answers bad input with a 5xx: only a storage or internal failure does.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext
    let metrics: CoordinatorMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let (status, body, headers) = Self.map(error)
            if status >= 500 {
                logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            } else {
                logger.debug("request refused", metadata: ["path": "\(request.uri.path)", "code": "\(body.error.code)"])
            }
            var fields: HTTPFields = [.contentType: "application/json"]
            for (name, value) in headers { fields[name] = value }
            // A request refused before its body was read (protocol/PROTOCOL.md §2.3): the
            // connection closes after the answer (ConnectionGuard) instead of draining the body.
            if Self.hasBody(request) && !context.body.wasRead { fields[.connection] = "close" }
            let data = (try? WireCoding.encoder().encode(body)) ?? Data()
            response = Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        metrics.request(route: context.endpointPath ?? "unmatched", status: response.status.code)
        return response
    }

    static func hasBody(_ request: Request) -> Bool {
        request.headers[.transferEncoding] != nil || (request.headers[.contentLength].flatMap(Int.init) ?? 0) > 0
    }

    static func map(_ error: any Error) -> (Int, APIErrorBody, [(FieldName, String)]) {
        func body(_ e: CoordinatorError) -> APIErrorBody { APIErrorBody(code: e.code.name, message: e.message, remedy: e.remedy ?? "") }
        switch error {
        case let e as HeaderedError:
            return (e.error.code.status, body(e.error), e.headers)
        case let e as CoordinatorError:
            return (e.code.status, body(e), [])
        case is DecodingError:
            return (400, APIErrorBody(code: "malformed_body", message: "The body is not JSON of the expected shape.",
                                      remedy: "Encode it as protocol/openapi.yaml describes (byte strings in standard base64)."), [])
        case let e as any HTTPResponseError:
            switch e.status.code {
            case 413:
                return (413, APIErrorBody(code: "payload_too_large", message: "The request body exceeds this route's limit.",
                                          remedy: "Send only the message the route expects."), [])
            case 404:
                return (404, APIErrorBody(code: "not_found", message: "No such endpoint.", remedy: "See protocol/openapi.yaml for the endpoints."), [])
            case 405:
                return (405, APIErrorBody(code: "method_not_allowed", message: "This endpoint does not take that method.", remedy: "See protocol/openapi.yaml."), [])
            case 400..<500:
                return (e.status.code, APIErrorBody(code: "invalid_request", message: "The request is malformed.", remedy: "See protocol/openapi.yaml."), [])
            default:
                return (500, APIErrorBody(code: "internal_error", message: "The coordinator failed.", remedy: "Retry later; the operator can read the log."), [])
            }
        default:
            return (500, APIErrorBody(code: "internal_error", message: "The coordinator failed while handling the request.",
                                      remedy: "Retry later; the operator can read the log."), [])
        }
    }
}

/// HTTPTypes' field name (Hummingbird re-exports `HTTPFields` but not `HTTPField`).
typealias FieldName = HTTPFields.Element.Name

/// Requests of any kind per peer address, before anything else runs (no header parsed, no store
/// read): what one address can make the coordinator do without any key is bounded too.
struct AddressRateLimit: RouterMiddleware {
    typealias Context = CoordinatorRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let wait = await limiter.take("addr:" + context.peer, now: Date()) {
            let s = max(1, Int(wait.rounded(.up)))
            throw HeaderedError(error: CoordinatorError(.rateLimited, "Too many requests from this address.", remedy: "Retry after \(s) s."),
                                headers: [(.retryAfter, String(s))])
        }
        return try await next(request, context)
    }
}
