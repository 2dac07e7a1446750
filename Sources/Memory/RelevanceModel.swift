import Foundation
import Seal

/// Whether a memory is relevant to a question, as a calibrated probability: logistic regression on
/// the embeddings' cosine, its lead over the best other candidate's (a paraphrased question is often
/// far from every note in absolute terms, but clearly nearest its own), the share of the question's
/// term weight the memory holds (BM25's IDF), and whether the question is about the user ("my", "I"). The coefficients are fitted on a
/// labelled set of questions × memories (`peval qa calibrate`, docs/personalization.md); a memory is
/// used when its probability reaches `threshold`.
public struct RelevanceModel: Sendable, Codable, Equatable {
    /// With the sentence encoder: bias, cosine, lead, coverage; then the same four again for questions
    /// in the first person (added to the first four). A question that is not about the user gets its
    /// own, far stricter weights: on the labelled set no such question is answered by a note.
    public var dense: [Double]
    /// Without it (BM25 only): bias, coverage; then the same two again for first-person questions.
    public var lexicalOnly: [Double]
    /// The least probability an item needs to be used, with and without the encoder.
    public var denseThreshold: Double
    public var lexicalThreshold: Double

    public init(dense: [Double], denseThreshold: Double, lexicalOnly: [Double], lexicalThreshold: Double) {
        self.dense = dense
        self.denseThreshold = denseThreshold
        self.lexicalOnly = lexicalOnly
        self.lexicalThreshold = lexicalThreshold
    }

    /// The threshold that applies when the cosine is known or not.
    public func threshold(dense: Bool) -> Double { dense ? denseThreshold : lexicalThreshold }

    /// Whether an item with these features is used.
    public func accepts(similarity: Double?, lead: Double = 0, coverage: Double, selfReference: Bool) -> Bool {
        probability(similarity: similarity, lead: lead, coverage: coverage, selfReference: selfReference) >= threshold(dense: similarity != nil)
    }

    /// This model with both thresholds set to `t` (0 keeps every candidate, with its probability).
    public func withThreshold(_ t: Double) -> RelevanceModel {
        var m = self
        m.denseThreshold = t
        m.lexicalThreshold = t
        return m
    }

    /// Fitted by `peval qa calibrate --users 30` on the tune split (30 users, 15,300 labelled pairs): on
    /// the test split's users, 96.7 % of personal questions find their note and no general question
    /// gets a memory (docs/personalization.md). Both weight sets share the one threshold's meaning but
    /// not its value, so each carries its own.
    public static let calibrated = RelevanceModel(
        dense: [-14.788, 20.899, -1.694, 18.551, 11.522, -11.000, 21.473, -16.826], denseThreshold: 0.27,
        lexicalOnly: [-7.563, 24.167, 3.963, -11.411], lexicalThreshold: 0.20)

    /// The probability that an item with these features is relevant.
    /// - Parameter lead: the cosine minus the best cosine of the other candidates (negative unless it is the nearest).
    public func probability(similarity: Double?, lead: Double = 0, coverage: Double, selfReference: Bool) -> Double {
        let x = Self.features(similarity: similarity, lead: lead, coverage: coverage, selfReference: selfReference)
        let w = similarity == nil ? lexicalOnly : dense
        return 1 / (1 + exp(-zip(w, x).reduce(0) { $0 + $1.0 * $1.1 }))
    }

    /// The regression's inputs, in the order of `dense` (or `lexicalOnly` without a cosine).
    public static func features(similarity: Double?, lead: Double, coverage: Double, selfReference: Bool) -> [Double] {
        let s = selfReference ? 1.0 : 0.0
        if let similarity {
            return [1, similarity, lead, coverage, s, s * similarity, s * lead, s * coverage]
        }
        return [1, coverage, s, s * coverage]
    }

    /// Whether `question` speaks of the user (first person singular: "my", "I", "me", "mine", "myself"; "our"
    /// and "we" are as often everyone's: "our solar system").
    public static func refersToUser(_ question: String) -> Bool {
        let words = Set(BlindIndex.terms(in: question))
        return !words.isDisjoint(with: ["i", "my", "me", "mine", "myself"])
    }
}
