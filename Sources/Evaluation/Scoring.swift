import Diagnostics
import Foundation

/// One named figure of a report: `accuracy`, `f1`, `mae`, `rmse`, `rouge-1`, `rouge-L`.
public struct MetricValue: Sendable, Equatable, Codable {
    public var name: String
    public var value: Double

    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }
}

extension LaMPTask {
    /// The names of this task's metrics, in report order; the first is the headline figure.
    public var metricNames: [String] {
        switch kind {
        case .classification: ["accuracy", "f1"]
        case .regression: ["mae", "rmse"]
        case .generation: ["rouge-1", "rouge-L"]
        }
    }

    /// Whether a larger value of `metric` is better (MAE and RMSE are errors).
    public static func higherIsBetter(_ metric: String) -> Bool { !["mae", "rmse"].contains(metric) }

    /// Scores raw answers against golds with this task's metrics. Answers are parsed first
    /// (`parseLabel` for classification and ratings, trimmed for generation).
    public func score(answers: [String], golds: [String]) throws -> [MetricValue] {
        guard answers.count == golds.count else {
            throw EvaluationError(.mismatch, "\(answers.count) answers for \(golds.count) golds")
        }
        switch kind {
        case .classification:
            let parsed = answers.map { parseLabel($0) }
            let golds = golds.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            return [
                MetricValue("accuracy", Metrics.accuracy(predictions: parsed, golds: golds)),
                MetricValue("f1", Metrics.macroF1(predictions: parsed, golds: golds, labels: labels)),
            ]
        case .regression:
            var ratings: [Int] = []
            for (n, g) in golds.enumerated() {
                guard let r = Int(g.trimmingCharacters(in: .whitespacesAndNewlines)), (1...5).contains(r) else {
                    throw EvaluationError(.badFile, "gold \(n + 1) of \(self) is not a rating 1–5")
                }
                ratings.append(r)
            }
            let parsed = answers.map { parseLabel($0).flatMap { Int($0) } }
            let e = Metrics.ratingErrors(predictions: parsed, golds: ratings)
            return [MetricValue("mae", e.mae), MetricValue("rmse", e.rmse)]
        case .generation:
            guard !golds.isEmpty else { return [MetricValue("rouge-1", 0), MetricValue("rouge-L", 0)] }
            var r1 = 0.0, rl = 0.0
            for (a, g) in zip(answers, golds) {
                let p = normalizedGeneration(a), r = g.trimmingCharacters(in: .whitespacesAndNewlines)
                r1 += Metrics.rouge1(prediction: p, reference: r)
                rl += Metrics.rougeL(prediction: p, reference: r)
            }
            let n = Double(golds.count)
            return [MetricValue("rouge-1", r1 / n), MetricValue("rouge-L", rl / n)]
        }
    }

    /// Scores a predictions file against a gold file: same task, every gold predicted once.
    public func score(predictions: LaMPOutputs, golds: LaMPOutputs) throws -> [MetricValue] {
        guard predictions.task == golds.task else {
            throw EvaluationError(.mismatch, "the predictions are for \(predictions.task) but the golds for \(golds.task)")
        }
        var byId: [String: String] = [:]
        for p in predictions.golds {
            guard byId.updateValue(p.output, forKey: p.id) == nil else {
                throw EvaluationError(.mismatch, "the predictions file has two outputs for id \(p.id)")
            }
        }
        var answers: [String] = []
        for g in golds.golds {
            guard let a = byId[g.id] else {
                throw EvaluationError(.mismatch, "the predictions file has no output for id \(g.id)")
            }
            answers.append(a)
        }
        if byId.count != golds.golds.count {
            throw EvaluationError(.mismatch, "the predictions file has \(byId.count - golds.golds.count) outputs for ids the gold file does not have")
        }
        return try score(answers: answers, golds: golds.golds.map(\.output))
    }
}
