public import Foundation
import Memory
public import Seal

/// A sealed file of the home bound to its role and generation (sealed stream format 2): a file read
/// in another role fails authentication (the personal adapter cannot be swapped for the profile), and
/// each write takes the next generation, recorded in the memory store, so a file older than the one
/// recorded (a copy put back) is refused. The one gap a write can leave, a crash after the file is in
/// place but before its generation is recorded, is closed on the next read: a file exactly one
/// generation ahead is the one that was being written, and its generation is then recorded.
///
/// What this does not catch: the memory store and the file rolled back together (the whole home
/// restored from an older copy), which nothing on the disk alone can tell from a real restore.
public struct SealedHomeFile: Sendable {
    /// The home's files sealed this way: their role names and paths inside the home.
    public enum Role: String, Sendable, CaseIterable {
        case personalAdapter = "personal-adapter"
        case profile = "profile"
        case distillation = "distillation"

        public var relativePath: String {
            switch self {
            case .personalAdapter: "adapters/personal.sealed"
            case .profile: "profile.sealed"
            case .distillation: "adapters/distillation.sealed"
            }
        }
    }

    public let home: UnlockedHome
    public let role: Role

    public init(_ role: Role, in home: UnlockedHome) {
        self.home = home
        self.role = role
    }

    public var path: String { home.home.path + "/" + role.relativePath }
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Seals `bytes` as the next generation of the file, atomically, then records that generation.
    public func write(_ bytes: some ContiguousBytes) throws {
        let recorded = try home.memory.sealedFileGenerations()?[role.rawValue] ?? 0
        let next = recorded + 1
        try sealFile(bytes, to: path, key: home.key.subkey(for: .fileSealing),
                     binding: SealedFileBinding(role: role.rawValue, generation: next))
        try home.memory.recordSealedFileGeneration(next, for: role.rawValue)
    }

    /// The file's plaintext: only if it authenticates in this role at the recorded generation (or the
    /// next one, from a write interrupted before it was recorded; that generation is recorded now).
    public func read() throws -> [UInt8] {
        let recorded = try home.memory.sealedFileGenerations()?[role.rawValue] ?? 0
        let (bytes, generation) = try openSealedFileWithGeneration(
            at: path, key: home.key.subkey(for: .fileSealing),
            expecting: .bound(role: role.rawValue, accept: { $0 == recorded || $0 == recorded + 1 }))
        if let generation, generation == recorded + 1 {
            try home.memory.recordSealedFileGeneration(generation, for: role.rawValue)
        }
        return bytes
    }

    /// Re-seals the files of a home from before files were bound (sealed stream format 1) as
    /// generation 1 of their role, then starts the record, after which unbound files are refused.
    /// Does nothing once the record exists. A file that does not open is left as it is (its store
    /// reports it as damaged when it is used).
    static func bindLegacyFiles(of home: UnlockedHome) throws {
        guard try home.memory.sealedFileGenerations() == nil else { return }
        for role in Role.allCases {
            let file = SealedHomeFile(role, in: home)
            guard file.exists else { continue }
            guard let (bytes, generation) = try? openSealedFileWithGeneration(
                at: file.path, key: home.key.subkey(for: .fileSealing), expecting: .boundOrLegacy(role: role.rawValue)) else { continue }
            if let generation {
                // Bound already (another process got here first): record it as it is.
                try home.memory.recordSealedFileGeneration(generation, for: role.rawValue)
            } else {
                try file.write(bytes)
            }
        }
        try home.memory.recordSealedFileGeneration(nil)
    }
}
