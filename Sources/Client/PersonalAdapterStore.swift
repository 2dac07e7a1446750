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

    public init(baseModelSHA256: String, rank: Int, alpha: Float, targets: [String], trainedItemIDs: [Int64],
                sharedAdapterFingerprint: String?, ragK: Int, trainedAt: String, trainings: Int, lastLoss: Double?) {
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
    public var path: String { directory + "/personal.sealed" }
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Seals `adapter` and its metadata into the home, replacing any previous one atomically.
    public func save(_ adapter: LoRAAdapter, metadata: PersonalAdapterMetadata, model: LlamaConfig) throws {
        try saveParts(metadata: metadata, config: try Self.peftConfig(adapter.config),
                      weights: try SafeTensors.encode(adapter.tensors(model: model), metadata: ["format": "pt"]))
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
        try sealFile(plain, to: path, key: home.key.subkey(for: .fileSealing))
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
            plain = try openSealedFile(at: path, key: home.key.subkey(for: .fileSealing))
        } catch {
            throw ClientError(.corrupt, "\(path) does not open with this home's key (altered, truncated or from another home): \(error). Run `pclient train --full` to rebuild it")
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

    // MARK: PEFT bytes

    /// adapter_config.json as PEFT writes it (the fields `LoRAAdapter.save` writes).
    static func peftConfig(_ c: LoRAConfig) throws -> [UInt8] {
        let object: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": c.rank,
            "lora_alpha": c.alpha == c.alpha.rounded() ? Int(c.alpha) as Any : Double(c.alpha) as Any,
            "lora_dropout": Double(c.dropout), "target_modules": c.targets.map(\.peftModule), "bias": "none",
            "base_model_name_or_path": "", "fan_in_fan_out": false, "inference_mode": true,
            "init_lora_weights": true, "use_rslora": false, "use_dora": false,
        ]
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// An adapter from PEFT config and safetensors bytes, with every tensor checked against `model`.
    static func adapter(config bytes: [UInt8], safetensors: [UInt8], model: LlamaConfig, training: LoRATraining) throws -> LoRAAdapter {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let rank = (object["r"] as? NSNumber)?.intValue, let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue,
              let modules = object["target_modules"] as? [String] else {
            throw ClientError(.corrupt, "the sealed adapter's config is not a PEFT LoRA config")
        }
        let targets = modules.compactMap(LoRATarget.init(peftModule:))
        guard targets.count == modules.count else { throw ClientError(.corrupt, "the sealed adapter names unknown target modules \(modules)") }
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: rank, alpha: alpha, targets: targets), model: model, seed: 0, training: training)
        let (tensors, _) = try SafeTensors.decode(safetensors)
        guard tensors.count == adapter.modules.count * 2 else {
            throw ClientError(.corrupt, "the sealed adapter holds \(tensors.count) tensors; this model needs \(adapter.modules.count * 2): it was trained for another model")
        }
        for m in adapter.modules {
            for (matrix, buffer, shape) in [("A", m.a, [m.rank, m.inFeatures]), ("B", m.b, [m.outFeatures, m.rank])] {
                let name = LoRAAdapter.tensorName(block: m.block, target: m.target, matrix: matrix)
                guard let t = tensors[name], t.shape == shape else {
                    throw ClientError(.corrupt, "the sealed adapter lacks \(name) of shape \(shape): it was trained for another model; run `pclient train --full`")
                }
                let values = matrix == "B" ? ggufRows(t.values, target: m.target, rank: m.rank, model: model) : t.values
                guard values.allSatisfy(\.isFinite) else { throw ClientError(.corrupt, "\(name) holds values that are not finite") }
                for i in 0..<values.count { buffer[i] = values[i] }
            }
        }
        return adapter
    }

    /// Rows of B (out, r) of q or k from Hugging Face's rotate-half order back to the GGUF layout
    /// (the inverse of what `LoRAAdapter.tensors(model:)` does): GGUF row h·D + 2i + j = HF row h·D + j·D/2 + i.
    static func ggufRows(_ values: [Float], target: LoRATarget, rank: Int, model: LlamaConfig) -> [Float] {
        let heads: Int
        switch target {
        case .q: heads = model.headCount
        case .k: heads = model.kvHeadCount
        default: return values
        }
        let D = model.headDim, half = D / 2
        var out = values
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let gguf = h * D + 2 * i + j, hf = h * D + j * half + i
                    for c in 0..<rank { out[gguf * rank + c] = values[hf * rank + c] }
                }
            }
        }
        return out
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
        return Blake2b.hash(bytes, outputByteCount: 16).map { String(format: "%02x", $0) }.joined()
    }
}
