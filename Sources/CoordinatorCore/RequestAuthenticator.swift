import Federation
public import Foundation
import Seal

/// Checks the signed headers of a client request (protocol/PROTOCOL.md §2.3): all four present and
/// well-formed, the timestamp inside the skew window, the client enrolled, the signature valid
/// under its key, and the nonce not seen before (which records it and the client's last-seen time).
public struct RequestAuthenticator: Sendable {
    public let store: any CoordinatorStore
    /// Accepted |client clock − coordinator clock|, in seconds; nonces are kept twice as long.
    public let skewWindow: Double

    public init(store: any CoordinatorStore, skewWindow: Double) {
        self.store = store
        self.skewWindow = skewWindow
    }

    /// The enrolled client that signed the request; throws why the request is refused.
    public func authenticate(method: String, path: String, bodySHA256: [UInt8], clientID: String?, timestamp: String?,
                             nonce: String?, signature: String?, now: Date) throws -> EnrolledClient {
        guard let clientID, let timestamp, let nonce, let signature else {
            throw CoordinatorError(.missingSignature, "The request lacks one of the headers \(RequestSigning.clientHeader), \(RequestSigning.timestampHeader), \(RequestSigning.nonceHeader), \(RequestSigning.signatureHeader).",
                                   remedy: "Sign every request after enrollment as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard let t = UInt64(timestamp), nonce.utf8.count == 32, nonce.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
              let sig = Data(base64Encoded: signature) else {
            throw CoordinatorError(.missingSignature, "A signing header is malformed (timestamp: decimal seconds; nonce: 32 lower-case hex digits; signature: base64).",
                                   remedy: "Format the headers as protocol/PROTOCOL.md §2.3 describes.")
        }
        guard abs(Double(t) - now.timeIntervalSince1970) <= skewWindow else {
            throw CoordinatorError(.clockSkew, "The request's timestamp is more than \(Int(skewWindow)) s from the coordinator's clock.",
                                   remedy: "Synchronise the client's clock (NTP) and retry.")
        }
        guard let client = try store.client(id: clientID) else {
            throw CoordinatorError(.unknownClient, "No client with this key is enrolled.", remedy: "Enroll with a token from the operator first.")
        }
        guard RequestSigning.verify(signing: client.identity, signature: sig, method: method, path: path, bodySHA256: bodySHA256,
                                    timestamp: t, nonce: nonce) else {
            throw CoordinatorError(.badSignature, "The request signature does not verify.",
                                   remedy: "Sign method, path with query, SHA-256 of the body, timestamp and nonce with the enrolled identity.")
        }
        guard try store.recordRequest(client: clientID, nonce: nonce, at: now, pruneBefore: now.addingTimeInterval(-2 * skewWindow)) else {
            throw CoordinatorError(.replayedNonce, "This nonce was already used.", remedy: "Use a fresh random nonce for every request.")
        }
        return client
    }
}

extension Coordinator {
    /// Verifies a signed request's headers; returns the client. Refuses unknown clients, a
    /// timestamp outside the skew window, a reused nonce and a signature that does not verify.
    public func authenticate(method: String, path: String, bodySHA256: [UInt8], clientID: String?, timestamp: String?,
                             nonce: String?, signature: String?, now: Date) throws -> EnrolledClient {
        try authenticator.authenticate(method: method, path: path, bodySHA256: bodySHA256, clientID: clientID, timestamp: timestamp,
                                       nonce: nonce, signature: signature, now: now)
    }
}
