public import Foundation
public import Memory
import Seal

/// Fits and checks the memory's relevance model (`RelevanceModel`) on labelled (question, note)
/// pairs of `QAUsers`: each user's notes go into a fresh sealed store (with the sentence encoder when
/// given, so the cosine is the one retrieval computes), every question is searched with threshold 0,
/// and each (question, note) pair's features — cosine, term coverage, first person — are labelled
/// relevant or not. Logistic regression (Newton's method, a little L2) gives the weights; the
/// threshold is the probability that keeps every general question empty on the fitting split while
/// finding the most personal ones.
public struct RelevanceCalibration {
    /// One labelled pair's features.
    public struct Sample: Sendable {
        public var similarity: Double?
        public var lead: Double
        public var coverage: Double
        public var selfReference: Bool
        public var asksAdvice: Bool
        public var relevant: Bool
        public var questionID: String
        public var user: String
        public var general: Bool
        public var question: String
        public var note: String
    }

    /// How a model does on a set of samples, question by question as retrieval uses it.
    public struct Report: Sendable {
        /// Pairs: precision and recall of "relevant" at the threshold.
        public var precision: Double
        public var recall: Double
        /// Personal questions whose own note passes (the answer's fact reaches the prompt).
        public var personalFound: Double
        /// General questions for which any note passes (their prompt would differ from the base's).
        public var generalWithMemory: Double
        public var pairs: Int
        public var questions: Int
    }

    public let embedder: (any TextEmbedder)?

    public init(embedder: (any TextEmbedder)?) { self.embedder = embedder }

    /// The labelled features of every (question, note) pair of `users` (notes added in order, so
    /// replacements supersede; replaced notes are scored too, through `includeReplaced`).
    public func samples(_ users: [QAUser]) throws -> [Sample] {
        let labels = Dictionary(QAUsers.relevancePairs(users).map { ("\($0.user)|\($0.questionID)|\($0.note)", $0.relevant) },
                                uniquingKeysWith: { a, _ in a })
        var out: [Sample] = []
        for user in users {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let store = try MemoryStore(path: dir.appendingPathComponent("memory.sqlite").path, key: DataKey.generate(), embedder: embedder)
            var day = Date(timeIntervalSince1970: 1_780_000_000)
            for note in user.notes {
                try store.add(NewItem(kind: .note, content: ItemContent(text: note.text, source: "calibrate"), tier: .long,
                                      importance: 0.9, created: day))
                day += 86400
            }
            let probe = RelevanceModel.calibrated.withThreshold(0)
            for q in user.questions {
                let hits = try store.search(q.text, limit: 1000, includeReplaced: true, relevance: probe, rehearse: false)
                var seen: Set<String> = []
                for h in hits {
                    seen.insert(h.item.content.text)
                    out.append(Sample(similarity: h.similarity, lead: h.lead ?? 0, coverage: h.coverage ?? 0, selfReference: RelevanceModel.refersToUser(q.text),
                                      asksAdvice: RelevanceModel.asksAdvice(q.text),
                                      relevant: labels["\(user.id)|\(q.id)|\(h.item.content.text)"] ?? false,
                                      questionID: q.id, user: user.id, general: q.kind == .general, question: q.text,
                                      note: h.item.content.text))
                }
                // Notes the search did not even find: features 0, and labelled all the same.
                for note in user.notes where !seen.contains(note.text) {
                    out.append(Sample(similarity: embedder == nil ? nil : 0, lead: -1, coverage: 0, selfReference: RelevanceModel.refersToUser(q.text),
                                      asksAdvice: RelevanceModel.asksAdvice(q.text),
                                      relevant: labels["\(user.id)|\(q.id)|\(note.text)"] ?? false,
                                      questionID: q.id, user: user.id, general: q.kind == .general, question: q.text, note: note.text))
                }
            }
        }
        return out
    }

    /// Logistic regression on the samples: dense weights when they have a cosine, lexical-only otherwise.
    public static func fit(_ samples: [Sample], l2: Double = 1e-2, iterations: Int = 50) -> [Double] {
        let rows: [[Double]] = samples.map {
            RelevanceModel.features(similarity: $0.similarity, lead: $0.lead, coverage: $0.coverage, selfReference: $0.selfReference,
                                    asksAdvice: $0.asksAdvice)
        }
        let y = samples.map { $0.relevant ? 1.0 : 0.0 }
        let d = rows.first?.count ?? 0
        var w = [Double](repeating: 0, count: d)
        for _ in 0..<iterations {
            var gradient = [Double](repeating: 0, count: d)
            var hessian = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
            for (x, t) in zip(rows, y) {
                let z = zip(w, x).reduce(0) { $0 + $1.0 * $1.1 }
                let p = 1 / (1 + exp(-z))
                for i in 0..<d {
                    gradient[i] += (p - t) * x[i]
                    for j in 0..<d { hessian[i][j] += p * (1 - p) * x[i] * x[j] }
                }
            }
            for i in 0..<d { gradient[i] += l2 * w[i]; hessian[i][i] += l2 }
            let step = solve(hessian, gradient)
            for i in 0..<d { w[i] -= step[i] }
            if step.map(abs).max() ?? 0 < 1e-9 { break }
        }
        return w
    }

    /// The threshold (0.05…0.99 in steps of 0.01) that finds the most personal questions' notes while
    /// letting memory into at most `generalBudget` of the general questions.
    public static func threshold(for model: RelevanceModel, _ samples: [Sample], generalBudget: Double = 0.01) -> Double {
        var best = (t: 0.99, found: -1.0)
        for step in 5...99 {
            let t = Double(step) / 100
            let r = evaluate(model.withThreshold(t), samples)
            if r.generalWithMemory <= generalBudget, r.personalFound > best.found { best = (t, r.personalFound) }
        }
        return best.t
    }

    public static func evaluate(_ model: RelevanceModel, _ samples: [Sample]) -> Report {
        var tp = 0, fp = 0, fn = 0
        var personalQuestions: Set<String> = [], personalFound: Set<String> = []
        var generalQuestions: Set<String> = [], generalHit: Set<String> = []
        for s in samples {
            let key = s.user + "|" + s.questionID
            let pass = model.accepts(similarity: s.similarity, lead: s.lead, coverage: s.coverage, selfReference: s.selfReference,
                                     asksAdvice: s.asksAdvice)
            if pass && s.relevant { tp += 1 } else if pass { fp += 1 } else if s.relevant { fn += 1 }
            if s.general {
                generalQuestions.insert(key)
                if pass { generalHit.insert(key) }
            } else {
                personalQuestions.insert(key)
                if pass && s.relevant { personalFound.insert(key) }
            }
        }
        return Report(precision: tp + fp == 0 ? 1 : Double(tp) / Double(tp + fp), recall: tp + fn == 0 ? 1 : Double(tp) / Double(tp + fn),
                      personalFound: personalQuestions.isEmpty ? 1 : Double(personalFound.count) / Double(personalQuestions.count),
                      generalWithMemory: generalQuestions.isEmpty ? 0 : Double(generalHit.count) / Double(generalQuestions.count),
                      pairs: samples.count, questions: personalQuestions.count + generalQuestions.count)
    }

    /// Solves a small symmetric positive-definite system by Gaussian elimination with partial pivoting.
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double] {
        let n = b.count
        var m = a
        var v = b
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot); v.swapAt(col, pivot)
            guard abs(m[col][col]) > 1e-12 else { continue }
            for row in (col + 1)..<n {
                let f = m[row][col] / m[col][col]
                for k in col..<n { m[row][k] -= f * m[col][k] }
                v[row] -= f * v[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            let s = ((row + 1)..<n).reduce(v[row]) { $0 - m[row][$1] * x[$1] }
            x[row] = abs(m[row][row]) > 1e-12 ? s / m[row][row] : 0
        }
        return x
    }
}
