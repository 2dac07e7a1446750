import Foundation

/// MaLP's consolidation of conversation into notes, by rules: the sentences of a message in which
/// the user states something about themselves ("My dog is called Biscuit.", "I now live in Lisbon.")
/// become notes in their own words. Questions, requests ("I want to know…", "Can you…") and sentences
/// the frame rules do not read stay conversation only.
public enum NoteExtraction {
    /// The statements about the user in `message`, each as its own sentence (a lead-in such as
    /// "Remember that" dropped), in order.
    public static func statements(in message: String) -> [String] {
        sentences(message).compactMap { sentence in
            guard !sentence.hasSuffix("?"), let frame = NoteFrame.frames(in: sentence).first else { return nil }
            if requestVerbs.contains(frame.relation.first ?? "") { return nil }
            if vagueValues.contains(frame.value.first ?? "") { return nil }
            return withoutLeadIn(sentence)
        }
    }

    /// Sentences split after ".", "!" or "?" followed by a space or the end (not inside "3.5" or "Dr.").
    static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            current.append(c)
            let atEnd = i + 1 == chars.count || chars[i + 1].isWhitespace
            if "?!".contains(c) && atEnd || c == "." && atEnd && !endsWithAbbreviation(current) || c == "\n" {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !s.isEmpty { out.append(s) }
                current = ""
            }
        }
        let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !s.isEmpty { out.append(s) }
        return out
    }

    static func endsWithAbbreviation(_ s: String) -> Bool {
        let last = s.split(separator: " ").last.map { $0.lowercased() } ?? ""
        return ["dr.", "mr.", "mrs.", "ms.", "st.", "prof.", "jr.", "sr.", "e.g.", "i.e.", "no."].contains(last)
    }

    /// The sentence without a lead-in ("Remember that my code is 4817." → "My code is 4817.").
    static func withoutLeadIn(_ sentence: String) -> String {
        let lower = sentence.lowercased()
        for lead in ["please remember that ", "remember that ", "note that ", "just so you know, ", "just so you know ",
                     "fyi, ", "fyi ", "by the way, ", "by the way ", "btw, ", "btw ", "for the record, ", "for the record "]
            where lower.hasPrefix(lead) {
            let rest = sentence.dropFirst(lead.count)
            return rest.prefix(1).uppercased() + rest.dropFirst()
        }
        return sentence
    }

    /// Relations that ask rather than tell: "I want …", "I need help …", "I wonder …".
    static let requestVerbs: Set<String> = [
        "want", "need", "wonder", "think", "wish", "hope", "would", "could", "can", "will", "should", "feel",
        "guess", "mean", "ask", "forgot", "don", "didn", "doesn", "am", "m", "wanted", "tried", "try",
    ]
    /// Values that say nothing worth keeping ("I have a question").
    static let vagueValues: Set<String> = ["question", "questions", "problem", "idea", "it", "that", "this", "something"]
}
