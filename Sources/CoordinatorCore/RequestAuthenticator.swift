import Federation
public import Foundation
import Seal

/// Checks a signed client request (protocol/PROTOCOL.md §2.3) in two steps, so that nothing is
/// read, stored or written for a request that its headers already condemn:
///
/// 1. `checkHeaders`, before the body is read: all four headers present and well-formed, the
///    timestamp inside the skew window, the client enrolled, the nonce not seen (reads only);
/// 2. `verify`, once the body is read (the signature covers its hash): the signature under the
///    client's key; then `record`, the only write, keeps the nonce and the last-seen time.
///
/// The server puts its rate limit between the steps (protocol/PROTOCOL.md §2.3), so a refused
/// request changes nothing.
public struct RequestAuthenticator: Sendable {
    public let store: any CoordinatorStore
    /// Accepted |client clock − coordinator clock|, in seconds; nonces are kept twice as long.
    public let skewWindow: Double

    public init(store: any CoordinatorStore, skewWindow: Double) {
        self.store = store
        self.skewWindow = skewWindow
    }

    /// What the headers of a request established before its body was read.
    public struct CheckedHeaders: Sendable {
        public let client: EnrolledClient
        let timestamp: UInt64
        let nonce: String
        let signature: Data
    }

    /// Step 1: the headers alone; throws why the request is refused. Reads the store, never writes.
    public func checkHeaders(clientID: String?, timestamp: String?, nonce: String?, signature: String?, now: Date) throws -> CheckedHeaders {
        guard let clientID, let timestamp, let nonce, let signature else {
            throw CoordinatorError(.missingSignature, "The request lacks one of the headers \(RequestSigning.clientHeader), \(RequestSigning.timestampHeader), \(RequestSigning.nonceHeader), \(RequestSigning.signatureHeader).",
                                   remedy: "Sign every request after enrollment as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard let t = UInt64(timestamp), nonce.utf8.count == 32, nonce.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              clientID.utf8.count == 64, clientID.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              signature.utf8.count <= 128, let sig = Data(base64Encoded: signature) else {
            throw CoordinatorError(.missingSignature, "A signing header is malformed (client: 64 lower-case hex digits; timestamp: decimal seconds; nonce: 32 lower-case hex digits; signature: base64).",
                                   remedy: "Format the headers as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard abs(Double(t) - now.timeIntervalSince1970) <= skewWindow else {
            throw CoordinatorError(.clockSkew, "The request's timestamp is more than \(Int(skewWindow)) s from the coordinator's clock.",
                                   remedy: "Synchronise the client's clock (NTP) and retry.")
        }
        guard let client = try store.client(id: clientID) else {
            throw CoordinatorError(.unknownClient, "No client with this key is enrolled.", remedy: "Enroll with a token from the operator first.")
        }
        guard try !store.nonceSeen(client: clientID, nonce: nonce, after: now.addingTimeInterval(-2 * skewWindow)) else {
            throw Self.replayed
        }
        return CheckedHeaders(client: client, timestamp: t, nonce: nonce, signature: sig)
    }

    /// Step 2: the signature over method, path, body hash, timestamp and nonce. Writes nothing.
    public func verify(_ headers: CheckedHeaders, method: String, path: String, bodySHA256: [UInt8]) throws {
        guard RequestSigning.verify(signing: headers.client.identity, signature: headers.signature, method: method, path: path,
                                    bodySHA256: bodySHA256, timestamp: headers.timestamp, nonce: headers.nonce) else {
            throw CoordinatorError(.badSignature, "The request signature does not verify.",
                                   remedy: "Sign method, path with query, SHA-256 of the body, timestamp and nonce with the enrolled identity.")
        }
    }

    /// Step 3, after every check passed: records the nonce and the client's last-seen time. Throws
    /// `replayed_nonce` when a concurrent request with the same nonce recorded it first.
    public func record(_ headers: CheckedHeaders, now: Date) throws {
        guard try store.recordRequest(client: headers.client.id, nonce: headers.nonce, at: now,
                                      pruneBefore: now.addingTimeInterval(-2 * skewWindow)) else {
            throw Self.replayed
        }
    }

    /// All three steps at once, for callers that hold the body already.
    public func authenticate(method: String, path: String, bodySHA256: [UInt8], clientID: String?, timestamp: String?,
                             nonce: String?, signature: String?, now: Date) throws -> EnrolledClient {
        let headers = try checkHeaders(clientID: clientID, timestamp: timestamp, nonce: nonce, signature: signature, now: now)
        try verify(headers, method: method, path: path, bodySHA256: bodySHA256)
        try record(headers, now: now)
        return headers.client
    }

    static let replayed = CoordinatorError(.replayedNonce, "This nonce was already used.", remedy: "Use a fresh random nonce for every request.")
}

extension Coordinator {
    /// The request authenticator over this coordinator's store; nonisolated, so that refusing a
    /// request never waits for the round actor.
    public nonisolated var requests: RequestAuthenticator { authenticator }

    /// Verifies a signed request whose body is already read; returns the client. Refuses unknown
    /// clients, a timestamp outside the skew window, a reused nonce and a signature that does not verify.
    public nonisolated func authenticate(method: String, path: String, bodySHA256: [UInt8], clientID: String?, timestamp: String?,
                                         nonce: String?, signature: String?, now: Date) throws -> EnrolledClient {
        try authenticator.authenticate(method: method, path: path, bodySHA256: bodySHA256, clientID: clientID, timestamp: timestamp,
                                       nonce: nonce, signature: signature, now: now)
    }
}
