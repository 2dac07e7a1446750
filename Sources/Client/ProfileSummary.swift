import Foundation
public import LLM
import Tokenizer
public import Memory
import Seal

/// OPPU's profile-augmented generation (PAG): a short summary of the user, written by the model from
/// long-term memory, cached sealed at `<home>/profile.sealed` (JSON inside a sealed file under the
/// file-sealing subkey) and rewritten when long-term memory changed since it was written.
public struct ProfileSummary: Codable, Sendable, Equatable {
    public var text: String
    /// The long-term memory it was written from (see `ProfileSummary.watermark`).
    public var watermark: String
    public var written: String

    public init(text: String, watermark: String, written: String) {
        self.text = text
        self.watermark = watermark
        self.written = written
    }
}

public struct ProfileStore: Sendable {
    public let home: UnlockedHome
    /// Most prompt tokens spent on memory items when writing the summary.
    public var itemBudget = 768
    public var maxTokens = 80

    public init(home: UnlockedHome) { self.home = home }

    public var path: String { home.home.path + "/profile.sealed" }

    /// Identifies the state of long-term memory: its item ids, hashed (no content).
    public static func watermark(_ items: [MemoryItem]) -> String { watermark(ids: items.map(\.id)) }

    /// The watermark of long-term memory holding exactly these item ids.
    public static func watermark(ids: [Int64]) -> String {
        let ids = ids.sorted().map(String.init).joined(separator: ",")
        return Blake2b.hash(Array(ids.utf8), outputByteCount: 16).map { String(format: "%02x", $0) }.joined()
    }

    /// The cached summary, whatever memory it was written from; nil when there is none.
    public func cached() throws -> ProfileSummary? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let plain = try openSealedFile(at: path, key: home.key.subkey(for: .fileSealing))
            return try JSONDecoder().decode(ProfileSummary.self, from: Data(plain))
        } catch {
            throw ClientError(.corrupt, "\(path) does not open with this home's key: \(error); delete it and it will be rewritten")
        }
    }

    /// The summary of the current long-term memory: the cached one when memory has not changed,
    /// else a new one written by `generator` with `adapters` and cached. Nil when long-term memory is empty.
    public func current(generator: TextGenerator, style: PromptStyle = .default,
                        adapters: AdapterStack = .none) throws -> (summary: ProfileSummary, fresh: Bool)? {
        let items = try home.memory.trainingSet()
        guard !items.isEmpty else { return nil }
        let mark = Self.watermark(items)
        if let c = try cached(), c.watermark == mark { return (c, false) }
        let text = try write(items: items, generator: generator, style: style, adapters: adapters)
        let summary = ProfileSummary(text: text, watermark: mark, written: ISO8601DateFormatter().string(from: Date()))
        try save(summary)
        return (summary, true)
    }

    /// Seals `summary` as the cached profile, replacing any previous one atomically.
    public func save(_ summary: ProfileSummary) throws {
        try sealFile(Array(try JSONEncoder().encode(summary)), to: path, key: home.key.subkey(for: .fileSealing))
    }

    /// Asks the model for the summary: the newest items that fit `itemBudget` tokens, then the request.
    func write(items: [MemoryItem], generator: TextGenerator, style: PromptStyle, adapters: AdapterStack = .none) throws -> String {
        var lines: [String] = []
        var used = 0
        for item in items.reversed() {
            let line = "- " + style.renderItem(item)
            let n = generator.tokenizer.encode(line, parseSpecial: false).count + 1
            if used + n > itemBudget { break }
            lines.append(line)
            used += n
        }
        let request = "Here is what a user did and said:\n" + lines.reversed().joined(separator: "\n")
            + "\n\nIn two or three short sentences, describe this user: their preferences, habits and style. Start with \"The user\"."
        var sampling = SamplingParameters.greedy
        sampling.repetitionPenalty = 1.3   // small models loop on lists otherwise
        let result = try generator.chat([ChatMessage(role: "user", content: request)], maxTokens: maxTokens, sampling: sampling,
                                    adapters: adapters)
        return Self.tidy(result.text)
    }

    /// At most three complete sentences on one line (a cut-off last sentence is dropped).
    static func tidy(_ text: String) -> String {
        let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        var sentences: [String] = []
        var current = ""
        for ch in flat {
            current.append(ch)
            if ".!?".contains(ch) {
                sentences.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                if sentences.count == 3 { break }
            }
        }
        return sentences.isEmpty ? flat : sentences.joined(separator: " ")
    }
}
