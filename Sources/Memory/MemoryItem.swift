public import Foundation

/// What a memory item is, after MaLP's split of user behaviour from notes and conversation.
public enum ItemKind: String, Codable, Sendable, CaseIterable {
    /// Something the user did: an input and the user's own output (a tag they chose, a rating, a
    /// headline they wrote, a reply).
    case behaviour
    /// A note or fact the user told the assistant.
    case note
    /// One turn of a conversation (user or assistant).
    case chatTurn = "chat"
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

    public init(id: Int64, kind: ItemKind, tier: Tier, created: Date, lastAccess: Date,
                accessCount: Int, importance: Double, content: ItemContent) {
        self.id = id
        self.kind = kind
        self.tier = tier
        self.created = created
        self.lastAccess = lastAccess
        self.accessCount = accessCount
        self.importance = importance
        self.content = content
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

    public init(kind: ItemKind, content: ItemContent, tier: Tier = .short, importance: Double = 0.5,
                created: Date? = nil, lastAccess: Date? = nil, accessCount: Int = 0) {
        self.kind = kind
        self.content = content
        self.tier = tier
        self.importance = importance
        self.created = created
        self.lastAccess = lastAccess
        self.accessCount = accessCount
    }
}
