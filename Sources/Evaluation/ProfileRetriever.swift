import Foundation

/// BM25 over a user's profile (k1 = 1.5, b = 0.75 as in the `rank_bm25` package LaMP and OPPU use,
/// with Lucene's idf log(1 + (N − n + ½)/(n + ½)), which stays positive for common words), on
/// `rouge_score`-style tokens of the task's query and document texts. For the non-model reference engines and
/// tests; the assistant pipeline retrieves from its own encrypted memory.
public enum ProfileRetriever {
    /// Indices of the `k` best profile items for a question input, best first (ties: file order).
    public static func topK(task: LaMPTask, input: String, profile: [LaMPProfileItem], k: Int) -> [Int] {
        guard k > 0, !profile.isEmpty else { return [] }
        let documents = profile.map { Metrics.rougeTokens(task.retrievalDocument($0)) }
        let query = Metrics.rougeTokens(task.retrievalQuery(input))
        let averageLength = Double(documents.reduce(0) { $0 + $1.count }) / Double(documents.count)
        var documentFrequency: [String: Int] = [:]
        for d in documents { for t in Set(d) { documentFrequency[t, default: 0] += 1 } }
        let n = Double(documents.count)
        let k1 = 1.5, b = 0.75
        let scores: [Double] = documents.map { d in
            var tf: [String: Int] = [:]
            for t in d { tf[t, default: 0] += 1 }
            var score = 0.0
            for q in query {
                guard let f = tf[q], let df = documentFrequency[q] else { continue }
                let idf = log((n - Double(df) + 0.5) / (Double(df) + 0.5) + 1)
                let norm = Double(f) * (k1 + 1) / (Double(f) + k1 * (1 - b + b * Double(d.count) / max(averageLength, 1)))
                score += idf * norm
            }
            return score
        }
        return scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            .prefix(k).map { $0 }
    }
}

/// A reference engine without a model: answers with the user's own output of the profile item most
/// like the question (BM25 top-1). It shows how far copying the nearest history item goes, and lets
/// `peval run` work before the model pipeline is plugged in. It ignores the method.
public struct NearestItemEngine: AnswerEngine {
    public var name: String { "nearest" }
    var profile: [LaMPProfileItem] = []
    var task: LaMPTask = .movieTagging

    public init() {}

    public mutating func prepare(user: String, profile: [LaMPProfileItem], settings: RunSettings) async throws {
        self.profile = profile
        self.task = settings.task
    }

    public mutating func answer(_ question: LaMPQuestion) async throws -> String {
        guard let best = ProfileRetriever.topK(task: task, input: question.input, profile: profile, k: 1).first else { return "" }
        return Self.output(of: profile[best], task: task)
    }

    /// The user's own output in a profile item: the tag, score, headline, title or tweet.
    static func output(of item: LaMPProfileItem, task: LaMPTask) -> String {
        switch task {
        case .movieTagging: item["tag"] ?? ""
        case .productRating: item["score"] ?? ""
        case .newsHeadline, .scholarlyTitle, .emailSubject, .citation: item["title"] ?? ""
        case .tweetParaphrase: item["text"] ?? ""
        }
    }
}

/// A reference engine without a model: always the user's most frequent output (classification and
/// ratings; for generation, the first profile item's output). Ties go to the earliest.
public struct MajorityEngine: AnswerEngine {
    public var name: String { "majority" }
    var answer = ""

    public init() {}

    public mutating func prepare(user: String, profile: [LaMPProfileItem], settings: RunSettings) async throws {
        let outputs = profile.map { NearestItemEngine.output(of: $0, task: settings.task) }
        var counts: [String: Int] = [:]
        for o in outputs { counts[o, default: 0] += 1 }
        answer = outputs.max { counts[$0, default: 0] < counts[$1, default: 0] } ?? ""
        if let first = outputs.first(where: { counts[$0] == counts[answer] }) { answer = first }
    }

    public mutating func answer(_ question: LaMPQuestion) async throws -> String { answer }
}
