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

    /// Behaviour items (an input and what the user did with it) are examples, not facts: they are used
    /// for a question that resembles their inputs — a task like the ones the user did — at a cosine of
    /// at least this (or, without the encoder, this share of the question's term weight), OPPU's top k
    /// among them. Not calibrated on labelled pairs: the labelled set holds notes only.
    public var behaviourSimilarity = 0.3

    /// Whether a behaviour item this close to the question is used.
    public func acceptsBehaviour(similarity: Double?, coverage: Double) -> Bool {
        similarity.map { $0 >= behaviourSimilarity } ?? (coverage >= behaviourSimilarity)
    }

    /// The threshold that applies when the cosine is known or not.
    public func threshold(dense: Bool) -> Double { dense ? denseThreshold : lexicalThreshold }

    /// Whether an item with these features is used.
    public func accepts(similarity: Double?, lead: Double = 0, coverage: Double, selfReference: Bool, asksAdvice: Bool = false) -> Bool {
        probability(similarity: similarity, lead: lead, coverage: coverage, selfReference: selfReference, asksAdvice: asksAdvice)
            >= threshold(dense: similarity != nil)
    }

    /// This model with both thresholds set to `t` (0 keeps every candidate, with its probability).
    public func withThreshold(_ t: Double) -> RelevanceModel {
        var m = self
        m.denseThreshold = t
        m.lexicalThreshold = t
        return m
    }

    /// Fitted by `peval qa calibrate --users 30` on the tune split (30 users, labelled (question, note)
    /// pairs; 1 % of its general questions allowed a memory): on the test split's users, 93.8 % of
    /// personal questions find their note and 4.3 % of general questions get one (the hard ones:
    /// "What do I use to unlock a door?" beside a bike-lock code) — docs/personalization.md. Each
    /// weight set has its own threshold.
    public static let calibrated = RelevanceModel(
        dense: [-14.227, 20.626, -0.494, 18.099, 9.471, -7.365, 18.373, -16.768, -2.889], denseThreshold: 0.49,
        lexicalOnly: [-7.347, 23.834, 3.693, -10.960, -0.477], lexicalThreshold: 0.22)

    /// The probability that an item with these features is relevant.
    /// - Parameter lead: the cosine minus the best cosine of the other candidates (negative unless it is the nearest).
    public func probability(similarity: Double?, lead: Double = 0, coverage: Double, selfReference: Bool,
                            asksAdvice: Bool = false) -> Double {
        let x = Self.features(similarity: similarity, lead: lead, coverage: coverage, selfReference: selfReference, asksAdvice: asksAdvice)
        let w = similarity == nil ? lexicalOnly : dense
        return 1 / (1 + exp(-zip(w, x).reduce(0) { $0 + $1.0 * $1.1 }))
    }

    /// The regression's inputs, in the order of `dense` (or `lexicalOnly` without a cosine).
    public static func features(similarity: Double?, lead: Double, coverage: Double, selfReference: Bool,
                                asksAdvice: Bool = false) -> [Double] {
        let s = selfReference ? 1.0 : 0.0
        let a = selfReference && asksAdvice ? 1.0 : 0.0
        if let similarity {
            return [1, similarity, lead, coverage, s, s * similarity, s * lead, s * coverage, a]
        }
        return [1, coverage, s, s * coverage, a]
    }

    /// Whether `question` asks for advice or a method ("How do I…", "What should I…", "Can I…") rather
    /// than for something about the user ("Where do I live?"); such questions rarely need a note.
    public static func asksAdvice(_ question: String) -> Bool {
        let words = BlindIndex.terms(in: question)
        if !Set(words).isDisjoint(with: ["should", "can", "could", "would", "need", "best", "way", "tips", "help", "recommend"]) { return true }
        guard words.first == "how", words.count > 1 else { return false }
        return !["old", "many", "much", "long", "tall", "far", "often"].contains(words[1])
    }

    /// Whether `question` speaks of the user (first person singular: "my", "I", "me", "mine", "myself"; "our"
    /// and "we" are as often everyone's: "our solar system").
    public static func refersToUser(_ question: String) -> Bool {
        let words = Set(BlindIndex.terms(in: question))
        return !words.isDisjoint(with: ["i", "my", "me", "mine", "myself"])
    }
}
