public import Diagnostics

/// Every failure in `Federation`. The message says what went wrong and what to do about it; it never
/// contains a key, a share, a seed or an update value.
public struct FederationError: CodedError, Sendable {
    public struct Code: ErrorCode, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A parameter is outside what the function accepts (a programming or configuration error).
        public static let invalidArgument = Code("invalidArgument")
        /// A value to encode lies outside the fixed-point range [-R, R) or is not finite.
        public static let valueOutOfRange = Code("valueOutOfRange")
        /// Fewer Shamir shares than the threshold.
        public static let notEnoughShares = Code("notEnoughShares")
        /// More than the threshold of shares were given and they do not lie on one polynomial, or a
        /// reconstructed key does not match its advertised public key.
        public static let inconsistentShares = Code("inconsistentShares")
        /// A share of the wrong length, with index 0 or an index given twice.
        public static let malformedShare = Code("malformedShare")
        /// A key of the wrong length, or an X25519 agreement that produced the all-zero point.
        public static let invalidKey = Code("invalidKey")
        /// An Ed25519 signature did not verify.
        public static let badSignature = Code("badSignature")
        /// An encrypted share did not open (altered, misrouted or sealed for someone else).
        public static let decryptionFailed = Code("decryptionFailed")
        /// A message for another round, from an unknown or excluded participant, duplicated, or
        /// otherwise contradicting what the protocol allows at this stage.
        public static let protocolViolation = Code("protocolViolation")
        /// A message arrived in the wrong stage of the state machine.
        public static let wrongStage = Code("wrongStage")
        /// Fewer participants remain than the threshold, so the round must abort.
        public static let tooFewParticipants = Code("tooFewParticipants")
        /// The server asked for both the self-mask share and the key share of one participant.
        public static let wouldRevealBoth = Code("wouldRevealBoth")
        /// Vectors of different lengths were combined.
        public static let lengthMismatch = Code("lengthMismatch")
    }

    public let code: Code
    public let message: String
    public let remedy: String?
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, remedy: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.cause = cause
    }

    public var description: String { "\(code): \(renderedDescription)" }
}
