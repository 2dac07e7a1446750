public import Foundation

/// What a memory item is, after MaLP's split of user behaviour from notes and conversation.
public enum ItemKind: String, Codable, Sendable, CaseIterable {
    /// Something the user did: an input and the user's own output (a tag they chose, a rating, a
    /// headline they wrote, a reply).
    case behaviour
    /// A note or fact the user told the assistant.
    case note
    /// One turn the user typed in a conversation: working memory of its session, and the source of
    /// notes (a statement about themselves becomes one). Not retrieved for later questions.
    case chatTurn = "chat"
    /// One answer of the assistant. Kept with its conversation, never retrieved: the assistant's own
    /// words are not facts about the user.
    case reply

    /// What retrieval returns for a question by default: what the user told or did.
    public static let retrievable: Set<ItemKind> = [.behaviour, .note]
}

/// How a newer item replaced an older one.
public enum Replacement: String, Codable, Sendable {
    /// The world changed: a newer note on the same subject ("I now live in Lisbon."). The older one
    /// held until the newer one's `validFrom`.
    case superseded
    /// The record was corrected (`pclient memory edit`): the older text never held.
    case edited
}

/// MaLP's memory tiers.
public enum Tier: String, Codable, Sendable, CaseIterable, Comparable {
    /// The current conversation.
    case working
    /// Recent items; they decay and are forgotten unless rehearsed or important.
    case short
    /// Consolidated items: never cleared automatically; the personal adapter's training set.
    case long

    public static func < (a: Tier, b: Tier) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The user's own words. Sealed as one record before it touches disk.
public struct ItemContent: Codable, Sendable, Equatable {
    /// The text of a note or chat turn; for a behaviour, its input.
    public var text: String
    /// For a behaviour: the user's own output (the label, rating, headline…).
    public var output: String?
    /// Where it came from (a file name, "cli", "chat"…).
    public var source: String?
    /// For chat turns: "user" or "assistant".
    public var role: String?

    public init(text: String, output: String? = nil, source: String? = nil, role: String? = nil) {
        self.text = text
        self.output = output
        self.source = source
        self.role = role
    }

    /// All searchable text of the item.
    public var searchableText: String { [text, output].compactMap { $0 }.joined(separator: " ") }
}

/// One decrypted memory item.
public struct MemoryItem: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var kind: ItemKind
    public var tier: Tier
    public var created: Date
    public var lastAccess: Date
    /// Rehearsals: retrievals and repetitions (MaLP consolidates after enough of them).
    public var accessCount: Int
    /// 0…1; items at or above the store's importance threshold go to long-term memory at once.
    public var importance: Double
    public var content: ItemContent
    /// Bi-temporal: `created` is when it was recorded; `validFrom`…`validTo` when it holds in the
    /// world (open-ended while `validTo` is nil).
    public var validFrom: Date
    public var validTo: Date?
    /// The newer item that replaced this one, and how; nil while this one is current.
    public var replacedBy: Int64?
    public var replacement: Replacement?

    /// Not replaced: what retrieval uses for questions about now.
    public var isCurrent: Bool { replacedBy == nil }

    public init(id: Int64, kind: ItemKind, tier: Tier, created: Date, lastAccess: Date,
                accessCount: Int, importance: Double, content: ItemContent, validFrom: Date? = nil,
                validTo: Date? = nil, replacedBy: Int64? = nil, replacement: Replacement? = nil) {
        self.id = id
        self.kind = kind
        self.tier = tier
        self.created = created
        self.lastAccess = lastAccess
        self.accessCount = accessCount
        self.importance = importance
        self.content = content
        self.validFrom = validFrom ?? created
        self.validTo = validTo
        self.replacedBy = replacedBy
        self.replacement = replacement
    }
}

/// A new item before it is stored.
public struct NewItem: Sendable {
    public var kind: ItemKind
    public var content: ItemContent
    public var tier: Tier
    public var importance: Double
    public var created: Date?
    /// Kept when an item is restored from a bundle; new items start unrehearsed.
    public var lastAccess: Date?
    public var accessCount: Int
    /// When it starts to hold (default: `created`) and, for restored history, when it stopped.
    public var validFrom: Date?
    public var validTo: Date?
    /// A note closes the current notes it supersedes (same subject and relation, see `NoteFrame`).
    /// Off when history is restored as it was (bundle import links items itself).
    public var supersedesOlder: Bool

    public init(kind: ItemKind, content: ItemContent, tier: Tier = .short, importance: Double = 0.5,
                created: Date? = nil, lastAccess: Date? = nil, accessCount: Int = 0,
                validFrom: Date? = nil, validTo: Date? = nil, supersedesOlder: Bool = true) {
        // Turns written by the assistant are replies, whatever the caller (or an old bundle) says.
        self.kind = kind == .chatTurn && content.role == "assistant" ? .reply : kind
        self.content = content
        self.tier = tier
        self.importance = importance
        self.created = created
        self.lastAccess = lastAccess
        self.accessCount = accessCount
        self.validFrom = validFrom
        self.validTo = validTo
        self.supersedesOlder = supersedesOlder
    }
}

/// What `MemoryStore.remember` did with one new item.
public struct Remembered: Sendable, Equatable {
    /// The stored item's id, or the id of the identical item rehearsed instead.
    public var id: Int64
    /// False when an identical item was already there (it was rehearsed).
    public var stored: Bool
    /// Current notes this one superseded (same subject and relation, another value).
    public var superseded: [Int64]
}
