import Diagnostics
public import Federation
public import Foundation
import GGUF
public import LLM
import Seal
public import Tuning
import Tensor

/// The federation's current shared adapter as this client holds it: public data (the aggregate of
/// many users' clipped, noised updates, published by the coordinator), so it is stored unsealed.
public struct SharedAdapter: Sendable {
    public let spec: SharedAdapterSpec
    public let dimensions: BaseDimensions
    /// 0 before the first round (B = 0).
    public let version: Int
    /// B flattened in `SharedAdapterSpec`'s order; `spec.vectorLength(dimensions)` values.
    public let vector: [Float]
    public let manifestSequence: Int64
}

/// `<home>/shared/`: the current shared B vector `adapter-v{N}.f32` (little-endian Float32, the
/// blob exactly as published) and `manifest.json`, the signed manifest that names it.
///
/// To use the shared adapter (assistant, personal training):
///
///     if let shared = try SharedAdapterStore.current(home) {
///         let adapter = try LoRAAdapter.shared(spec: shared.spec, vector: shared.vector, model: llama.config)
///         try adapter.attach(to: llama)          // or pass it to TrainingModel as a frozen adapter
///     }
public enum SharedAdapterStore {
    public static func folder(_ home: ClientHome) -> String { home.path + "/shared" }
    public static func manifestPath(_ home: ClientHome) -> String { folder(home) + "/manifest.json" }
    public static func vectorPath(_ home: ClientHome, version: Int) -> String { folder(home) + "/adapter-v\(version).f32" }

    /// The shared adapter this home holds, or nil when it has none yet (never joined, or the
    /// coordinator has no base published). The manifest is verified under the pinned coordinator key
    /// and the vector against the manifest's SHA-256 on every call.
    public static func current(_ home: ClientHome) throws -> SharedAdapter? {
        guard let link = try CoordinatorLink.load(home),
              let data = FileManager.default.contents(atPath: manifestPath(home)) else { return nil }
        let signed = try WireCoding.decoder().decode(SignedManifest.self, from: data)
        let manifest = try signed.open(coordinatorKey: link.coordinatorKey)
        guard let dimensions = manifest.baseDimensions else { return nil }
        let length = manifest.sharedAdapter.vectorLength(dimensions)
        let vector: [Float]
        if let blob = manifest.sharedAdapterBlob {
            let path = vectorPath(home, version: manifest.sharedAdapterVersion)
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw ClientError(.corrupt, "\(path) is missing: run `pclient sync` to download shared version \(manifest.sharedAdapterVersion)")
            }
            guard SHA256.hex(bytes) == blob.sha256.lowercased() else {
                throw ClientError(.corrupt, "\(path) does not have the SHA-256 its manifest names: delete it and run `pclient sync`")
            }
            vector = try decodeVector(bytes, count: length, path: path)
        } else {
            vector = [Float](repeating: 0, count: length)
        }
        return SharedAdapter(spec: manifest.sharedAdapter, dimensions: dimensions, version: manifest.sharedAdapterVersion,
                             vector: vector, manifestSequence: manifest.sequence)
    }

    /// Little-endian Float32 bytes → floats, refusing a blob of another length.
    public static func decodeVector(_ bytes: Data, count: Int, path: String) throws -> [Float] {
        guard bytes.count == count * 4 else {
            throw ClientError(.corrupt, "\(path) holds \(bytes.count) bytes; the shared adapter needs \(count * 4) for this base: run `pclient sync`")
        }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    package static func encodeVector(_ vector: [Float]) -> Data {
        var data = Data(count: vector.count * 4)
        data.withUnsafeMutableBytes { out in
            for (i, x) in vector.enumerated() { out.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        return data
    }
}

extension BaseDimensions {
    /// The dimensions a llama config gives the shared adapter: from its GGUF `LlamaShape`, as the
    /// coordinator's `BaseModel.dimensions(ofGGUFAt:)` computes them.
    public init(_ c: LlamaConfig) {
        let s = c.shape
        self.init(blocks: s.blockCount, embedding: s.embeddingLength, keyValue: s.kvDim, feedForward: s.feedForwardLength)
    }
}

extension LoRAAdapter {
    /// The LoRA config of a shared-adapter spec (no dropout: B is what clients train and average).
    public static func sharedConfig(_ spec: SharedAdapterSpec) throws -> LoRAConfig {
        let targets = try spec.targets.map { name in
            guard let t = LoRATarget(rawValue: name) else {
                throw ClientError(.badInput, "the shared adapter names an unknown target \"\(name)\"")
            }
            return t
        }
        return LoRAConfig(rank: spec.rank, alpha: Float(spec.alpha), dropout: 0, targets: targets)
    }

    /// The federation's shared adapter for `model`: A generated from the published seed (FFA-LoRA:
    /// frozen, `training: .bOnly`), B filled from `vector` in SharedAdapterSpec's order, which is the
    /// adapter's own module order (block-major, targets q,k,v,o,gate,up,down) with each B (out, rank)
    /// row-major. Throws when the vector does not fit the model (another base, or q/o wider than the
    /// embedding, which the shared layout does not cover).
    public static func shared(spec: SharedAdapterSpec, vector: [Float], model: LlamaConfig) throws -> LoRAAdapter {
        guard model.qDim == model.dim else {
            throw ClientError(.badInput, "the shared adapter's layout assumes heads × head dim = embedding width; this model has \(model.qDim) ≠ \(model.dim)")
        }
        let expected = spec.vectorLength(BaseDimensions(model))
        guard vector.count == expected else {
            throw ClientError(.badInput, "the shared adapter vector has \(vector.count) values; this model needs \(expected): the coordinator publishes for another base")
        }
        let adapter = try LoRAAdapter(config: sharedConfig(spec), model: model, seed: spec.seed, training: .bOnly)
        try adapter.setSharedVector(vector)
        return adapter
    }

    /// All B values in module order (block-major, targets in config order, each (out, rank) row-major).
    public func flattenedB() -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(modules.reduce(0) { $0 + $1.b.count })
        for m in modules { out.append(contentsOf: UnsafeBufferPointer(start: m.b.pointer, count: m.b.count)) }
        return out
    }

    /// Overwrites every B from a flat vector in `flattenedB()` order.
    public func setSharedVector(_ vector: [Float]) throws {
        let total = modules.reduce(0) { $0 + $1.b.count }
        guard vector.count == total else {
            throw ClientError(.badInput, "a vector of \(vector.count) values cannot fill B matrices of \(total) values")
        }
        var offset = 0
        vector.withUnsafeBufferPointer { v in
            for m in modules {
                m.b.pointer.update(from: v.baseAddress! + offset, count: m.b.count)
                offset += m.b.count
            }
        }
    }
}
