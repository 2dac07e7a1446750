/// Key-word scoring of open answers (`peval qa`): pure functions of the answer text.
///
/// Both the answer and a key are reduced to words (lowercase letters and digits; everything else
/// separates, and an ordinal's suffix goes: "3rd" is "3"), and a key matches when its words appear
/// in the answer's words in order and next to each other. So "Flat white." matches "flat white",
/// "March 3rd" matches "March 3", but "Porto" does not match "Portobello" and "4" does not match "42".
public enum QAScoring {
    /// The text as matching words.
    public static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber {
                current.append(ch)
            } else if !current.isEmpty {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out.map(dropOrdinalSuffix)
    }

    private static func dropOrdinalSuffix(_ word: String) -> String {
        guard word.count > 2, ["st", "nd", "rd", "th"].contains(String(word.suffix(2))) else { return word }
        let digits = word.dropLast(2)
        return digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) ? String(digits) : word
    }

    /// Whether `key`'s words occur, in order and adjacent, among `answer`'s words. An empty key
    /// matches nothing.
    public static func contains(_ answer: String, key: String) -> Bool {
        contains(words: words(answer), key: words(key))
    }

    static func contains(words answer: [String], key: [String]) -> Bool {
        guard !key.isEmpty, key.count <= answer.count else { return false }
        for start in 0...(answer.count - key.count) where answer[start] == key[0] {
            if answer[start..<start + key.count].elementsEqual(key) { return true }
        }
        return false
    }

    /// Whether any of `keys` occurs in `answer`.
    public static func containsAny(_ answer: String, keys: [String]) -> Bool {
        let a = words(answer)
        return keys.contains { contains(words: a, key: words($0)) }
    }

    /// Judges one answer. Personal: right when the current value is there; about a replaced fact,
    /// newest-wins also needs the outdated value absent. General: right when an accepted key word is
    /// there; leaked when any of the user's personal values (current or outdated) is there.
    public static func judge(_ answer: String, question: QAQuestion, personalValues: [String]) -> QAJudgement {
        let right = containsAny(answer, keys: question.expected)
        switch question.kind {
        case .personal:
            let newest = question.outdated.map { right && !contains(answer, key: $0) }
            return QAJudgement(right: right, newestWins: newest, leaked: nil)
        case .general:
            return QAJudgement(right: right, newestWins: nil, leaked: containsAny(answer, keys: personalValues))
        }
    }
}

/// What `QAScoring.judge` found in one answer.
public struct QAJudgement: Codable, Sendable, Equatable {
    /// The answer contains an expected key word.
    public var right: Bool
    /// For a personal question about a replaced fact: the new value is there and the old one is not.
    public var newestWins: Bool?
    /// For a general question: the answer contains one of the user's personal values.
    public var leaked: Bool?

    public init(right: Bool, newestWins: Bool?, leaked: Bool?) {
        self.right = right
        self.newestWins = newestWins
        self.leaked = leaked
    }
}

/// One answered question, as `peval qa run --answers` writes it (one JSON object a line).
public struct QAAnswer: Codable, Sendable, Equatable {
    public var method: String
    public var user: String
    public var questionID: String
    public var kind: QAQuestion.Kind
    /// General questions: shares words or meaning with one of the user's facts.
    public var related: Bool
    public var question: String
    public var answer: String
    public var expected: [String]
    public var outdated: String?
    public var judgement: QAJudgement
    public var seconds: Double
    /// The notes the answer's prompt held (for nearest: the note given as the answer).
    public var retrieved: [String]?
    /// The profile summary the answer's prompt held.
    public var profile: String?

    public init(method: String, user: String, question: QAQuestion, answer: String, judgement: QAJudgement, seconds: Double) {
        self.method = method
        self.user = user
        questionID = question.id
        kind = question.kind
        related = question.related
        self.question = question.text
        self.answer = answer
        expected = question.expected
        outdated = question.outdated
        self.judgement = judgement
        self.seconds = seconds
    }
}

/// A method's figures over a run's answers. A figure is nil when no question measures it (no
/// replaced facts, no general questions, no base answers to compare with).
public struct QAScores: Codable, Sendable, Equatable {
    /// Personal questions whose answer contains the current value.
    public var personalRecall: Double?
    /// Questions about replaced facts answered with the new value and without the old one.
    public var newestWins: Double?
    /// Of the general questions the base model (method none) answers right, the fraction this
    /// method answers right too (1 = no worse than the base model).
    public var generalRetention: Double?
    /// How many of those base-right general questions this method gets wrong.
    public var baseRightNowWrong: Int?
    /// General answers containing one of the user's personal values.
    public var leakage: Double?
    public var personalQuestions: Int
    public var replacedQuestions: Int
    public var generalQuestions: Int
    /// General questions the base model answers right (the denominator of retention).
    public var baseRight: Int?

    /// Scores `answers`; `baseRight` is the set of general question ids the base model answers right
    /// (nil: unknown, no retention).
    public static func compute(_ answers: [QAAnswer], baseRight: Set<String>?) -> QAScores {
        func fraction(_ hits: Int, _ count: Int) -> Double? { count == 0 ? nil : Double(hits) / Double(count) }
        let personal = answers.filter { $0.kind == .personal }
        let replaced = personal.compactMap(\.judgement.newestWins)
        let general = answers.filter { $0.kind == .general }
        var s = QAScores(personalQuestions: personal.count, replacedQuestions: replaced.count, generalQuestions: general.count)
        s.personalRecall = fraction(personal.filter(\.judgement.right).count, personal.count)
        s.newestWins = fraction(replaced.filter { $0 }.count, replaced.count)
        s.leakage = fraction(general.filter { $0.judgement.leaked == true }.count, general.count)
        if let baseRight {
            let measured = general.filter { baseRight.contains($0.questionID) }
            let kept = measured.filter(\.judgement.right).count
            s.baseRight = measured.count
            s.generalRetention = fraction(kept, measured.count)
            s.baseRightNowWrong = measured.count - kept
        }
        return s
    }

    init(personalQuestions: Int, replacedQuestions: Int, generalQuestions: Int) {
        self.personalQuestions = personalQuestions
        self.replacedQuestions = replacedQuestions
        self.generalQuestions = generalQuestions
    }
}
