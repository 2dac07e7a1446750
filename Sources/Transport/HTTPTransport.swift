internal import CCurl
import Diagnostics
public import Federation
public import Foundation
public import Seal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// pclient's HTTP client over libcurl (the only place libcurl is used). Synchronous: pclient is a
// command-line program that does one thing at a time, and a blocking call with timeouts is the
// simplest thing that can be reasoned about. Every call:
//   - has a connect timeout and a total timeout (downloads: a stall timeout instead of a total one);
//   - is retried with exponential backoff and full jitter on connection errors, 5xx and 429
//     (429 and 503 honour Retry-After), never on any other 4xx;
//   - is signed, when the transport holds an identity, with the four RequestSigning headers (a
//     fresh timestamp and nonce per attempt, so a retry is never a replay);
//   - reports a failure as `HTTPError`, which carries the server's APIErrorBody code, message and remedy.

/// How often and how patiently a request is retried.
public struct HTTPRetryPolicy: Sendable, Equatable {
    /// Attempts in all (1 = no retry).
    public var maxAttempts: Int = 5
    /// Backoff before retry k (1-based) is uniform in [0, min(maxDelay, baseDelay · 2^(k−1))] (full jitter).
    public var baseDelay: Double = 0.5
    public var maxDelay: Double = 30
    /// A Retry-After longer than this is cut to it (a misconfigured server cannot park the client for hours).
    public var maxRetryAfter: Double = 300

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.5, maxDelay: Double = 30, maxRetryAfter: Double = 300) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// The jittered backoff before retry `attempt` (1-based).
    public func backoff(attempt: Int, using rng: inout some RandomNumberGenerator) -> Double {
        let cap = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return rng.unitInterval() * cap
    }
}

/// What the transport was configured with.
public struct HTTPConfiguration: Sendable {
    /// Seconds to establish a connection.
    public var connectTimeout: Double = 10
    /// Seconds for a whole ordinary request (not downloads).
    public var totalTimeout: Double = 60
    /// A download that moves fewer than 1 byte/s for this many seconds is cut (and resumed).
    public var stallTimeout: Double = 30
    public var retry = HTTPRetryPolicy()
    public var userAgent = "pclient/1"
    /// PEM certificates to trust for https instead of the system's (a private CA, or the
    /// coordinator's self-signed certificate). Host names are verified either way.
    public var caCertificatePEM: String?
    /// Allow plain http to a host that is not this machine (`CoordinatorURL`). Off: refused.
    public var allowInsecureHTTP = false
    /// The largest answer body kept in memory (downloads to a file are bounded by the manifest's
    /// size instead): a server cannot make the client allocate without limit. 64 MiB holds a key
    /// roster of 65 535 participants several times over.
    public var maxResponseBytes = 64 << 20

    public init() {}
}

/// Which coordinator URLs the transport accepts. https always (verified by libcurl against the
/// system's CAs or `caCertificatePEM`); plain http only to this machine (127.0.0.0/8, ::1,
/// localhost), where no one sits between client and coordinator, unless `allowInsecureHTTP`.
/// Over http to another host anyone on the path could read and change every request, and at
/// `pclient join` answer with their own key, which the client would then pin.
public enum CoordinatorURL {
    public static func isLoopback(host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// True for an http (not https) URL whose host is not this machine.
    public static func isInsecure(_ url: String) -> Bool {
        guard let u = URL(string: url.trimmingCharacters(in: .whitespaces)), u.scheme?.lowercased() == "http", let host = u.host else { return false }
        return !isLoopback(host: host)
    }

    /// What to print on stderr, every time, when `--insecure` lets plain http reach another host.
    public static func warning(_ url: String) -> String {
        "WARNING: \(url) is plain http to another machine (--insecure): anyone on the network path can read and alter " +
        "this client's traffic and could have pinned their own key at join. Use https (pcoord serve --tls-certificate, or a TLS proxy)."
    }
}

/// One response: status, headers (names lower-cased; the last value of a repeated header) and body.
public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The APIErrorBody of a 4xx/5xx, when the body is one.
    public var apiError: APIErrorBody? { try? WireCoding.decoder().decode(APIErrorBody.self, from: body) }

    /// Retry-After in seconds (delta-seconds or an HTTP date), when present.
    public var retryAfter: Double? {
        guard let value = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds >= 0 { return seconds }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
    }
}

/// A failed request: what went wrong, whether it may be retried, and the server's own words.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No HTTP answer: connection refused, DNS, TLS, timeout, connection cut (libcurl's code).
        case connection(curlCode: Int)
        /// The server answered with this 4xx/5xx status.
        case status(Int)
        /// The answer did not decode as the type expected.
        case badResponse
        /// A download's content does not have the SHA-256 or size the manifest promised.
        case hashMismatch
        /// A local file could not be written.
        case io
        /// Refused before connecting: plain http to another machine without `allowInsecureHTTP`.
        case insecure
    }

    public let kind: Kind
    public let message: String
    /// The server's APIErrorBody, for `.status`.
    public let api: APIErrorBody?
    /// The request, as "METHOD path".
    public let request: String

    public init(_ kind: Kind, _ message: String, api: APIErrorBody? = nil, request: String) {
        self.kind = kind
        self.message = message
        self.api = api
        self.request = request
    }

    /// The server's error code ("stage_not_ready", "unknown_client"…), when it sent one.
    public var code: String? { api?.error.code }
    public var status: Int? { if case .status(let s) = kind { s } else { nil } }
    public var isConnectionError: Bool { if case .connection = kind { true } else { false } }

    /// The server's words are shown escaped (`TerminalText`): a coordinator cannot send escape
    /// sequences to the user's terminal through an error message.
    public var description: String {
        if let api {
            let e = api.error
            return "\(request): \(message) — \(TerminalText.escaped(e.message)) (\(TerminalText.escaped(e.code))). \(TerminalText.escaped(e.remedy))"
        }
        return "\(request): \(message)"
    }
}

/// A synchronous HTTP client for one coordinator.
public final class HTTPTransport: Sendable {
    /// Scheme, host, port and an optional path prefix (no trailing slash), e.g. "http://127.0.0.1:8600".
    public let baseURL: String
    public let identity: Identity?
    public let configuration: HTTPConfiguration
    /// Waits between retries; tests pass one that records instead of sleeping.
    let sleepBetweenAttempts: @Sendable (Double) -> Void

    public init(baseURL: String, identity: Identity?, configuration: HTTPConfiguration = HTTPConfiguration(),
                sleep: @escaping @Sendable (Double) -> Void = { if $0 > 0 { Thread.sleep(forTimeInterval: $0) } }) throws {
        var base = baseURL.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil, url.query == nil else {
            throw HTTPError(.badResponse, "\"\(baseURL)\" is not an http(s) URL of a coordinator; give one like https://coord.example.org", request: "configure")
        }
        guard configuration.allowInsecureHTTP || !CoordinatorURL.isInsecure(base) else {
            throw HTTPError(.insecure, "\(base) is plain http to another machine: anyone on the network path could read and change the traffic and pin their own key. " +
                            "Use the coordinator's https URL (with --ca-certificate PEM for a private CA or self-signed certificate), or, knowingly, --insecure.",
                            request: "configure")
        }
        self.baseURL = base
        self.identity = identity
        self.configuration = configuration
        self.sleepBetweenAttempts = sleep
        HTTPTransport.globalInit
    }

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// The path prefix of the base URL ("" for a bare host), part of what requests sign.
    private var pathPrefix: String {
        guard let url = URL(string: baseURL) else { return "" }
        let p = url.path
        return p == "/" ? "" : p
    }

    // MARK: Requests

    /// Sends one request (retrying as the policy allows) and returns a 2xx response; anything else throws.
    /// `path` starts with "/" and may carry a query; it is signed as the full path the server sees.
    public func send(_ method: String, _ path: String, body: Data? = nil, contentType: String? = nil,
                     signed: Bool = true, accept: String = "application/json") throws -> HTTPResponse {
        var rng = SodiumRandom()
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try perform(method, path, body: body, contentType: contentType, signed: signed,
                                           headers: ["Accept: \(accept)"], sink: nil, timeout: configuration.totalTimeout)
                if (200..<300).contains(response.status) { return response }
                let error = statusError(response, method: method, path: path)
                guard Self.retryable(status: response.status), attempt < configuration.retry.maxAttempts else { throw error }
                sleepBetweenAttempts(delay(after: attempt, response: response, rng: &rng))
            } catch let e as HTTPError where e.isConnectionError {
                guard attempt < configuration.retry.maxAttempts else {
                    throw HTTPError(e.kind, e.message + " (gave up after \(attempt) attempts; check the URL and that the coordinator is running)",
                                    request: e.request)
                }
                sleepBetweenAttempts(configuration.retry.backoff(attempt: attempt, using: &rng))
            }
        }
    }

    /// GET and decode JSON.
    public func get<T: Decodable>(_ path: String, as type: T.Type, signed: Bool = true) throws -> T {
        try decode(type, try send("GET", path, signed: signed), request: "GET \(path)")
    }

    /// POST a JSON body and decode the JSON answer.
    public func post<T: Decodable>(_ path: String, json: some Encodable, as type: T.Type, signed: Bool = true) throws -> T {
        let body = try WireCoding.encoder().encode(json)
        return try decode(type, try send("POST", path, body: body, contentType: "application/json", signed: signed), request: "POST \(path)")
    }

    /// POST a body whose answer carries nothing the caller needs (any 2xx).
    @discardableResult
    public func post(_ path: String, body: Data, contentType: String, signed: Bool = true) throws -> HTTPResponse {
        try send("POST", path, body: body, contentType: contentType, signed: signed)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, request: String) throws -> T {
        do {
            return try WireCoding.decoder().decode(type, from: response.body)
        } catch {
            throw HTTPError(.badResponse, "the answer is not a valid \(T.self) (\(error)); the coordinator may run another protocol version", request: request)
        }
    }

    static func retryable(status: Int) -> Bool { status == 429 || (500...599).contains(status) }

    private func delay(after attempt: Int, response: HTTPResponse, rng: inout SodiumRandom) -> Double {
        if let after = response.retryAfter { return min(after, configuration.retry.maxRetryAfter) }
        return configuration.retry.backoff(attempt: attempt, using: &rng)
    }

    func statusError(_ response: HTTPResponse, method: String, path: String) -> HTTPError {
        let api = response.apiError
        let what = api == nil ? "the coordinator answered HTTP \(response.status)" : "the coordinator refused (HTTP \(response.status))"
        return HTTPError(.status(response.status), what, api: api, request: "\(method) \(path)")
    }

    // MARK: One attempt

    /// Where a response body goes: memory (nil sink) or a file (downloads).
    final class Sink {
        var body = Data()
        var status = 0
        var headers: [String: String] = [:]
        /// Downloads: the file, the offset it had when the request started, and how to treat a 200.
        let fd: Int32
        let resumeOffset: Int64
        var written: Int64 = 0
        var writeFailed = false
        var truncatedForFullBody = false
        /// In-memory bodies only; set when the answer passed it (the transfer is cut).
        var maxBody = Int.max
        var tooLarge = false

        init(fd: Int32 = -1, resumeOffset: Int64 = 0) {
            self.fd = fd
            self.resumeOffset = resumeOffset
        }

        /// Body bytes: into the file for a 206 (or a 200 after truncating the file), into memory otherwise.
        func accept(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard fd >= 0, status == 206 || status == 200 else {
                guard body.count + bytes.count <= maxBody else { tooLarge = true; return false }
                body.append(contentsOf: bytes)
                return true
            }
            if status == 200 && !truncatedForFullBody {
                // The server sent the whole blob instead of the range asked for: start over.
                guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else { writeFailed = true; return false }
                truncatedForFullBody = true
            }
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeFailed = true
                    return false
                }
                offset += n
            }
            written += Int64(bytes.count)
            return true
        }

        func header(_ line: String) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("HTTP/") {
                // A new response (after a redirect or 100-continue): forget the previous one's headers.
                headers = [:]
                let parts = trimmed.split(separator: " ")
                if parts.count >= 2, let code = Int(parts[1]) { status = code }
            } else if let colon = trimmed.firstIndex(of: ":") {
                let name = trimmed[..<colon].lowercased()
                headers[name] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
    }

    /// One attempt, no retry. Throws `.connection` when there is no complete HTTP answer.
    func perform(_ method: String, _ path: String, body: Data?, contentType: String?, signed: Bool,
                 headers extra: [String], sink given: Sink?, timeout: Double?) throws -> HTTPResponse {
        let request = "\(method) \(path)"
        guard let handle = curl_easy_init() else {
            throw HTTPError(.connection(curlCode: -1), "libcurl could not create a handle (out of memory?)", request: request)
        }
        defer { curl_easy_cleanup(handle) }
        let sink = given ?? Sink()
        sink.maxBody = configuration.maxResponseBytes
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }

        var lines = extra
        if let contentType { lines.append("Content-Type: \(contentType)") }
        lines.append("Expect:")   // no 100-continue round trip
        if signed {
            guard let identity else {
                throw HTTPError(.badResponse, "a signed request needs the home's identity; unlock the home first", request: request)
            }
            let timestamp = UInt64(Date().timeIntervalSince1970)
            for (name, value) in RequestSigning.headers(identity: identity, method: method, path: pathPrefix + path,
                                                        body: body ?? Data(), timestamp: timestamp,
                                                        nonce: RequestSigning.freshNonce()) {
                lines.append("\(name): \(value)")
            }
        }
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in lines { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }

        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let url = baseURL + path
        let bodyBytes = [UInt8](body ?? Data())
        // libcurl needs a valid pointer even for an empty body; the size says how much of it to send.
        let bodyStorage = bodyBytes.isEmpty ? [UInt8(0)] : bodyBytes
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            bodyStorage.withUnsafeBufferPointer { bodyPointer in
                _ = pcurl_setopt_string(handle, CURLOPT_URL, url)
                _ = pcurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                _ = pcurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = pcurl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent)
                _ = pcurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000))
                if let timeout {
                    _ = pcurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                } else {
                    _ = pcurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
                    _ = pcurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(configuration.stallTimeout)))
                }
                _ = pcurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
                _ = pcurl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
                _ = pcurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
                _ = pcurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
                if let pem = configuration.caCertificatePEM {
                    let bytes = Array(pem.utf8)
                    _ = bytes.withUnsafeBytes { pcurl_setopt_blob(handle, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
                }
                switch method {
                case "GET": _ = pcurl_setopt_long(handle, CURLOPT_HTTPGET, 1)
                case "POST":
                    _ = pcurl_setopt_long(handle, CURLOPT_POST, 1)
                    _ = pcurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
                    _ = pcurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bodyPointer.baseAddress))
                default: _ = pcurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
                }
                if let range = given.map({ $0.resumeOffset }), range > 0 {
                    _ = pcurl_setopt_string(handle, CURLOPT_RANGE, "\(range)-")
                }
                _ = pcurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { ptr, size, count, user in
                    let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                    let n = size * count
                    guard n > 0, let ptr else { return n }
                    return sink.accept(UnsafeRawBufferPointer(start: ptr, count: n)) ? n : 0
                }
                _ = pcurl_setopt_pointer(handle, CURLOPT_WRITEDATA, box.toOpaque())
                _ = pcurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION) { ptr, size, count, user in
                    let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                    let n = size * count
                    if let ptr, n > 0 {
                        sink.header(String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self))
                    }
                    return n
                }
                _ = pcurl_setopt_pointer(handle, CURLOPT_HEADERDATA, box.toOpaque())
                return curl_easy_perform(handle)
            }
        }
        if sink.tooLarge {
            throw HTTPError(.badResponse, "the answer from \(baseURL) exceeds \(configuration.maxResponseBytes) bytes; refusing it (a misbehaving coordinator?)", request: request)
        }
        if sink.writeFailed {
            throw HTTPError(.io, "cannot write the download to disk: \(String(cString: strerror(errno))); check free space and permissions", request: request)
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPError(.connection(curlCode: Int(code.rawValue)), "no complete answer from \(baseURL): \(text)", request: request)
        }
        var status = 0
        _ = pcurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}
