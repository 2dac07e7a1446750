import Diagnostics
public import Foundation
import Seal

/// Reads and writes LaMP's own JSON files as they are distributed, so a user who has LaMP runs it
/// as is. Ids may be strings or numbers; fields this reader does not use are ignored. Errors name
/// the file, the question's position (1-based) and the field.
public enum LaMPFile {
    // MARK: Questions

    /// Decodes a questions file: a JSON array of `{"id", "input", "profile": [items]}`.
    public static func decodeQuestions(_ data: Data, file: String = "questions file") throws -> [LaMPQuestion] {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw EvaluationError(.badFile, "\(file) is not valid JSON: \(error.localizedDescription)")
        }
        guard let entries = root as? [Any] else {
            throw EvaluationError(.badFile, "\(file) is not a LaMP questions file: expected a JSON array of {id, input, profile}")
        }
        var questions: [LaMPQuestion] = []
        questions.reserveCapacity(entries.count)
        for (n, entry) in entries.enumerated() {
            let place = "\(file), question \(n + 1)"
            guard let object = entry as? [String: Any] else {
                throw EvaluationError(.badFile, "\(place): expected a JSON object {id, input, profile}")
            }
            let id = try identifier(object["id"], place: place)
            guard let input = object["input"] as? String else {
                throw EvaluationError(.badFile, "\(place) (id \(id)): field `input` is missing or not a string")
            }
            guard let rawProfile = object["profile"] as? [Any] else {
                throw EvaluationError(.badFile, "\(place) (id \(id)): field `profile` is missing or not a list")
            }
            var profile: [LaMPProfileItem] = []
            profile.reserveCapacity(rawProfile.count)
            for (i, rawItem) in rawProfile.enumerated() {
                guard let item = rawItem as? [String: Any] else {
                    throw EvaluationError(.badFile, "\(place) (id \(id)), profile item \(i + 1): expected a JSON object")
                }
                var fields: [String: String] = [:]
                for (key, value) in item {
                    if let text = scalarText(value) { fields[key] = text }
                }
                profile.append(LaMPProfileItem(fields))
            }
            questions.append(LaMPQuestion(id: id, input: input, profile: profile))
        }
        return questions
    }

    public static func readQuestions(path: String) throws -> [LaMPQuestion] {
        try decodeQuestions(read(path), file: path)
    }

    /// The canonical bytes of a questions file: sorted keys, pretty-printed, so equal content gives
    /// equal bytes.
    public static func encodeQuestions(_ questions: [LaMPQuestion]) throws -> Data {
        try encoder().encode(questions)
    }

    public static func writeQuestions(_ questions: [LaMPQuestion], path: String) throws {
        try write(encodeQuestions(questions), path: path)
    }

    // MARK: Outputs (golds or predictions)

    /// Decodes an outputs file `{"task": "LaMP_2", "golds": [{"id", "output"}]}`; the same shape holds predictions.
    public static func decodeOutputs(_ data: Data, file: String = "outputs file") throws -> LaMPOutputs {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw EvaluationError(.badFile, "\(file) is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = root as? [String: Any] else {
            throw EvaluationError(.badFile, "\(file) is not a LaMP outputs file: expected a JSON object {task, golds}")
        }
        guard let taskName = object["task"] as? String else {
            throw EvaluationError(.badFile, "\(file): field `task` is missing or not a string (expected e.g. \"LaMP_2\")")
        }
        guard let task = LaMPTask(name: taskName) else {
            throw EvaluationError(.badFile, "\(file): unknown task \"\(taskName)\" (expected LaMP_1 … LaMP_7)")
        }
        guard let rawGolds = object["golds"] as? [Any] else {
            throw EvaluationError(.badFile, "\(file): field `golds` is missing or not a list")
        }
        var golds: [LaMPGold] = []
        golds.reserveCapacity(rawGolds.count)
        for (n, raw) in rawGolds.enumerated() {
            let place = "\(file), gold \(n + 1)"
            guard let gold = raw as? [String: Any] else {
                throw EvaluationError(.badFile, "\(place): expected a JSON object {id, output}")
            }
            let id = try identifier(gold["id"], place: place)
            guard let output = scalarText(gold["output"] as Any) else {
                throw EvaluationError(.badFile, "\(place) (id \(id)): field `output` is missing or not a string")
            }
            golds.append(LaMPGold(id: id, output: output))
        }
        return LaMPOutputs(task: task, golds: golds)
    }

    public static func readOutputs(path: String) throws -> LaMPOutputs {
        try decodeOutputs(read(path), file: path)
    }

    public static func encodeOutputs(_ outputs: LaMPOutputs) throws -> Data {
        try encoder().encode(outputs)
    }

    public static func writeOutputs(_ outputs: LaMPOutputs, path: String) throws {
        try write(encodeOutputs(outputs), path: path)
    }

    // MARK: Joining

    /// Each question with its gold, in the questions' order. Every question needs exactly one gold;
    /// golds without a question are an error too (the files do not belong together).
    public static func join(questions: [LaMPQuestion], outputs: LaMPOutputs) throws -> [LaMPExample] {
        var golds: [String: String] = [:]
        for gold in outputs.golds {
            guard golds.updateValue(gold.output, forKey: gold.id) == nil else {
                throw EvaluationError(.mismatch, "the outputs file has two golds for id \(gold.id)")
            }
        }
        var seen = Set<String>()
        var examples: [LaMPExample] = []
        for (n, question) in questions.enumerated() {
            guard seen.insert(question.id).inserted else {
                throw EvaluationError(.mismatch, "question \(n + 1): id \(question.id) appears twice in the questions file")
            }
            guard let gold = golds[question.id] else {
                throw EvaluationError(.mismatch, "question \(n + 1): no gold for id \(question.id) in the outputs file; are the two files of the same split?")
            }
            examples.append(LaMPExample(question: question, gold: gold))
        }
        if seen.count != golds.count {
            let extra = golds.keys.filter { !seen.contains($0) }.sorted()
            throw EvaluationError(.mismatch, "the outputs file has \(extra.count) golds whose ids no question has (first: \(extra[0]))")
        }
        return examples
    }

    // MARK: Helpers

    static func identifier(_ value: Any?, place: String) throws -> String {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        throw EvaluationError(.badFile, "\(place): field `id` is missing or neither a string nor a number")
    }

    static func scalarText(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    static func read(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw EvaluationError(.io, "cannot read \(path): \(error.localizedDescription)", remedy: "check the path")
        }
    }

    static func write(_ data: Data, path: String) throws {
        do {
            try AtomicFile.write(data, to: path, permissions: 0o644)
        } catch {
            throw EvaluationError(.io, "cannot write \(path): \(error); check that its folder exists and is writable")
        }
    }
}
