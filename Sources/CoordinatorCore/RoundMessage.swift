public import Federation
public import Foundation

/// A client's message for one stage of a round, as the round logic receives it.
public enum RoundMessage: Sendable {
    case advertiseKeys(AdvertiseKeys)
    case shareKeys(ShareKeys)
    case maskedInput(MaskedInput)
    case consistency(ConsistencySignature)
    case unmask(UnmaskResponse)

    public var stage: RoundStage {
        switch self {
        case .advertiseKeys: .advertiseKeys
        case .shareKeys: .shareKeys
        case .maskedInput: .maskedInput
        case .consistency: .consistencyCheck
        case .unmask: .unmasking
        }
    }

    public var round: UInt64 {
        switch self {
        case .advertiseKeys(let m): m.round
        case .shareKeys(let m): m.round
        case .maskedInput(let m): m.round
        case .consistency(let m): m.round
        case .unmask(let m): m.round
        }
    }

    public var sender: ParticipantID {
        switch self {
        case .advertiseKeys(let m): m.sender
        case .shareKeys(let m): m.sender
        case .maskedInput(let m): m.sender
        case .consistency(let m): m.sender
        case .unmask(let m): m.sender
        }
    }

    /// The stored form: the words of a masked input (4 bytes per parameter), JSON otherwise.
    public func payload() throws -> Data {
        let e = WireCoding.encoder()
        switch self {
        case .advertiseKeys(let m): return try e.encode(m)
        case .shareKeys(let m): return try e.encode(m)
        case .maskedInput(let m): return m.words
        case .consistency(let m): return try e.encode(m)
        case .unmask(let m): return try e.encode(m)
        }
    }

    /// Decodes a stored or received payload of `stage`.
    public init(stage: RoundStage, round: UInt64, sender: ParticipantID, payload: Data) throws {
        let d = WireCoding.decoder()
        do {
            switch stage {
            case .advertiseKeys: self = .advertiseKeys(try d.decode(AdvertiseKeys.self, from: payload))
            case .shareKeys: self = .shareKeys(try d.decode(ShareKeys.self, from: payload))
            case .maskedInput:
                guard payload.count % 4 == 0 else {
                    throw CoordinatorError(.malformedBody, "A masked input must be a whole number of 4-byte words; got \(payload.count) bytes.",
                                           remedy: "Send the masked vector as little-endian UInt32 words, 4 bytes per parameter.")
                }
                // The bytes are the message: no conversion (the sum reads them as they are).
                self = .maskedInput(try MaskedInput(round: round, sender: sender, words: payload))
            case .consistencyCheck: self = .consistency(try d.decode(ConsistencySignature.self, from: payload))
            case .unmasking: self = .unmask(try d.decode(UnmaskResponse.self, from: payload))
            case .completed, .aborted:
                throw CoordinatorError(.invalidRequest, "No message belongs to a finished round.", remedy: "Poll GET /v1/round for the next round.")
            }
        } catch let e as CoordinatorError {
            throw e
        } catch {
            throw CoordinatorError(.malformedBody, "The \(stage.rawValue) message is not valid JSON of the expected shape: \(error).",
                                   remedy: "Encode the message as protocol/openapi.yaml describes (byte strings in standard base64).")
        }
    }
}
