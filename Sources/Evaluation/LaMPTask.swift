import Foundation

/// The seven LaMP tasks (arXiv 2304.11406), with the prompt wording and history-item formats of the
/// LaMP and OPPU (arXiv 2402.04401) code, so results compare with theirs.
///
/// Question inputs, as the LaMP files hold them:
///   1  For an author who has written the paper with the title "…", which reference is related? Just
///      answer with [1] or [2] without explanation. [1]: "…" [2]: "…"
///   2  Which tag does this movie relate to among the following tags? Just answer with the tag name
///      without further explanation. tags: [sci-fi, …, true story] description: …
///   3  What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4,
///      or 5 without further explanation. review: …
///   4  Generate a headline for the following article: …
///   5  Generate a title for the following abstract of a paper: …
///   6  Generate a subject for the following email: …
///   7  Paraphrase the following tweet without any explanation before or after it: …
public enum LaMPTask: Int, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case citation = 1
    case movieTagging = 2
    case productRating = 3
    case newsHeadline = 4
    case scholarlyTitle = 5
    case emailSubject = 6
    case tweetParaphrase = 7

    /// How answers are scored.
    public enum Kind: String, Sendable {
        /// Accuracy and macro-F1 over `labels`.
        case classification
        /// MAE and RMSE on 1…5.
        case regression
        /// ROUGE-1 and ROUGE-L.
        case generation
    }

    /// Accepts `LaMP_2`, `LaMP-2`, `lamp2`, `2`.
    public init?(name: String) {
        var s = name.lowercased()
        for prefix in ["lamp_", "lamp-", "lamp"] where s.hasPrefix(prefix) {
            s = String(s.dropFirst(prefix.count))
            break
        }
        guard let n = Int(s), let task = LaMPTask(rawValue: n) else { return nil }
        self = task
    }

    /// The name in LaMP's outputs files: `LaMP_2`.
    public var fileName: String { "LaMP_\(rawValue)" }
    /// The short name of the command line: `lamp2`.
    public var shortName: String { "lamp\(rawValue)" }
    public var description: String { "LaMP-\(rawValue)" }

    public var kind: Kind {
        switch self {
        case .citation, .movieTagging: .classification
        case .productRating: .regression
        case .newsHeadline, .scholarlyTitle, .emailSubject, .tweetParaphrase: .generation
        }
    }

    /// LaMP-2's 15 movie tags, in LaMP's order.
    public static let movieTags = [
        "sci-fi", "based on a book", "comedy", "action", "twist ending", "dystopia", "dark comedy",
        "classic", "psychology", "fantasy", "romance", "thought-provoking", "social commentary",
        "violence", "true story",
    ]

    /// The label set of a classification or rating task (the choices for constrained decoding);
    /// empty for generation tasks.
    public var labels: [String] {
        switch self {
        case .citation: ["[1]", "[2]"]
        case .movieTagging: Self.movieTags
        case .productRating: ["1", "2", "3", "4", "5"]
        default: []
        }
    }

    // MARK: Question inputs

    /// The fixed instruction that precedes the variable text of a question.
    public var instruction: String {
        switch self {
        case .citation:
            "For an author who has written the paper with the title"
        case .movieTagging:
            "Which tag does this movie relate to among the following tags? Just answer with the tag name without further explanation. tags: [\(Self.movieTags.joined(separator: ", "))] description:"
        case .productRating:
            "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2, 3, 4, or 5 without further explanation. review:"
        case .newsHeadline: "Generate a headline for the following article:"
        case .scholarlyTitle: "Generate a title for the following abstract of a paper:"
        case .emailSubject: "Generate a subject for the following email:"
        case .tweetParaphrase: "Paraphrase the following tweet without any explanation before or after it:"
        }
    }

    /// A question input in LaMP's wording around `text` (the description, review, article,
    /// abstract, email or tweet). LaMP-1 needs `citationInput` instead.
    public func questionInput(_ text: String) -> String {
        "\(instruction) \(text)"
    }

    /// LaMP-1's question: which of two references the author of `title` would cite.
    public static func citationInput(title: String, reference1: String, reference2: String) -> String {
        "For an author who has written the paper with the title \"\(title)\", which reference is related? Just answer with [1] or [2] without explanation. [1]: \"\(reference1)\" [2]: \"\(reference2)\""
    }

    /// The variable part of a question input (what LaMP's retrievers use as the query): the text
    /// after `description: `, `review: `, `article: `, `paper: ` or the first `: `; for LaMP-1 the two
    /// references. The whole input when the keyword is missing.
    public func retrievalQuery(_ input: String) -> String {
        switch self {
        case .citation:
            let quoted = Self.quotedStrings(input)
            return quoted.count >= 3 ? "\(quoted[1]) \(quoted[2])" : input
        case .movieTagging: return Self.after("description:", in: input)
        case .productRating: return Self.after("review:", in: input)
        case .newsHeadline: return Self.after("article:", in: input)
        case .scholarlyTitle: return Self.after("paper:", in: input)
        case .emailSubject, .tweetParaphrase: return Self.after(":", in: input)
        }
    }

    // MARK: Profile items

    /// The profile item as a retrieval document, as LaMP's retrievers index it.
    public func retrievalDocument(_ item: LaMPProfileItem) -> String {
        switch self {
        case .citation, .scholarlyTitle: "\(item["title"] ?? "") \(item["abstract"] ?? "")"
        case .movieTagging: item["description"] ?? ""
        case .productRating, .emailSubject, .tweetParaphrase: item["text"] ?? ""
        case .newsHeadline: "\(item["title"] ?? "") \(item["text"] ?? "")"
        }
    }

    /// The profile item as a supervised example in the task's own question style: what the personal
    /// adapter trains on (OPPU's `OPPU_input` / `OPPU_full`, with LaMP's question wording). The target
    /// is the user's own output. Nil when the item lacks the task's fields.
    ///
    /// LaMP-1 profiles hold the user's papers, not citation choices: an item trains title writing
    /// from the abstract (the user's topics and wording). LaMP-7 profiles hold only tweets: an item
    /// trains writing a tweet in the user's voice (OPPU's `tweet:` prompt).
    public func trainingExample(_ item: LaMPProfileItem) -> (prompt: String, target: String)? {
        switch self {
        case .citation:
            guard let title = item["title"], let abstract = item["abstract"] else { return nil }
            return (LaMPTask.scholarlyTitle.questionInput(abstract), title)
        case .movieTagging:
            guard let d = item["description"], let tag = item["tag"] else { return nil }
            return (questionInput(d), tag)
        case .productRating:
            guard let text = item["text"], let score = item["score"] else { return nil }
            return (questionInput(text), score)
        case .newsHeadline, .emailSubject:
            guard let text = item["text"], let title = item["title"] else { return nil }
            return (questionInput(text), title)
        case .scholarlyTitle:
            guard let abstract = item["abstract"], let title = item["title"] else { return nil }
            return (questionInput(abstract), title)
        case .tweetParaphrase:
            guard let text = item["text"] else { return nil }
            return ("tweet:", text)
        }
    }

    /// One retrieved profile item as LaMP's retrieval-augmented prompt writes it, e.g. LaMP-2
    /// `the tag for the movie: "{description}" is "{tag}" `. `maxWords` truncates the item's long
    /// text (LaMP truncates by tokens to fit its input budget).
    public func historyEntry(_ item: LaMPProfileItem, maxWords: Int? = nil) -> String {
        func cut(_ s: String?) -> String { Self.truncate(s ?? "", maxWords: maxWords) }
        switch self {
        case .citation: return "\"\(cut(item["title"]))\""
        case .movieTagging: return "the tag for the movie: \"\(cut(item["description"]))\" is \"\(item["tag"] ?? "")\" "
        case .productRating: return "\(item["score"] ?? "") is the score for \"\(cut(item["text"]))\" "
        case .newsHeadline, .emailSubject: return "\"\(item["title"] ?? "")\" is the title for \"\(cut(item["text"]))\" "
        case .scholarlyTitle: return "\"\(item["title"] ?? "")\" is a title for \"\(cut(item["abstract"]))\" "
        case .tweetParaphrase: return "\"\(cut(item["text"]))\" "
        }
    }

    /// LaMP's retrieval-augmented prompt: the retrieved items (best first) joined with ", and ",
    /// then the question. LaMP-1 puts the user's titles after the word "title" of the question;
    /// LaMP-5 and LaMP-7 add "Following the given patterns".
    public func ragPrompt(input: String, retrieved: [LaMPProfileItem], maxWords: Int? = nil) -> String {
        guard !retrieved.isEmpty else { return input }
        let joined = retrieved.map { historyEntry($0, maxWords: maxWords) }.joined(separator: ", and ")
        switch self {
        case .citation:
            guard let range = input.range(of: "title") else { return "\(joined). \(input)" }
            return String(input[..<range.upperBound]) + ", and " + joined + String(input[range.upperBound...])
        case .scholarlyTitle:
            return "\(joined). Following the given patterns \(input)"
        case .tweetParaphrase:
            return "\(joined) are written by a person. Following the given patterns \(input)"
        default:
            return "\(joined). \(input)"
        }
    }

    // MARK: Answers

    /// The label an answer names, or nil when it names none. Case and surrounding quotes,
    /// punctuation and spaces are ignored; an answer that is exactly a label wins, otherwise the
    /// label that occurs first in the answer (the longest at the same place, so "dark comedy"
    /// beats "comedy"). LaMP-1 also takes a bare 1 or 2; LaMP-3 takes the first digit 1–5.
    public func parseLabel(_ answer: String) -> String? {
        switch self {
        case .productRating:
            return answer.unicodeScalars.first { ("1"..."5").contains($0) }.map { String($0) }
        case .citation:
            return answer.unicodeScalars.first { $0 == "1" || $0 == "2" }.map { "[\($0)]" }
        case .movieTagging:
            let s = Self.normalizedAnswer(answer)
            if let exact = labels.first(where: { $0 == s }) { return exact }
            var best: (offset: Int, length: Int, label: String)?
            for label in labels {
                guard let r = s.range(of: label) else { continue }
                let offset = s.distance(from: s.startIndex, to: r.lowerBound)
                if let b = best, offset > b.offset || (offset == b.offset && label.count <= b.length) { continue }
                best = (offset, label.count, label)
            }
            return best?.label
        default:
            return nil
        }
    }

    /// A generated answer as it is scored for generation tasks: trimmed (LaMP strips outputs).
    public func normalizedGeneration(_ answer: String) -> String {
        answer.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Text helpers

    static func normalizedAnswer(_ answer: String) -> String {
        let trim: Set<Character> = [" ", "\n", "\t", "\r", "\"", "'", ".", ",", ";", ":", "!", "`", "*"]
        var s = Substring(answer.lowercased())
        while let f = s.first, trim.contains(f) { s = s.dropFirst() }
        while let l = s.last, trim.contains(l) { s = s.dropLast() }
        return String(s)
    }

    static func after(_ keyword: String, in input: String) -> String {
        guard let r = input.range(of: keyword) else { return input }
        return input[r.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    static func quotedStrings(_ s: String) -> [String] {
        var result: [String] = []
        var current = ""
        var inside = false
        for c in s {
            if c == "\"" {
                if inside { result.append(current); current = "" }
                inside.toggle()
            } else if inside {
                current.append(c)
            }
        }
        return result
    }

    static func truncate(_ s: String, maxWords: Int?) -> String {
        guard let maxWords else { return s }
        let words = s.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count > maxWords else { return s }
        return words.prefix(maxWords).joined(separator: " ")
    }
}

extension KeyedDecodingContainer {
    /// A task written by its name (`fileName`, or any name `LaMPTask(name:)` knows) under `key`.
    func decodeLaMPTask(forKey key: Key) throws -> LaMPTask {
        let name = try decode(String.self, forKey: key)
        guard let task = LaMPTask(name: name) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "unknown LaMP task \(name)")
        }
        return task
    }
}
