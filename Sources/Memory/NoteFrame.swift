import Foundation
import Seal

/// What a first-person note is about, read by rules: its subject ("my dog", "I"), its relation
/// ("named", "live in", "is allergic to") and its value ("biscuit", "lisbon", "peanuts"). Two notes
/// with the same subject and relation but different values describe the same thing at two times,
/// so the newer one supersedes the older (`MemoryStore.add`).
///
/// The rules cover statements as people type them to an assistant ("My dog is called Biscuit.",
/// "I now live in Lisbon.", "My wife's birthday is on March 3rd.", "I work at Siemens."). A sentence
/// they do not recognise has no frame and never supersedes anything: the cost of a miss is an older
/// note still retrieved beside the newer one, while a wrong match would hide a fact.
public struct NoteFrame: Sendable, Equatable {
    /// Normalised words of the subject: ["my", "dog"], ["i"].
    public var subject: [String]
    /// The canonical relation: ["named"], ["live", "in"], ["is", "allergic", "to"].
    public var relation: [String]
    /// The rest, without articles: ["blue", "volvo", "xc40"].
    public var value: [String]
    /// The sentence says something changed ("now", "moved", "switched", "these days", …).
    public var marksChange: Bool
    /// The sentence adds to what was said ("also", "another", "too"): it never supersedes.
    public var marksAddition: Bool

    /// The key that identifies what the note is about: equal keys, different values → supersession.
    public var key: String { subject.joined(separator: " ") + " | " + relation.joined(separator: " ") }

    /// Whether a note with this frame replaces one with `older`'s: same subject and relation, another
    /// value, and the relation holds one value at a time unless the newer note says it changed.
    public func supersedes(_ older: NoteFrame) -> Bool {
        guard key == older.key, value != older.value, !value.isEmpty, !marksAddition else { return false }
        let relationText = relation.joined(separator: " ")
        return marksChange || !(Self.multiValued.contains(relationText) || Self.multiValued.contains(relation.first ?? ""))
    }

    /// "I am …" says too little on its own ("I am 34", "I am vegetarian"): such notes supersede only
    /// when their embeddings agree too.
    public var isVague: Bool { subject == ["i"] && relation == ["is"] }

    // MARK: - Parsing

    /// The frames of each clause of `text`'s first sentence ("I moved, so my home is in Gothenburg
    /// these days." → my home | is in = gothenburg), in order; a change or addition said anywhere in
    /// the sentence counts for every clause.
    public static func frames(in text: String) -> [NoteFrame] {
        let sentence = text.split(whereSeparator: { ".!?\n".contains($0) }).first.map(String.init) ?? ""
        var clauses = [sentence]
        for separator in [",", ";", " so ", " and ", " but ", " because "] {
            clauses = clauses.flatMap { $0.components(separatedBy: separator) }
        }
        clauses = clauses.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard clauses.count > 1 else { return NoteFrame(text).map { [$0] } ?? [] }
        let whole = NoteFrame.markers(in: Self.words(sentence))
        return clauses.compactMap { clause in
            guard var frame = NoteFrame(clause + ".") else { return nil }
            frame.marksChange = frame.marksChange || whole.change
            frame.marksAddition = frame.marksAddition || whole.addition
            return frame
        }
    }

    /// Whether `words` say that something changed or was added.
    static func markers(in words: [String]) -> (change: Bool, addition: Bool) {
        let change = words.contains { changeWords.contains($0) || pastForms[$0] != nil }
            || firstSequence(["these", "days"], in: words) != nil || firstSequence(["no", "longer"], in: words) != nil
        return (change, words.contains { additionWords.contains($0) })
    }

    /// The frame of `text`'s first sentence, or nil when it is not a first-person statement the rules read.
    public init?(_ text: String) {
        var words = Self.words(text.split(whereSeparator: { ".!?\n".contains($0) }).first.map(String.init) ?? "")
        guard !words.isEmpty, !text.trimmingCharacters(in: .whitespaces).hasSuffix("?") else { return nil }
        // Lead-ins: "remember that", "note that", "fyi", "by the way", "btw", "just so you know".
        if ["so", "then", "and"].contains(words.first ?? "") { words.removeFirst() }
        for lead in Self.leadIns where words.starts(with: lead) && words.count > lead.count {
            words.removeFirst(lead.count)
            break
        }
        var change = false, addition = false
        words = words.filter { w in
            if Self.changeWords.contains(w) { change = true; return false }
            if Self.additionWords.contains(w) { addition = true; return false }
            return !Self.fillers.contains(w)
        }
        if let i = Self.firstSequence(["these", "days"], in: words) { words.removeSubrange(i..<i + 2); change = true }
        if let i = Self.firstSequence(["no", "longer"], in: words) { words.removeSubrange(i..<i + 2); change = true }
        guard let first = words.first, ["i", "my", "our", "we"].contains(first), words.count >= 3 else { return nil }

        // The subject runs to the first verb ("my wife s birthday" | "is").
        var verbAt = 1
        if first == "my" || first == "our" {
            guard let v = words.indices.dropFirst(2).first(where: { Self.verbs.contains(words[$0]) }) else { return nil }
            verbAt = v
        }
        var subject = Array(words[..<verbAt])
        if subject == ["we"] { subject = ["i"] }
        var rest = Array(words[verbAt...])
        // Contractions split by the tokenizer: "i m" → "i am", "i ve" → "i have".
        if rest.first == "m" { rest[0] = "am" }
        if rest.first == "ve" { rest[0] = "have" }
        // Progressives: "am working at" → "work at".
        // (Only with something after it: "my hobby is woodworking" names a value.)
        if rest.count >= 3, ["am", "is", "are"].contains(rest[0]), rest[1].hasSuffix("ing"), rest[1].count > 5 {
            rest.removeFirst()
            rest[0] = Self.stem(String(rest[0].dropLast(3)))
        }
        // The relation: the verb, a participle or adjective after a copula, and a preposition
        // within the next two words.
        var relation = [Self.stem(rest[0])]
        var i = 1
        if Self.copulas.contains(rest[0]), i < rest.count, Self.participles.contains(rest[i]) || Self.adjectives.contains(rest[i]) {
            relation.append(rest[i]); i += 1
        }
        if i < rest.count, Self.prepositions.contains(rest[i]) {
            relation.append(rest[i]); i += 1
        }
        var value = Array(rest[i...]).filter { !Self.articles.contains($0) }
        // Canonical relations: "is called", "is named", "X's name is" → "named"; "moved to" → "live in".
        let joined = relation.joined(separator: " ")
        if ["is called", "is named", "are called", "are named", "called", "named"].contains(joined) {
            relation = ["named"]
        } else if joined == "is" || joined == "are", subject.count >= 2, subject.last == "name" {
            subject.removeLast()
            if subject.last == "s" { subject.removeLast() }
            relation = ["named"]
        } else if ["moved to", "relocated to", "move to"].contains(joined), subject == ["i"] {
            relation = ["live", "in"]
            change = true
        } else if ["work for", "work with"].contains(joined) {
            relation = ["work", "at"]
        } else if ["switched to", "changed to", "switch to", "change to"].contains(joined) {
            relation = ["use"]
            change = true
        }
        if relation.first == "am" || relation.first == "are" { relation[0] = "is" }
        value = value.filter { !Self.fillers.contains($0) }
        guard !value.isEmpty else { return nil }
        self.subject = subject
        self.relation = relation
        self.value = value
        marksChange = change
        marksAddition = addition
    }

    /// Lower-case words of letters and digits (the search index's terms).
    static func words(_ text: String) -> [String] { BlindIndex.terms(in: text) }

    static func firstSequence(_ seq: [String], in words: [String]) -> Int? {
        guard words.count >= seq.count else { return nil }
        return (0...(words.count - seq.count)).first { Array(words[$0..<$0 + seq.count]) == seq }
    }

    /// Third-person and past forms to the base verb: "lives" → "live", "studies" → "study", "moved" → "move".
    static func stem(_ w: String) -> String {
        if copulas.contains(w) || w.count <= 3 { return w }
        if let base = pastForms[w] { return base }
        if w.hasSuffix("ies") { return String(w.dropLast(3)) + "y" }
        if w.hasSuffix("ches") || w.hasSuffix("shes") || w.hasSuffix("sses") || w.hasSuffix("oes") { return String(w.dropLast(2)) }
        if w.hasSuffix("s"), !w.hasSuffix("ss") { return String(w.dropLast()) }
        return w
    }

    static let pastForms = ["moved": "move", "relocated": "relocate", "switched": "switch", "changed": "change", "started": "start"]
    static let leadIns: [[String]] = [
        ["remember", "that"], ["please", "remember", "that"], ["note", "that"], ["fyi"], ["by", "the", "way"], ["btw"],
        ["just", "so", "you", "know"], ["for", "the", "record"], ["remember"], ["actually"],
    ]
    static let changeWords: Set<String> = ["now", "currently", "recently", "nowadays", "anymore", "instead", "since"]
    static let additionWords: Set<String> = ["also", "another", "too", "additionally"]
    static let fillers: Set<String> = ["just", "really", "actually", "still", "finally", "officially"]
    static let articles: Set<String> = ["a", "an", "the"]
    static let copulas: Set<String> = ["is", "are", "am", "was", "were", "m"]
    static let participles: Set<String> = [
        "called", "named", "allergic", "married", "engaged", "born", "based", "located", "employed", "enrolled",
        "registered", "insured", "subscribed",
    ]
    static let adjectives: Set<String> = ["afraid", "interested", "good", "bad", "fluent", "scared"]
    static let prepositions: Set<String> = ["in", "at", "to", "for", "on", "from", "with", "of", "by"]
    /// Relations a person often has several of at once: they supersede only when the note says so.
    static let multiValued: Set<String> = [
        "like", "love", "enjoy", "hate", "have", "has", "own", "play", "speak", "know", "visit", "visited", "read",
        "watch", "collect", "eat", "drink", "follow", "support", "listen", "go", "is allergic to", "is afraid",
    ]
    /// Verbs that end a "my …" subject.
    static let verbs: Set<String> = [
        "is", "are", "was", "were", "has", "have", "had", "will", "can", "does", "do",
        "live", "lives", "work", "works", "drive", "drives", "play", "plays", "like", "likes", "love", "loves",
        "hate", "hates", "go", "goes", "study", "studies", "speak", "speaks", "teach", "teaches", "own", "owns",
        "use", "uses", "eat", "eats", "drink", "drinks", "prefer", "prefers", "need", "needs", "want", "wants",
        "take", "takes", "support", "supports", "attend", "attends", "visit", "visits", "wear", "wears",
        "moved", "started", "switched", "changed", "runs", "run", "sings", "teaches", "belongs", "comes", "came",
        "turned", "turns", "became", "becomes", "starts", "ends", "costs", "weighs", "opens", "closes",
    ]
}
