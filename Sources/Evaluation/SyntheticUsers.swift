import Diagnostics
import Foundation

/// LaMP-format synthetic users whose golds follow their own history, so that only personalisation
/// can score well: each user has their own tag for each kind of film (LaMP-2), their own rating
/// bias (LaMP-3), their own way of writing headlines, titles and tweets (LaMP-4, 5, 7). Deterministic:
/// the same configuration gives byte-identical files; each user draws from their own stream of the
/// seed, so adding users leaves the others unchanged.
public struct SyntheticUsers: Sendable {
    public var task: LaMPTask
    public var users: Int
    public var seed: UInt64
    /// Profile items per user.
    public var items: Int
    /// Questions per user.
    public var questions: Int

    public static let supportedTasks: [LaMPTask] = [.movieTagging, .productRating, .newsHeadline, .scholarlyTitle, .tweetParaphrase]

    /// Kinds of film each LaMP-2 user has seen (of the catalogue's twelve).
    public static let kindsPerUser = 6

    public init(task: LaMPTask, users: Int, seed: UInt64, items: Int = 40, questions: Int = 5) throws {
        guard Self.supportedTasks.contains(task) else {
            throw EvaluationError(.badArgument, "synthetic users exist for lamp2, lamp3, lamp4, lamp5 and lamp7, not \(task.shortName)")
        }
        guard (1...10_000).contains(users) else { throw EvaluationError(.badArgument, "give between 1 and 10000 users") }
        guard (6...1_000).contains(items) else { throw EvaluationError(.badArgument, "give between 6 and 1000 profile items per user (enough to show the user's habits, few enough for the catalogue to stay varied)") }
        guard (1...1_000).contains(questions) else { throw EvaluationError(.badArgument, "give between 1 and 1000 questions per user") }
        self.task = task
        self.users = users
        self.seed = seed
        self.items = items
        self.questions = questions
    }

    /// The user id of user `index`: `u03` (at least two digits).
    public func userID(_ index: Int) -> String {
        let width = max(2, String(users - 1).count)
        let digits = String(index)
        return "u" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// All users' questions (user by user) and their golds.
    public func generate() -> (questions: [LaMPQuestion], outputs: LaMPOutputs) {
        var questions: [LaMPQuestion] = []
        var golds: [LaMPGold] = []
        for u in 0..<users {
            let user = self.user(u)
            questions += user.questions
            golds += user.golds
        }
        return (questions, LaMPOutputs(task: task, golds: golds))
    }

    /// Writes `questions.json` and `outputs.json` into `directory` (created if needed).
    public func write(to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EvaluationError(.io, "cannot create \(directory): \(error.localizedDescription)")
        }
        let (questions, outputs) = generate()
        try LaMPFile.writeQuestions(questions, path: directory + "/questions.json")
        try LaMPFile.writeOutputs(outputs, path: directory + "/outputs.json")
    }

    /// One user: their profile, questions (each carrying the whole profile, as LaMP does) and golds.
    public func user(_ index: Int) -> (questions: [LaMPQuestion], golds: [LaMPGold]) {
        var rng = SeededRandom(seed: seed, stream: UInt64(task.rawValue) << 32 | UInt64(index))
        let id = userID(index)
        let pairs: (profile: [[String: String]], questions: [(input: String, gold: String)])
        switch task {
        case .movieTagging: pairs = movieUser(&rng)
        case .productRating: pairs = ratingUser(&rng)
        case .newsHeadline: pairs = headlineUser(&rng)
        case .scholarlyTitle: pairs = titleUser(&rng)
        default: pairs = tweetUser(&rng)
        }
        let profile = pairs.profile.enumerated().map { n, fields in
            var f = fields
            f["id"] = "\(id)-p\(n)"
            return LaMPProfileItem(f)
        }
        var questions: [LaMPQuestion] = []
        var golds: [LaMPGold] = []
        for (n, q) in pairs.questions.enumerated() {
            let qid = "\(id)-q\(n)"
            questions.append(LaMPQuestion(id: qid, input: q.input, profile: profile))
            golds.append(LaMPGold(id: qid, output: q.gold))
        }
        return (questions, golds)
    }

    // MARK: LaMP-2: a tag of one's own for each kind of film

    /// The tag each kind of film gets from this user: a random injective assignment of the 15 tags.
    static func tagAssignment(_ rng: inout SeededRandom) -> [String] {
        Array(rng.shuffled(LaMPTask.movieTags).prefix(SyntheticCatalogue.filmKinds.count))
    }

    static func fill(_ template: String, _ rng: inout SeededRandom, item: String = "") -> String {
        let name = rng.pick(SyntheticCatalogue.names)
        var name2 = rng.pick(SyntheticCatalogue.names)
        while name2 == name { name2 = rng.pick(SyntheticCatalogue.names) }
        return template
            .replacingOccurrences(of: "{name2}", with: name2)
            .replacingOccurrences(of: "{name}", with: name)
            .replacingOccurrences(of: "{place}", with: rng.pick(SyntheticCatalogue.places))
            .replacingOccurrences(of: "{number}", with: String(rng.int(in: 2...12)))
            .replacingOccurrences(of: "{item}", with: item)
    }

    /// `count` kinds drawn round-robin over `pool` in a shuffled order, so each appears about equally.
    static func balanced(_ pool: [Int], count: Int, _ rng: inout SeededRandom) -> [Int] {
        var out: [Int] = []
        while out.count < count { out += rng.shuffled(pool) }
        return rng.shuffled(Array(out.prefix(count)))
    }

    /// Draws texts until one is new (the catalogue is large enough for this to end quickly).
    static func fresh(_ seen: inout Set<String>, _ make: () -> String) -> String {
        var text = make()
        var tries = 0
        while seen.contains(text) && tries < 100 {
            text = make()
            tries += 1
        }
        seen.insert(text)
        return text
    }

    func movieUser(_ rng: inout SeededRandom) -> ([[String: String]], [(input: String, gold: String)]) {
        let tags = Self.tagAssignment(&rng)
        let kinds = Array(rng.shuffled(Array(SyntheticCatalogue.filmKinds.indices)).prefix(Self.kindsPerUser))
        var seen = Set<String>()
        var profile: [[String: String]] = []
        for k in Self.balanced(kinds, count: items, &rng) {
            let kind = SyntheticCatalogue.filmKinds[k]
            let d = Self.fresh(&seen) { Self.fill(rng.pick(kind.templates), &rng) }
            profile.append(["description": d, "tag": tags[k]])
        }
        var qs: [(input: String, gold: String)] = []
        for k in Self.balanced(kinds, count: questions, &rng) {
            let kind = SyntheticCatalogue.filmKinds[k]
            let d = Self.fresh(&seen) { Self.fill(rng.pick(kind.templates), &rng) }
            qs.append((task.questionInput(d), tags[k]))
        }
        return (profile, qs)
    }

    // MARK: LaMP-3: a rating bias of one's own

    /// A user's bias: harsh (−1), fair (0) or generous (+1), harsh and generous twice as likely.
    static func ratingBias(_ rng: inout SeededRandom) -> Int {
        [-1, -1, 0, 1, 1][rng.below(5)]
    }

    static func review(sentiment: Int, _ rng: inout SeededRandom) -> String {
        let phrase = rng.pick(SyntheticCatalogue.reviewPhrases[sentiment - 1])
            .replacingOccurrences(of: "{p}", with: rng.pick(SyntheticCatalogue.products))
        return phrase + " " + rng.pick(SyntheticCatalogue.reviewContexts)
    }

    func ratingUser(_ rng: inout SeededRandom) -> ([[String: String]], [(input: String, gold: String)]) {
        let bias = Self.ratingBias(&rng)
        var seen = Set<String>()
        var profile: [[String: String]] = []
        for s in Self.balanced([1, 2, 3, 4, 5], count: items, &rng) {
            let text = Self.fresh(&seen) { Self.review(sentiment: s, &rng) }
            profile.append(["text": text, "score": String(min(5, max(1, s + bias)))])
        }
        // Questions avoid the sentiments where clamping would hide the bias.
        let range = bias > 0 ? [1, 2, 3, 4] : bias < 0 ? [2, 3, 4, 5] : [1, 2, 3, 4, 5]
        var qs: [(input: String, gold: String)] = []
        for s in Self.balanced(range, count: questions, &rng) {
            let text = Self.fresh(&seen) { Self.review(sentiment: s, &rng) }
            qs.append((task.questionInput(text), String(min(5, max(1, s + bias)))))
        }
        return (profile, qs)
    }

    // MARK: LaMP-4, 5, 7: writing habits of one's own

    /// A fixed opening, a casing and a fixed ending, applied to the plain text.
    public struct Habit: Sendable, Equatable {
        public enum Casing: Sendable, Equatable { case sentence, title, lower }
        public var lead: String
        public var casing: Casing
        public var ending: String

        public func apply(_ plain: String) -> String {
            var body: String
            switch casing {
            case .lower: body = plain.lowercased()
            case .title:
                let small: Set<String> = ["a", "an", "the", "of", "for", "in", "on", "to", "with", "and", "by", "from", "along"]
                body = plain.split(separator: " ").enumerated().map { i, w in
                    let word = String(w)
                    if i > 0 && small.contains(word.lowercased()) { return word.lowercased() }
                    return word.prefix(1).uppercased() + word.dropFirst()
                }.joined(separator: " ")
            case .sentence: body = plain.prefix(1).uppercased() + plain.dropFirst()
            }
            if !lead.isEmpty { body = lead + " " + body }
            return body + ending
        }
    }

    static func habit(leads: [String], endings: [String], _ rng: inout SeededRandom) -> Habit {
        let casing: Habit.Casing = [.sentence, .title, .lower][rng.below(3)]
        return Habit(lead: rng.pick(leads), casing: casing, ending: rng.pick(endings))
    }

    func headlineUser(_ rng: inout SeededRandom) -> ([[String: String]], [(input: String, gold: String)]) {
        let habit = Self.habit(leads: SyntheticCatalogue.headlineLeads, endings: SyntheticCatalogue.headlineEndings, &rng)
        func story(_ rng: inout SeededRandom) -> (article: String, headline: String) {
            let s = rng.pick(SyntheticCatalogue.stories)
            let values = [
                "{place}": rng.pick(SyntheticCatalogue.places), "{day}": rng.pick(SyntheticCatalogue.days),
                "{number}": String(rng.int(in: 2...90)), "{item}": rng.pick(s.items),
                "{team}": rng.pick(SyntheticCatalogue.teams), "{team2}": rng.pick(SyntheticCatalogue.teams),
                "{company}": rng.pick(SyntheticCatalogue.companies),
            ]
            var a = s.article, h = s.headline
            for (k, v) in values.sorted(by: { $0.key < $1.key }) {
                a = a.replacingOccurrences(of: k, with: v)
                h = h.replacingOccurrences(of: k, with: v)
            }
            return (a.prefix(1).uppercased() + a.dropFirst(), h.prefix(1).uppercased() + h.dropFirst())
        }
        return habitUser(habit, &rng) { story(&$0) }
            .mapQuestions { task.questionInput($0) }
            .profile { ["text": $0, "title": $1] }
    }

    func titleUser(_ rng: inout SeededRandom) -> ([[String: String]], [(input: String, gold: String)]) {
        let habit = Self.habit(leads: SyntheticCatalogue.titleLeads, endings: SyntheticCatalogue.titleEndings, &rng)
        func paper(_ rng: inout SeededRandom) -> (abstract: String, title: String) {
            let problem = rng.pick(SyntheticCatalogue.problems), approach = rng.pick(SyntheticCatalogue.approaches)
            let abstract = SyntheticCatalogue.abstractTemplate
                .replacingOccurrences(of: "{problem}", with: problem)
                .replacingOccurrences(of: "{approach}", with: approach)
                .replacingOccurrences(of: "{dataset}", with: rng.pick(SyntheticCatalogue.datasets))
                .replacingOccurrences(of: "{number}", with: String(rng.int(in: 3...30)))
            let title = SyntheticCatalogue.titleTemplate
                .replacingOccurrences(of: "{problem}", with: problem)
                .replacingOccurrences(of: "{approach}", with: approach)
            return (abstract, title)
        }
        return habitUser(habit, &rng) { paper(&$0) }
            .mapQuestions { task.questionInput($0) }
            .profile { ["abstract": $0, "title": $1] }
    }

    func tweetUser(_ rng: inout SeededRandom) -> ([[String: String]], [(input: String, gold: String)]) {
        let habit = Self.habit(leads: SyntheticCatalogue.tweetLeads, endings: SyntheticCatalogue.tweetEndings, &rng)
        func tweet(_ rng: inout SeededRandom) -> (statement: String, tweet: String) {
            let t = rng.pick(SyntheticCatalogue.tweets)
            let place = rng.pick(SyntheticCatalogue.places), number = String(rng.int(in: 2...21)), item = rng.pick(t.items)
            func fill(_ s: String) -> String {
                s.replacingOccurrences(of: "{place}", with: place)
                    .replacingOccurrences(of: "{number}", with: number)
                    .replacingOccurrences(of: "{item}", with: item)
            }
            return (fill(t.statement), fill(t.tweet))
        }
        // LaMP-7 profiles hold only the user's tweets.
        return habitUser(habit, &rng) { tweet(&$0) }
            .mapQuestions { task.questionInput($0) }
            .profile { _, tweet in ["text": tweet] }
    }

    /// Profile and questions of a habit task: `make` gives (source text, plain output); the user's
    /// output is the habit applied to the plain one. Question sources are new to the profile.
    func habitUser(_ habit: Habit, _ rng: inout SeededRandom, _ make: (inout SeededRandom) -> (String, String)) -> HabitData {
        var seen = Set<String>()
        var profile: [(String, String)] = []
        for _ in 0..<items {
            var pair = make(&rng)
            var tries = 0
            while seen.contains(pair.0) && tries < 100 { pair = make(&rng); tries += 1 }
            seen.insert(pair.0)
            profile.append((pair.0, habit.apply(pair.1)))
        }
        var qs: [(String, String)] = []
        for _ in 0..<questions {
            var pair = make(&rng)
            var tries = 0
            while seen.contains(pair.0) && tries < 100 { pair = make(&rng); tries += 1 }
            seen.insert(pair.0)
            qs.append((pair.0, habit.apply(pair.1)))
        }
        return HabitData(profilePairs: profile, questionPairs: qs)
    }

    struct HabitData {
        var profilePairs: [(String, String)]
        var questionPairs: [(String, String)]

        func mapQuestions(_ input: (String) -> String) -> HabitData {
            HabitData(profilePairs: profilePairs, questionPairs: questionPairs.map { (input($0.0), $0.1) })
        }

        func profile(_ fields: (String, String) -> [String: String]) -> ([[String: String]], [(input: String, gold: String)]) {
            (profilePairs.map { fields($0.0, $0.1) }, questionPairs.map { (input: $0.0, gold: $0.1) })
        }
    }
}
