public import Federation
public import Foundation
import Logging
import Seal

// One-time enrollment tokens (only their SHA-256 is stored) and enrollment with one.
extension Coordinator {
    /// Characters a client-chosen name may have (it is shown to the operator, escaped: `TerminalText`).
    public static let maximumNameLength = 64

    /// Creates a one-time token; only its SHA-256 is stored.
    public func createEnrollmentToken(name: String?, validFor seconds: Double, now: Date) throws -> String {
        var r = SodiumRandom()
        let token = Hex.encode(r.bytes(count: 32))
        try store.addEnrollmentToken(hash: SHA256.hex(Array(token.utf8)), name: name, createdAt: now, expiresAt: now.addingTimeInterval(seconds))
        return token
    }

    public func enroll(_ request: EnrollRequest, now: Date) throws -> EnrollResponse {
        guard request.proofIsValid else {
            throw CoordinatorError(.badProof, "The enrollment proof does not verify under the identity sent with it.",
                                   remedy: "Sign T(\"pllm.enroll.v1\") ‖ T(token) ‖ T(signing key) ‖ T(agreement key) with the identity being enrolled.")
        }
        if let name = request.name, name.count > Self.maximumNameLength {
            throw CoordinatorError(.invalidRequest, "The client name has \(name.count) characters; at most \(Self.maximumNameLength) are kept.",
                                   remedy: "Choose a shorter name (pclient join --name).")
        }
        let id = Hex.encode(request.identity.signing)
        let client = EnrolledClient(id: id, identity: request.identity, name: request.name, enrolledAt: now, lastSeen: nil)
        switch try store.enroll(tokenHash: SHA256.hex(Array(request.token.utf8)), client: client, now: now) {
        case .valid: break
        case .rejoined:
            logger.info("client rejoined", metadata: ["client": "\(id.prefix(16))"])
            return EnrollResponse(clientID: id, coordinatorKey: publicKey, manifest: try signedManifest(now: now))
        case .unknown: throw CoordinatorError(.invalidToken, "The enrollment token is not known here.", remedy: "Ask the operator for a token (`pcoord enroll`).")
        case .used: throw CoordinatorError(.tokenUsed, "The enrollment token was already used.", remedy: "Tokens are one-time; ask the operator for a new one.")
        case .expired: throw CoordinatorError(.tokenExpired, "The enrollment token has expired.", remedy: "Ask the operator for a new one.")
        }
        machine.enrolledCount += 1
        logger.info("client enrolled", metadata: ["client": "\(id.prefix(16))"])
        return EnrollResponse(clientID: id, coordinatorKey: publicKey, manifest: try signedManifest(now: now))
    }
}
