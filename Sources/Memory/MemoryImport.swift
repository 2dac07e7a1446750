import Diagnostics
public import Foundation

/// Turns files a user already has into memory items: LaMP questions files (the `profile` of each
/// question, in every task's item shape) and JSONL of notes and chat turns. Parsing is complete before
/// anything is stored, so a bad file changes nothing.
public enum MemoryImport {
    /// LaMP profile item shapes, by the fields that tell them apart:
    ///   LaMP-1, LaMP-5  {title, abstract}      the user's paper: abstract → title
    ///   LaMP-2          {description, tag}     a film → the tag the user gave it
    ///   LaMP-2 (news)   {text, category}       an article → the user's category
    ///   LaMP-3          {text, score}          a review → the user's rating
    ///   LaMP-4, LaMP-6  {text, title}          an article / email → the user's headline / subject
    ///   LaMP-7          {text}                 the user's own tweet (a note)
    public static func lampProfileItem(_ object: [String: Any], source: String) throws -> NewItem {
        func string(_ key: String) -> String? {
            if let s = object[key] as? String { return s }
            if let n = object[key] as? NSNumber { return n.stringValue }
            return nil
        }
        var created: Date?
        if let date = string("date") {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            for format in ["yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy"] {
                f.dateFormat = format
                if let d = f.date(from: date) { created = d; break }
            }
        }
        func behaviour(_ input: String, _ output: String) -> NewItem {
            NewItem(kind: .behaviour, content: ItemContent(text: input, output: output, source: source), created: created)
        }
        if let tag = string("tag"), let description = string("description") { return behaviour(description, tag) }
        if let category = string("category"), let text = string("text") { return behaviour(text, category) }
        if let score = string("score"), let text = string("text") { return behaviour(text, score) }
        if let title = string("title"), let abstract = string("abstract") { return behaviour(abstract, title) }
        if let title = string("title"), let text = string("text") { return behaviour(text, title) }
        if let text = string("text") {
            return NewItem(kind: .note, content: ItemContent(text: text, source: source), created: created)
        }
        throw MemoryError(.badInput, "a profile item has none of the LaMP item shapes (fields: \(object.keys.sorted().joined(separator: ", ")))")
    }

    /// The profile items of a LaMP questions file. A file holding several users' questions needs
    /// `question` (whose profile to import) or `all` — a client imports one user's history.
    public static func lampQuestions(_ data: Data, question: String? = nil, all: Bool = false, source: String) throws -> [NewItem] {
        guard let entries = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw MemoryError(.badInput, "the file is not a LaMP questions file (a JSON array of {id, input, profile})")
        }
        var chosen = entries
        if let question {
            chosen = entries.filter { ($0["id"] as? String) == question || ($0["id"] as? NSNumber)?.stringValue == question }
            guard !chosen.isEmpty else { throw MemoryError(.badInput, "the file has no question with id \(question)") }
        } else if entries.count > 1 && !all {
            throw MemoryError(.badInput, "the file holds \(entries.count) questions, possibly of several users: pass --question ID to import one user's profile, or --all")
        }
        var items: [NewItem] = []
        for (n, entry) in chosen.enumerated() {
            guard let profile = entry["profile"] as? [[String: Any]] else {
                throw MemoryError(.badInput, "question \(n + 1) has no `profile` list")
            }
            for (i, p) in profile.enumerated() {
                do {
                    items.append(try lampProfileItem(p, source: source))
                } catch let e as MemoryError {
                    throw MemoryError(.badInput, "question \(n + 1), profile item \(i + 1): \(e.message)")
                }
            }
        }
        return items
    }

    /// JSONL, one item a line: {"text": …} with optional "kind" (note | chat | behaviour), "output",
    /// "role", "importance" (0…1), "source". Blank lines are skipped.
    public static func jsonLines(_ data: Data, source: String) throws -> [NewItem] {
        var items: [NewItem] = []
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (n, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let text = object["text"] as? String else {
                throw MemoryError(.badInput, "line \(n + 1) is not a JSON object with a \"text\" string")
            }
            let kindName = object["kind"] as? String ?? "note"
            guard let kind = ItemKind(rawValue: kindName) else {
                throw MemoryError(.badInput, "line \(n + 1): unknown kind \"\(kindName)\" (use note, chat or behaviour)")
            }
            let importance = (object["importance"] as? NSNumber)?.doubleValue ?? 0.5
            guard (0...1).contains(importance) else {
                throw MemoryError(.badInput, "line \(n + 1): importance must be between 0 and 1")
            }
            let content = ItemContent(text: text, output: object["output"] as? String,
                                      source: object["source"] as? String ?? source, role: object["role"] as? String)
            items.append(NewItem(kind: kind, content: content, importance: importance))
        }
        return items
    }
}
