public import Diagnostics

/// Every failure in `Federation`. The message says what went wrong and what to do about it; it never
/// contains a key, a share, a seed or an update value.
public typealias FederationError = ModuleError<FederationErrorCode>

/// The codes of `FederationError`; its description starts with the code's name.
public struct FederationErrorCode: ErrorCode, CustomStringConvertible {
    public let name: String
    private init(_ name: String) { self.name = name }
    public var description: String { name }

    /// A parameter is outside what the function accepts (a programming or configuration error).
    public static let invalidArgument = Self("invalidArgument")
    /// A value to encode lies outside the fixed-point range [-R, R) or is not finite.
    public static let valueOutOfRange = Self("valueOutOfRange")
    /// Fewer Shamir shares than the threshold.
    public static let notEnoughShares = Self("notEnoughShares")
    /// More than the threshold of shares were given and they do not lie on one polynomial, or a
    /// reconstructed key does not match its advertised public key.
    public static let inconsistentShares = Self("inconsistentShares")
    /// A share of the wrong length, with index 0 or an index given twice.
    public static let malformedShare = Self("malformedShare")
    /// A key of the wrong length, or an X25519 agreement that produced the all-zero point.
    public static let invalidKey = Self("invalidKey")
    /// An Ed25519 signature did not verify.
    public static let badSignature = Self("badSignature")
    /// An encrypted share did not open (altered, misrouted or sealed for someone else).
    public static let decryptionFailed = Self("decryptionFailed")
    /// A message for another round, from an unknown or excluded participant, duplicated, or
    /// otherwise contradicting what the protocol allows at this stage.
    public static let protocolViolation = Self("protocolViolation")
    /// A message arrived in the wrong stage of the state machine.
    public static let wrongStage = Self("wrongStage")
    /// Fewer participants remain than the threshold, so the round must abort.
    public static let tooFewParticipants = Self("tooFewParticipants")
    /// The server asked for both the self-mask share and the key share of one participant.
    public static let wouldRevealBoth = Self("wouldRevealBoth")
    /// The round's parameters would let the coordinator rebuild both secrets of a participant by
    /// showing different views to different groups (2t ≤ |U1|, 2t_k ≤ k + 1), or break the client's
    /// own policy (too small a cohort).
    public static let unsafeParameters = Self("unsafeParameters")
    /// Vectors of different lengths were combined.
    public static let lengthMismatch = Self("lengthMismatch")

    public static var namedInDescription: Bool { true }
}
