import Diagnostics
public import Foundation
import Seal

/// The half of `QAUsers`' material a user is drawn from. Nothing is shared between the halves (no
/// template, personal question, value or general question), so that figures on `test` are on users
/// nobody tuned a threshold, prompt or recipe on.
public enum QASplit: String, Codable, Sendable, CaseIterable {
    /// For calibrating retrieval, prompts and the adapter.
    case tune
    /// For reporting only.
    case test
}

/// A changed fact: the statement of the change and the value it brings.
public struct QAReplacement: Codable, Sendable, Equatable {
    /// "I now live in Lisbon.": the original's subject and relation words, with the wording of a change.
    public var statement: String
    public var value: String

    public init(statement: String, value: String) {
        self.statement = statement
        self.value = value
    }
}

/// One thing a user tells the assistant, as they would type it, and the personal questions it answers.
public struct QAFact: Codable, Sendable, Equatable {
    /// The kind of fact (`dog-name`, `home-city`…).
    public var category: String
    /// First person, as typed: "My dog is called Biscuit."
    public var statement: String
    /// The answer's key word(s) while the fact holds: "Biscuit".
    public var value: String
    /// The later statement that replaces this one, if the fact changes.
    public var replacement: QAReplacement?
    /// Paraphrases of the personal question the fact answers: "What is my dog's name?"
    public var questions: [String]

    public init(category: String, statement: String, value: String, replacement: QAReplacement? = nil, questions: [String]) {
        self.category = category
        self.statement = statement
        self.value = value
        self.replacement = replacement
        self.questions = questions
    }

    /// The value a right answer gives now (the replacement's, when there is one).
    public var currentValue: String { replacement?.value ?? value }

    /// The value a right answer must no longer give, for a replaced fact.
    public var outdatedValue: String? { replacement == nil ? nil : value }
}

/// One question put to the assistant for a user, with what a right answer contains.
public struct QAQuestion: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// About one of the user's facts: only memory can answer it.
        case personal
        /// Plain knowledge: memory must not spoil it.
        case general
    }

    /// `u03-p5` (personal) or `u03-g2` (general): unique within a data set.
    public var id: String
    public var kind: Kind
    public var text: String
    /// Key words of a right answer; any one of them is enough (`QAScoring.contains`).
    public var expected: [String]
    /// Personal: the fact's old value, which a right answer about a replaced fact must not give.
    public var outdated: String?
    /// Personal: the fact's category.
    public var category: String?
    /// General: shares words or meaning with one of the user's facts (a hard case for retrieval).
    public var related: Bool

    public init(id: String, kind: Kind, text: String, expected: [String], outdated: String? = nil,
                category: String? = nil, related: Bool = false) {
        self.id = id
        self.kind = kind
        self.text = text
        self.expected = expected
        self.outdated = outdated
        self.category = category
        self.related = related
    }

    /// A personal question about a replaced fact (newest-wins is measured on these).
    public var isAboutReplacedFact: Bool { outdated != nil }
}

/// A note the user adds, in the order they add it.
public struct QANote: Codable, Sendable, Equatable {
    public var text: String
    /// Index into the user's `facts`.
    public var fact: Int
    /// Whether this is a replacement (added after every original statement).
    public var isReplacement: Bool
}

/// One synthetic user: facts (some later replaced) and the questions put to the assistant.
public struct QAUser: Codable, Sendable, Equatable {
    public var id: String
    public var facts: [QAFact]
    /// Every fact's personal questions, then the general ones.
    public var questions: [QAQuestion]

    public init(id: String, facts: [QAFact], questions: [QAQuestion]) {
        self.id = id
        self.facts = facts
        self.questions = questions
    }

    /// The notes as the user adds them: every original statement in fact order, then the replacements.
    public var notes: [QANote] {
        facts.enumerated().map { QANote(text: $1.statement, fact: $0, isReplacement: false) }
            + facts.enumerated().compactMap { i, f in f.replacement.map { QANote(text: $0.statement, fact: i, isReplacement: true) } }
    }

    /// Every personal value, current and outdated: a general answer containing one has leaked memory.
    public var personalValues: [String] {
        facts.flatMap { [$0.value] + ($0.replacement.map { [$0.value] } ?? []) }
    }
}

/// A labelled (question, note) pair for calibrating and checking retrieval: a personal question is
/// relevant to its own fact's statements (original and replacement) and to no other note; a general
/// question is relevant to none.
public struct QARelevancePair: Codable, Sendable, Equatable {
    public var user: String
    public var questionID: String
    public var question: String
    public var note: String
    public var relevant: Bool
}

/// A whole generated data set, as `peval qa synth` writes it.
public struct QADataset: Codable, Sendable, Equatable {
    public var split: QASplit
    public var seed: UInt64
    public var users: [QAUser]
    public var relevancePairs: [QARelevancePair]
}

/// Seeded synthetic users for the open-question task (`peval qa`): each user states facts about
/// themselves as notes ("My dog is called Biscuit."), changes a few of them later ("I now live in
/// Lisbon."), and is asked personal questions (answerable only from memory; for a changed fact only
/// the new value is right) and general ones (which memory must not spoil; some share words or meaning
/// with the user's notes). Deterministic: each user draws from their own stream of the seed and
/// split, so the same settings give the same users and adding users leaves the others unchanged.
///
/// Within a user, no two values (current or outdated) share a word, and no general question is
/// asked whose question or key words share a word with the user's values, so that a value in an
/// answer can only have come from that one fact.
public struct QAUsers: Sendable {
    public var split: QASplit
    public var users: Int
    public var seed: UInt64
    public var factsPerUser: Int
    public var replacedPerUser: Int
    public var generalPerUser: Int
    /// General questions per user chosen among those related to the user's facts (if there are enough).
    public var relatedGeneralPerUser: Int

    public init(split: QASplit, users: Int, seed: UInt64, factsPerUser: Int = 12, replacedPerUser: Int = 3,
                generalPerUser: Int = 10, relatedGeneralPerUser: Int = 4) throws {
        let categories = Self.categories(split)
        let replaceable = categories.filter { $0.variant(split)!.replaceable }.count
        guard (1...10_000).contains(users) else { throw EvaluationError(.badArgument, "give between 1 and 10000 users") }
        guard (1...categories.count).contains(factsPerUser) else {
            throw EvaluationError(.badArgument, "give between 1 and \(categories.count) facts per user (the \(split.rawValue) split has \(categories.count) kinds of fact)")
        }
        guard (0...min(replaceable, factsPerUser)).contains(replacedPerUser) else {
            throw EvaluationError(.badArgument, "give between 0 and \(min(replaceable, factsPerUser)) replaced facts per user (\(replaceable) kinds of fact in the \(split.rawValue) split can change)")
        }
        let pool = QACatalogue.general.filter { $0.split == split }.count
        guard (0...pool).contains(generalPerUser), (0...generalPerUser).contains(relatedGeneralPerUser) else {
            throw EvaluationError(.badArgument, "give between 0 and \(pool) general questions per user, of which at most all are related ones")
        }
        self.split = split
        self.users = users
        self.seed = seed
        self.factsPerUser = factsPerUser
        self.replacedPerUser = replacedPerUser
        self.generalPerUser = generalPerUser
        self.relatedGeneralPerUser = relatedGeneralPerUser
    }

    static func categories(_ split: QASplit) -> [QACatalogue.Category] {
        QACatalogue.categories.filter { $0.variant(split) != nil }
    }

    /// The ids of the kinds of fact in `split`.
    public static func categoryIDs(_ split: QASplit) -> [String] { categories(split).map(\.id) }

    /// The user id of user `index`: `u03` (at least two digits).
    public func userID(_ index: Int) -> String {
        let width = max(2, String(users - 1).count)
        let digits = String(index)
        return "u" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// All users, in order.
    public func generate() -> [QAUser] { (0..<users).map(user) }

    /// User `index`.
    public func user(_ index: Int) -> QAUser {
        var rng = SeededRandom(seed: seed, stream: (split == .tune ? 0x5155_0001 : 0x5155_0002) << 32 | UInt64(index))
        let id = userID(index)
        let categories = Self.categories(split)
        // The kinds that will change first, so there are always enough of them.
        let (changing, steady) = rng.shuffled(categories).partitioned { $0.variant(split)!.replaceable }
        let replaced = Array(changing.prefix(replacedPerUser))
        let rest = rng.shuffled(Array(changing.dropFirst(replacedPerUser)) + steady)
        let chosen = rng.shuffled(replaced + rest.prefix(factsPerUser - replaced.count))
        let replacedIDs = Set(replaced.map(\.id))

        var usedWords = Set<String>()
        func draw(_ values: [String]) -> String {
            let free = values.filter { QAScoring.words($0).allSatisfy { !usedWords.contains($0) } }
            let value = rng.pick(free.isEmpty ? values : free)
            usedWords.formUnion(QAScoring.words(value))
            return value
        }
        var facts: [QAFact] = []
        for category in chosen {
            let v = category.variant(split)!
            let template = rng.pick(v.templates)
            let value = draw(v.values)
            var fact = QAFact(category: category.id, statement: Self.fill(template.statement, value), value: value, questions: v.questions)
            if replacedIDs.contains(category.id), let change = template.replacement {
                let new = draw(v.values.filter { $0 != value })
                fact.replacement = QAReplacement(statement: Self.fill(change, new), value: new)
            }
            facts.append(fact)
        }

        var questions: [QAQuestion] = []
        for fact in facts {
            for q in fact.questions {
                questions.append(QAQuestion(id: "\(id)-p\(questions.count)", kind: .personal, text: q, expected: [fact.currentValue],
                                            outdated: fact.outdatedValue, category: fact.category))
            }
        }
        let kinds = Set(facts.map(\.category))
        let usable = QACatalogue.general.filter { g in
            g.split == split && Set(QAScoring.words(g.question) + g.keys.flatMap(QAScoring.words)).isDisjoint(with: usedWords)
        }
        let (related, unrelated) = rng.shuffled(usable).partitioned { !kinds.isDisjoint(with: $0.related) }
        let hard = Array(related.prefix(relatedGeneralPerUser))
        let asked = rng.shuffled(hard + rng.shuffled(Array(related.dropFirst(hard.count)) + unrelated).prefix(generalPerUser - hard.count))
        for (n, g) in asked.enumerated() {
            questions.append(QAQuestion(id: "\(id)-g\(n)", kind: .general, text: g.question, expected: g.keys,
                                        related: !kinds.isDisjoint(with: g.related)))
        }
        return QAUser(id: id, facts: facts, questions: questions)
    }

    static func fill(_ template: String, _ value: String) -> String {
        let text = template.replacingOccurrences(of: "{v}", with: value)
        return text.prefix(1).uppercased() + text.dropFirst()
    }

    // MARK: Relevance

    /// Every (question, note) pair of each user, labelled: a personal question is relevant to its own
    /// fact's statements (original and replacement) and to no other note; a general question to none.
    public static func relevancePairs(_ users: [QAUser]) -> [QARelevancePair] {
        var pairs: [QARelevancePair] = []
        for user in users {
            let notes = user.notes
            for q in user.questions {
                let own = q.kind == .personal ? user.facts.firstIndex { $0.category == q.category } : nil
                for note in notes {
                    pairs.append(QARelevancePair(user: user.id, questionID: q.id, question: q.text, note: note.text,
                                                 relevant: note.fact == own))
                }
            }
        }
        return pairs
    }

    /// The users with their labelled relevance pairs.
    public func dataset() -> QADataset {
        let users = generate()
        return QADataset(split: split, seed: seed, users: users, relevancePairs: Self.relevancePairs(users))
    }

    /// Writes `dataset()` as JSON (sorted keys, so the same settings give the same bytes).
    public func write(to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data: Data
        do { data = try e.encode(dataset()) } catch {
            throw EvaluationError(.io, "cannot encode the QA data set: \(error)")
        }
        do { try AtomicFile.write(data, to: path, permissions: 0o644) } catch {
            throw EvaluationError(.io, "cannot write \(path)", cause: error)
        }
    }
}

extension Array {
    /// The elements that satisfy `belongs`, then the others, each in their original order.
    func partitioned(_ belongs: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = [], no: [Element] = []
        for e in self { if belongs(e) { yes.append(e) } else { no.append(e) } }
        return (yes, no)
    }
}
