public import Diagnostics

/// Every failure the coordinator reports. `code` is the stable machine-readable name that the HTTP
/// layer puts in `APIErrorBody` (protocol/PROTOCOL.md §2.6 lists them with their statuses); the
/// message says what went wrong and the remedy what the caller can do. Neither ever contains a
/// key, a token, a share or update values.
public struct CoordinatorError: CodedError, Sendable {
    public struct Code: ErrorCode, CustomStringConvertible {
        public let name: String
        /// The HTTP status the server answers with.
        public let status: Int
        private init(_ name: String, _ status: Int) {
            self.name = name
            self.status = status
        }
        public var description: String { name }

        public static let invalidRequest = Code("invalid_request", 400)
        public static let malformedBody = Code("malformed_body", 400)
        public static let missingSignature = Code("missing_signature", 401)
        public static let unknownClient = Code("unknown_client", 401)
        public static let badSignature = Code("bad_signature", 401)
        public static let clockSkew = Code("clock_skew", 401)
        public static let replayedNonce = Code("replayed_nonce", 401)
        public static let invalidToken = Code("invalid_token", 403)
        public static let tokenUsed = Code("token_used", 403)
        public static let tokenExpired = Code("token_expired", 403)
        public static let badProof = Code("bad_proof", 400)
        public static let notParticipant = Code("not_participant", 403)
        public static let senderMismatch = Code("sender_mismatch", 403)
        public static let excluded = Code("participant_excluded", 403)
        public static let wrongRound = Code("wrong_round", 409)
        public static let wrongStage = Code("wrong_stage", 409)
        public static let stageNotReady = Code("stage_not_ready", 409)
        public static let duplicateMessage = Code("duplicate_message", 409)
        public static let messageRejected = Code("message_rejected", 422)
        public static let roundNotFound = Code("round_not_found", 404)
        public static let blobNotFound = Code("blob_not_found", 404)
        public static let notFound = Code("not_found", 404)
        public static let rangeNotSatisfiable = Code("range_not_satisfiable", 416)
        public static let payloadTooLarge = Code("payload_too_large", 413)
        public static let rateLimited = Code("rate_limited", 429)
        public static let notInitialised = Code("not_initialised", 500)
        public static let configuration = Code("configuration", 500)
        public static let storage = Code("storage", 500)
        public static let baseFile = Code("base_file", 400)
    }

    public let code: Code
    public let message: String
    /// Never nil here: every coordinator error tells the caller what to do (`APIErrorBody.remedy`).
    public let remedy: String?
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, remedy: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.cause = cause
    }

    /// The form the server's log and pcoord print (the remedy as a sentence, not in parentheses).
    public var description: String { "\(code.name): \(message) \(remedy ?? "")" }
}
