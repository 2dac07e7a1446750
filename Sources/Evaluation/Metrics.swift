/// LaMP's metrics, computed as LaMP's evaluation code computes them:
/// - classification (LaMP-1, 2): accuracy, and macro-F1 over the task's whole label set (scikit-learn
///   `f1_score(average="macro", labels=all labels)`: a label no gold and no prediction names counts
///   0, an answer that names no label is wrong for its gold and a false positive for no label);
/// - rating (LaMP-3): MAE and RMSE, an unparsable answer counting as the farthest of 1 and 5 from the gold;
/// - generation (LaMP-4, 5, 6, 7): ROUGE-1 and ROUGE-L F-measure with the `rouge_score` package's
///   tokenisation (lower case, every run of characters outside a–z and 0–9 a separator) and no
///   stemming, averaged over questions (LaMP's `evaluate` wrapper reports the bootstrap median of
///   that mean, which differs from it only in sampling noise).
public enum Metrics {
    // MARK: Classification

    /// The share of answers equal to their gold; nil answers (no label named) are wrong.
    public static func accuracy(predictions: [String?], golds: [String]) -> Double {
        precondition(predictions.count == golds.count, "one prediction per gold")
        guard !golds.isEmpty else { return 0 }
        let right = zip(predictions, golds).filter { $0.0 == $0.1 }.count
        return Double(right) / Double(golds.count)
    }

    /// Macro-averaged F1 over `labels`.
    public static func macroF1(predictions: [String?], golds: [String], labels: [String]) -> Double {
        precondition(predictions.count == golds.count, "one prediction per gold")
        guard !labels.isEmpty else { return 0 }
        var total = 0.0
        for label in labels {
            var tp = 0, fp = 0, fn = 0
            for (p, g) in zip(predictions, golds) {
                if p == label && g == label { tp += 1 }
                else if p == label { fp += 1 }
                else if g == label { fn += 1 }
            }
            let denominator = 2 * tp + fp + fn
            total += denominator == 0 ? 0 : Double(2 * tp) / Double(denominator)
        }
        return total / Double(labels.count)
    }

    // MARK: Rating

    /// The rating LaMP scores for an answer that gives none: the farther of 1 and 5 from the gold
    /// (5 for a gold of 3, as LaMP's `abs(1 - y) > abs(5 - y)` test gives).
    public static func farthestRating(from gold: Int) -> Int {
        if gold == 1 { return 5 }
        if gold == 5 { return 1 }
        return abs(1 - gold) > abs(5 - gold) ? 1 : 5
    }

    /// Mean absolute and root-mean-square error; nil predictions count as `farthestRating`.
    public static func ratingErrors(predictions: [Int?], golds: [Int]) -> (mae: Double, rmse: Double) {
        precondition(predictions.count == golds.count, "one prediction per gold")
        guard !golds.isEmpty else { return (0, 0) }
        var absolute = 0.0, squared = 0.0
        for (p, g) in zip(predictions, golds) {
            let e = Double((p ?? farthestRating(from: g)) - g)
            absolute += abs(e)
            squared += e * e
        }
        let n = Double(golds.count)
        return (absolute / n, (squared / n).squareRoot())
    }

    // MARK: ROUGE

    /// `rouge_score`'s default tokenisation: lower-case, every character outside a–z and 0–9 becomes
    /// a space, split on spaces (no stemming).
    public static func rougeTokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                tokens.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// ROUGE-1 F-measure of one prediction against one reference.
    public static func rouge1(prediction: String, reference: String) -> Double {
        let p = rougeTokens(prediction), r = rougeTokens(reference)
        var referenceCounts: [String: Int] = [:]
        for t in r { referenceCounts[t, default: 0] += 1 }
        var predictionCounts: [String: Int] = [:]
        for t in p { predictionCounts[t, default: 0] += 1 }
        var overlap = 0
        for (t, c) in predictionCounts { overlap += min(c, referenceCounts[t] ?? 0) }
        let precision = Double(overlap) / Double(max(p.count, 1))
        let recall = Double(overlap) / Double(max(r.count, 1))
        return fMeasure(precision, recall)
    }

    /// ROUGE-L (longest common subsequence) F-measure of one prediction against one reference.
    public static func rougeL(prediction: String, reference: String) -> Double {
        let p = rougeTokens(prediction), r = rougeTokens(reference)
        guard !p.isEmpty, !r.isEmpty else { return 0 }
        // One row of the LCS table at a time: previous[j] = LCS(r[..<i], p[..<j]).
        var previous = [Int](repeating: 0, count: p.count + 1)
        var row = previous
        for i in 0..<r.count {
            for j in 0..<p.count {
                row[j + 1] = r[i] == p[j] ? previous[j] + 1 : max(previous[j + 1], row[j])
            }
            swap(&previous, &row)
        }
        let lcs = Double(previous[p.count])
        return fMeasure(lcs / Double(p.count), lcs / Double(r.count))
    }

    static func fMeasure(_ precision: Double, _ recall: Double) -> Double {
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }
}
