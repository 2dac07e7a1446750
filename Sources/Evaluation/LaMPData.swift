import Foundation

/// One item of a user's LaMP profile: the task's fields as strings (`description`, `tag`, `text`,
/// `score`, `title`, `abstract`, `id`, `date`…). Numbers in the file become their decimal text;
/// other values (lists, objects, null) are ignored.
public struct LaMPProfileItem: Sendable, Equatable, Hashable, Codable {
    public var fields: [String: String]

    public init(_ fields: [String: String]) { self.fields = fields }

    public subscript(_ key: String) -> String? { fields[key] }

    /// The item as a JSON object, the form `MemoryImport.lampProfileItem` takes.
    public var jsonObject: [String: Any] { fields }

    public init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(fields)
    }
}

/// One LaMP question: the task input and the whole profile of the user who asks it (LaMP repeats
/// the profile in every question of the same user).
public struct LaMPQuestion: Sendable, Equatable, Codable {
    public var id: String
    public var input: String
    public var profile: [LaMPProfileItem]

    public init(id: String, input: String, profile: [LaMPProfileItem]) {
        self.id = id
        self.input = input
        self.profile = profile
    }
}

/// One expected (or predicted) output of a LaMP outputs file.
public struct LaMPGold: Sendable, Equatable, Codable {
    public var id: String
    public var output: String

    public init(id: String, output: String) {
        self.id = id
        self.output = output
    }
}

/// A LaMP outputs file: `{"task": "LaMP_2", "golds": [{"id", "output"}]}`. Predictions use the same shape.
public struct LaMPOutputs: Sendable, Equatable, Codable {
    public var task: LaMPTask
    public var golds: [LaMPGold]

    public init(task: LaMPTask, golds: [LaMPGold]) {
        self.task = task
        self.golds = golds
    }

    enum CodingKeys: String, CodingKey { case task, golds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decodeLaMPTask(forKey: .task)
        golds = try c.decode([LaMPGold].self, forKey: .golds)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task.fileName, forKey: .task)
        try c.encode(golds, forKey: .golds)
    }
}

/// A question joined with its gold output.
public struct LaMPExample: Sendable, Equatable {
    public var question: LaMPQuestion
    public var gold: String

    public init(question: LaMPQuestion, gold: String) {
        self.question = question
        self.gold = gold
    }
}
