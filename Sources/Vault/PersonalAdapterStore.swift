import Diagnostics
import Foundation
public import LLM
import Seal
public import Tuning
import Tensor

/// What the sealed personal adapter was trained from. Kept inside the sealed file with the weights.
public struct PersonalAdapterMetadata: Codable, Sendable, Equatable {
    public var format = 1
    /// SHA-256 (hex) of the base GGUF the adapter was trained on.
    public var baseModelSHA256: String
    public var rank: Int
    public var alpha: Float
    public var targets: [String]
    /// The long-term memory items trained on so far (ids, no content).
    public var trainedItemIDs: [Int64]
    /// A fingerprint of the shared adapter that was frozen under it during training, if any.
    public var sharedAdapterFingerprint: String?
    /// Retrieved items per training prompt (0: none).
    public var ragK: Int
    public var trainedAt: String
    public var trainings: Int
    public var lastLoss: Double?
    /// The notes trained on so far (ids, no content); nil when none ever were (and in files written
    /// before notes were trained on).
    public var trainedNoteIDs: [Int64]?

    public init(baseModelSHA256: String, rank: Int, alpha: Float, targets: [String], trainedItemIDs: [Int64],
                sharedAdapterFingerprint: String?, ragK: Int, trainedAt: String, trainings: Int, lastLoss: Double?,
                trainedNoteIDs: [Int64]? = nil) {
        self.baseModelSHA256 = baseModelSHA256
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
        self.trainedItemIDs = trainedItemIDs
        self.sharedAdapterFingerprint = sharedAdapterFingerprint
        self.ragK = ragK
        self.trainedAt = trainedAt
        self.trainings = trainings
        self.lastLoss = lastLoss
        self.trainedNoteIDs = trainedNoteIDs
    }
}

/// The personal adapter of a home, sealed on disk at `<home>/adapters/personal.sealed` under the
/// data key's file-sealing subkey (crypto_secretstream). Its plaintext is
///
///     "PLLMPADP" ‖ u32 LE n ‖ metadata JSON (n bytes) ‖ u32 LE m ‖ adapter_config.json (m bytes)
///     ‖ adapter_model.safetensors (the rest)
///
/// i.e. exactly PEFT's two files plus our metadata. It is never written in the clear: the sealed
/// writer's temporary file holds ciphertext only. `export(to:)` writes the plaintext PEFT folder
/// when the user asks for it.
public struct PersonalAdapterStore: Sendable {
    public let home: UnlockedHome
    static let magic = Array("PLLMPADP".utf8)

    public init(home: UnlockedHome) { self.home = home }

    public var directory: String { home.home.path + "/adapters" }
    public var path: String { SealedHomeFile(.personalAdapter, in: home).path }
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Seals `adapter` and its metadata into the home, replacing any previous one atomically.
    public func save(_ adapter: LoRAAdapter, metadata: PersonalAdapterMetadata, model: LlamaConfig) throws {
        let files = try adapter.peftFiles(model: model)
        try saveParts(metadata: metadata, config: files.config, weights: files.weights)
    }

    /// Seals already encoded parts (metadata, PEFT adapter_config.json, adapter_model.safetensors):
    /// what `save` does after encoding, and what a bundle import installs.
    func saveParts(metadata: PersonalAdapterMetadata, config: [UInt8], weights: [UInt8]) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClientError(.io, "cannot create \(directory): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let meta = Array(try encoder.encode(metadata))
        var plain = Self.magic
        plain += withUnsafeBytes(of: UInt32(meta.count).littleEndian, Array.init) + meta
        plain += withUnsafeBytes(of: UInt32(config.count).littleEndian, Array.init) + config
        plain += weights
        defer { for i in plain.indices { plain[i] = 0 } }
        try SealedHomeFile(.personalAdapter, in: home).write(plain)
    }

    /// The metadata alone (the whole file is authenticated either way), or nil when there is no adapter.
    public func metadata() throws -> PersonalAdapterMetadata? {
        guard exists else { return nil }
        return try openParts().metadata
    }

    /// The adapter (frozen, for answering; pass `.full` to continue training) and its metadata, or nil
    /// when the home has none. An adapter made for another model is an error.
    public func load(model: LlamaConfig, training: LoRATraining = .frozen) throws -> (adapter: LoRAAdapter, metadata: PersonalAdapterMetadata)? {
        guard exists else { return nil }
        let (metadata, config, weights) = try openParts()
        let adapter = try Self.adapter(config: config, safetensors: weights, model: model, training: training)
        return (adapter, metadata)
    }

    /// Writes the plaintext PEFT folder (adapter_model.safetensors, adapter_config.json): the
    /// adapter then leaves the vault, by the user's explicit choice.
    public func export(to folder: String, model: LlamaConfig, baseModel: String = "") throws {
        guard let (adapter, _) = try load(model: model) else {
            throw ClientError(.notInitialized, "this home has no personal adapter yet: run `pclient train` first")
        }
        try adapter.save(to: folder, model: model, baseModel: baseModel)
    }

    /// The sealed file's parts, authenticated: metadata, PEFT config bytes, safetensors bytes.
    func openParts() throws -> (metadata: PersonalAdapterMetadata, config: [UInt8], weights: [UInt8]) {
        let plain: [UInt8]
        do {
            plain = try SealedHomeFile(.personalAdapter, in: home).read()
        } catch let e as SealError where e.code == .sealedFileRolledBack {
            throw ClientError(.corrupt, "\(path) is not the personal adapter this home last saved: \(e.message)",
                              remedy: "`pclient train --full` rebuilds it", cause: e)
        } catch {
            throw ClientError(.corrupt, "\(path) does not open with this home's key (altered, truncated or from another home)",
                              remedy: "`pclient train --full` rebuilds it", cause: error)
        }
        var at = 0
        func take(_ n: Int, _ what: String) throws -> [UInt8] {
            guard n >= 0, plain.count - at >= n else { throw ClientError(.corrupt, "\(path) ends inside its \(what)") }
            defer { at += n }
            return Array(plain[at..<at + n])
        }
        func length(_ what: String) throws -> Int {
            Int(try take(4, what + " length").reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        guard try take(8, "magic") == Self.magic else { throw ClientError(.corrupt, "\(path) is not a personal adapter") }
        let metaBytes = try take(try length("metadata"), "metadata")
        let config = try take(try length("config"), "config")
        let weights = Array(plain[at...])
        guard let metadata = try? JSONDecoder().decode(PersonalAdapterMetadata.self, from: Data(metaBytes)) else {
            throw ClientError(.corrupt, "the metadata of \(path) cannot be read: run `pclient train --full` to rebuild it")
        }
        return (metadata, config, weights)
    }

    /// An adapter from the sealed PEFT bytes, checked against `model` (Tuning's checks, as for a
    /// PEFT folder); a misfit is a corrupt store with its remedy.
    static func adapter(config: [UInt8], safetensors: [UInt8], model: LlamaConfig, training: LoRATraining) throws -> LoRAAdapter {
        do {
            return try LoRAAdapter(peftConfig: config, weights: safetensors, model: model, training: training)
        } catch let error as TuningError {
            throw ClientError(.corrupt, "the sealed personal adapter cannot be used with this model: \(error.message)",
                              remedy: "`pclient train --full` rebuilds it")
        }
    }
}

extension LoRAAdapter {
    /// BLAKE2b-128 of the adapter's configuration and values (hex): tells whether two adapters are the same.
    public var fingerprint: String {
        var bytes = Array("\(config.rank) \(config.alpha) \(config.targets.map(\.rawValue))".utf8)
        for m in modules {
            bytes += UnsafeBufferPointer(start: m.a.pointer, count: m.a.count).withMemoryRebound(to: UInt8.self) { Array($0) }
            bytes += UnsafeBufferPointer(start: m.b.pointer, count: m.b.count).withMemoryRebound(to: UInt8.self) { Array($0) }
        }
        return Hex.encode(Blake2b.hash(bytes, outputByteCount: 16))
    }
}
