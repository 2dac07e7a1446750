import Diagnostics
import Foundation
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

    public var path: String { SealedHomeFile(.profile, in: home).path }

    /// Identifies the state of long-term memory: its item ids, hashed (no content).
    public static func watermark(_ items: [MemoryItem]) -> String { watermark(ids: items.map(\.id)) }

    /// The watermark of long-term memory holding exactly these item ids.
    public static func watermark(ids: [Int64]) -> String {
        let ids = ids.sorted().map(String.init).joined(separator: ",")
        return Hex.encode(Blake2b.hash(Array(ids.utf8), outputByteCount: 16))
    }

    /// The cached summary, whatever memory it was written from; nil when there is none.
    public func cached() throws -> ProfileSummary? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let plain = try SealedHomeFile(.profile, in: home).read()
            return try JSONDecoder().decode(ProfileSummary.self, from: Data(plain))
        } catch {
            throw ClientError(.corrupt, "\(path) does not open with this home's key: \(error); delete it and it will be rewritten")
        }
    }

    /// Seals `summary` as the cached profile, replacing any previous one atomically.
    public func save(_ summary: ProfileSummary) throws {
        try SealedHomeFile(.profile, in: home).write(Array(try JSONEncoder().encode(summary)))
    }
}
