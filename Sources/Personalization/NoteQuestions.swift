import Foundation
public import Memory

/// One question a user would ask about a note, and the answer from the note's own words.
public struct NoteQuestion: Sendable, Equatable {
    public var question: String
    public var answer: String

    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// Question → answer pairs the personal adapter learns a note from, written by templates over the
/// note's `NoteFrame`: "My dog is called Biscuit." gives "What is my dog's name?", "What's my dog
/// called?" and "What did I tell you about my dog?", each answered "Your dog is called Biscuit."
///
/// The answer is the note's first sentence (the one the frame reads) in the second person, so the
/// user's own words and casing of the value survive; the questions take their casing from the note
/// too ("my daughter Emma"). A note without a frame (not a first-person statement the rules read)
/// gives no pairs: a template question about an arbitrary sentence would teach the adapter more
/// noise than fact, and retrieval still finds the note.
public enum NoteQuestions {
    /// At most three pairs for `note`; none when it has no frame.
    public static func pairs(for note: String) -> [NoteQuestion] {
        let sentence = statement(of: note)
        guard let frame = NoteFrame(sentence) else { return [] }
        let answer = secondPerson(sentence)
        guard !answer.isEmpty else { return [] }
        let words = Words(sentence)
        var questions = relationQuestions(frame, words)
        if let topic = topic(frame, words) { questions.append("What did I tell you about \(topic)?") }
        var seen = Set<String>()
        return questions.filter { seen.insert($0).inserted }.prefix(3).map { NoteQuestion(question: $0, answer: answer) }
    }

    /// The note's first sentence without a lead-in ("Remember that", "btw,"), ending in punctuation.
    static func statement(of note: String) -> String {
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        var end = trimmed.endIndex
        if let stop = trimmed.firstIndex(where: { ".!?\n".contains($0) }) {
            end = trimmed[stop] == "\n" ? stop : trimmed.index(after: stop)
        }
        var sentence = String(trimmed[..<end]).trimmingCharacters(in: .whitespaces)
        let lower = sentence.lowercased()
        for lead in leadIns {
            guard lower.hasPrefix(lead) else { continue }
            let rest = sentence.dropFirst(lead.count)
            // Only a whole lead-in word: "btw," yes, "rememberance" no.
            guard let next = rest.first, !next.isLetter, !next.isNumber else { continue }
            let stripped = rest.drop { " ,:;-–—".contains($0) }
            if !stripped.isEmpty { sentence = String(stripped) }
            break
        }
        if let last = sentence.last, !".!?".contains(last) { sentence += "." }
        return sentence
    }

    /// Longest first, so "please remember that" is taken whole.
    static let leadIns = ["please remember that", "just so you know", "for the record", "remember that", "please note that",
                          "note that", "by the way", "remember", "actually", "fyi", "btw"]

    /// `text` said back to its writer: I → you, my → your, am → are, I'm → you're, me → you,
    /// mine → yours, our → your, we → you (and their contractions; "I was" → "you were"). Other
    /// words, casing and punctuation are kept; the first word is capitalised.
    public static func secondPerson(_ text: String) -> String {
        var out = ""
        var word = ""
        var previous = ""       // the previous word, lower-cased, before the swap
        var first = true
        func flush() {
            guard !word.isEmpty else { return }
            let lower = word.lowercased().replacingOccurrences(of: "’", with: "'")
            var swapped: String
            if lower == "us" && word != "us" {
                swapped = word                      // "US", the country
            } else if previous == "i" && (lower == "was" || lower == "wasn't") {
                swapped = lower == "was" ? "were" : "weren't"
            } else if let s = pronouns[lower] {
                swapped = s
            } else {
                swapped = word
            }
            if first, let c = swapped.first { swapped = c.uppercased() + swapped.dropFirst() }
            out += swapped
            previous = lower
            first = false
            word = ""
        }
        for ch in text {
            if ch.isLetter || ch.isNumber || ((ch == "'" || ch == "’") && !word.isEmpty) {
                word.append(ch)
            } else {
                flush()
                out.append(ch)
            }
        }
        flush()
        return out
    }

    static let pronouns = [
        "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "am": "are",
        "i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll",
        "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
        "we're": "you're", "we've": "you've", "we'd": "you'd", "we'll": "you'll",
    ]

    /// The words of a sentence with the writer's casing, to render frame words (which are lower case).
    struct Words {
        /// Lower-case word → as written, for words written with a capital anywhere but first.
        var cased: [String: String] = [:]
        var lower: Set<String> = []

        init(_ sentence: String) {
            let words = sentence.split { !($0.isLetter || $0.isNumber) }.map(String.init)
            for (i, w) in words.enumerated() {
                lower.insert(w.lowercased())
                if i > 0, w != w.lowercased(), cased[w.lowercased()] == nil { cased[w.lowercased()] = w }
            }
        }

        /// Frame words as text: the writer's casing, "I" capital, "s" joined as a possessive.
        func render(_ frameWords: some Sequence<String>) -> String {
            var out = ""
            for w in frameWords {
                if w == "s", !out.isEmpty { out += "'s"; continue }
                if !out.isEmpty { out += " " }
                out += w == "i" ? "I" : cased[w] ?? w
            }
            return out
        }
    }

    /// Questions that ask for the value by the relation ("Where do I live?").
    static func relationQuestions(_ frame: NoteFrame, _ words: Words) -> [String] {
        let me = frame.subject == ["i"] || frame.subject == ["my"] || frame.subject == ["our"]
        let subject = me ? "I" : words.render(frame.subject)
        let does = me ? "do" : "does", be = me ? "am" : "is"
        let relation = frame.relation.joined(separator: " ")
        let isTime = frame.value.contains { $0.first?.isNumber == true || months.contains($0) }
        let possessive = me ? "my" : possessiveForm(subject)
        switch relation {
        case "named", "is called", "is named":
            return me ? ["What is my name?", "What's my name?"] : ["What is \(possessive) name?", "What's \(subject) called?"]
        case "live in":
            return ["Where \(does) \(subject) live?", "Which city \(does) \(subject) live in?"]
        case "work at":
            return ["Where \(does) \(subject) work?", "Who \(does) \(subject) work for?"]
        case "is allergic to":
            return ["What \(be) \(subject) allergic to?", me ? "Do I have any allergies?" : "Does \(subject) have any allergies?"]
        case "is afraid of", "is scared of":
            return ["What \(be) \(subject) afraid of?"]
        case "is interested in", "is fluent in", "is good at", "is bad at":
            return ["What \(be) \(subject) \(frame.relation.dropFirst().joined(separator: " "))?"]
        case "is married to", "is engaged to":
            return ["Who \(be) \(subject) \(frame.relation[1]) to?"]
        case "is based in", "is located in", "is based at", "is located at":
            return ["Where \(be) \(subject) \(frame.relation[1])?"]
        case "was born in", "was born on", "is born in", "is born on", "were born in", "were born on":
            return ["\(isTime ? "When" : "Where") \(me ? "was I" : "was \(subject)") born?"]
        case "is from":
            return ["Where \(be) \(subject) from?"]
        case "is in", "is at":
            return ["\(isTime ? "When" : "Where") \(be) \(subject)?"]
        case "is on":
            return isTime ? ["When \(be) \(subject)?"] : []
        case "is":
            if me {
                let age = frame.value.first?.allSatisfy(\.isNumber) == true
                    && (frame.value.count == 1 || frame.value.contains("old") || frame.value.contains("years"))
                return age ? ["How old am I?"] : []
            }
            return ["What is \(subject)?"]
        default:
            break
        }
        // An ordinary verb in the present: "I drive a red Fiat." → "What do I drive?"
        guard let verb = frame.relation.first, !auxiliaries.contains(verb), !copulas.contains(verb) else { return [] }
        let past = verb.hasSuffix("ed") || irregularPast.contains(verb)
            || words.lower.contains(verb + "ed") || words.lower.contains(verb + "d")
        guard !past else { return [] }
        let base = verb == "has" ? "have" : verb
        let preposition = frame.relation.count > 1 ? " " + frame.relation[1] : ""
        if preposition == " in" || preposition == " at" {
            return ["Where \(does) \(subject) \(base)?"]
        }
        return ["What \(does) \(subject) \(base)\(preposition)?"]
    }

    /// What "What did I tell you about …?" names: the subject ("my dog"), or for "I …" notes the
    /// first words of the value ("red Fiat", "Kyoto").
    static func topic(_ frame: NoteFrame, _ words: Words) -> String? {
        if frame.subject != ["i"] {
            return frame.subject == ["my"] || frame.subject == ["our"] ? "myself" : words.render(frame.subject)
        }
        let head = frame.value.prefix { !NoteQuestions.stopWords.contains($0) }.prefix(3)
        return head.isEmpty ? nil : words.render(head)
    }

    static func possessiveForm(_ subject: String) -> String {
        subject.hasSuffix("s") ? subject + "'" : subject + "'s"
    }

    static let months: Set<String> = ["january", "february", "march", "april", "may", "june", "july", "august",
                                      "september", "october", "november", "december"]
    static let copulas: Set<String> = ["is", "are", "am", "was", "were"]
    static let auxiliaries: Set<String> = ["will", "can", "could", "would", "should", "must", "do", "does", "did", "had", "have", "need", "want"]
    static let irregularPast: Set<String> = ["went", "bought", "got", "made", "saw", "met", "began", "became", "came", "took",
                                             "gave", "ran", "won", "left", "grew", "wrote", "lost", "found", "sold", "flew", "drove"]
    static let stopWords: Set<String> = ["in", "at", "to", "for", "on", "from", "with", "of", "by", "and", "or", "but",
                                         "when", "since", "because", "every", "each", "last", "this", "that"]
}
