import Foundation
import Seal

/// Whether a memory is relevant to a question, as a calibrated probability: logistic regression on
/// the embeddings' cosine, the share of the question's term weight the memory holds (BM25's IDF),
/// and whether the question is about the user ("my", "I", "me"). The coefficients are fitted on a
/// labelled set of questions × memories (`peval qa calibrate`, docs/personalization.md); a memory is
/// used when its probability reaches `threshold`.
public struct RelevanceModel: Sendable, Codable, Equatable {
    /// With the sentence encoder: bias, cosine, coverage, self-reference weights.
    public var dense: [Double]
    /// Without it (BM25 only): bias, coverage, self-reference weights.
    public var lexicalOnly: [Double]
    /// The least probability an item needs to be used.
    public var threshold: Double

    public init(dense: [Double], lexicalOnly: [Double], threshold: Double) {
        self.dense = dense
        self.lexicalOnly = lexicalOnly
        self.threshold = threshold
    }

    /// Fitted by `peval qa calibrate --split tune` (see docs/personalization.md for the figures).
    public static let calibrated = RelevanceModel(dense: [-8.0, 12.0, 2.5, 1.5], lexicalOnly: [-4.0, 5.0, 1.5], threshold: 0.5)

    /// The probability that an item with these features is relevant.
    public func probability(similarity: Double?, coverage: Double, selfReference: Bool) -> Double {
        let s = selfReference ? 1.0 : 0.0
        let z: Double
        if let similarity {
            z = dense[0] + dense[1] * similarity + dense[2] * coverage + dense[3] * s
        } else {
            z = lexicalOnly[0] + lexicalOnly[1] * coverage + lexicalOnly[2] * s
        }
        return 1 / (1 + exp(-z))
    }

    /// Whether `question` speaks of the user (first person): "my", "I", "me", "mine", "myself", "we", "our".
    public static func refersToUser(_ question: String) -> Bool {
        let words = Set(BlindIndex.terms(in: question))
        return !words.isDisjoint(with: ["i", "my", "me", "mine", "myself", "we", "our", "us", "ours"])
    }
}
