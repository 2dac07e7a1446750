import Diagnostics
import Foundation
import Tensor

/// A trainer's whole state between two steps: the trainable values, AdamW's moments and step count,
/// the steps done, and early stopping's best epoch. Stored as safetensors (tensors `p.i`, `m.i`,
/// `v.i`, `best.i`; the rest in the metadata), so a checkpoint is readable by common tools.
struct TrainerCheckpoint {
    var fingerprint: UInt64
    var step: Int
    var parameters: [[Float]]
    var moments: [(m: [Float], v: [Float])]
    var optimizerSteps: Int
    var best: (loss: Double, values: [[Float]], epoch: Int)?
    var stale: Int

    init(fingerprint: UInt64, step: Int, parameters: [[Float]], optimizer: AdamW,
         best: (loss: Double, values: [[Float]], epoch: Int)?, stale: Int) {
        self.fingerprint = fingerprint
        self.step = step
        self.parameters = parameters
        self.moments = optimizer.moments.map { ($0.m.array, $0.v.array) }
        self.optimizerSteps = optimizer.stepCount
        self.best = best
        self.stale = stale
    }

    private init(fingerprint: UInt64, step: Int, parameters: [[Float]], moments: [(m: [Float], v: [Float])], optimizerSteps: Int,
                 best: (loss: Double, values: [[Float]], epoch: Int)?, stale: Int) {
        self.fingerprint = fingerprint
        self.step = step
        self.parameters = parameters
        self.moments = moments
        self.optimizerSteps = optimizerSteps
        self.best = best
        self.stale = stale
    }

    func encode() throws -> [UInt8] {
        var tensors: [String: SafeTensors.Tensor] = [:]
        for (i, p) in parameters.enumerated() {
            tensors["p.\(i)"] = .init(shape: [p.count], values: p)
            tensors["m.\(i)"] = .init(shape: [p.count], values: moments[i].m)
            tensors["v.\(i)"] = .init(shape: [p.count], values: moments[i].v)
        }
        var metadata = ["format": "pllm.trainer-checkpoint.v1", "fingerprint": String(fingerprint), "step": String(step),
                        "optimizer_steps": String(optimizerSteps), "parameters": String(parameters.count), "stale": String(stale)]
        if let best {
            metadata["best_loss"] = String(best.loss.bitPattern)
            metadata["best_epoch"] = String(best.epoch)
            for (i, b) in best.values.enumerated() { tensors["best.\(i)"] = .init(shape: [b.count], values: b) }
        }
        return try SafeTensors.encode(tensors, metadata: metadata)
    }

    static func decode(_ bytes: [UInt8]) throws -> TrainerCheckpoint {
        let (tensors, metadata) = try SafeTensors.decode(bytes)
        func int(_ key: String) throws -> Int {
            guard let s = metadata[key], let v = Int(s) else {
                throw TuningError(.corruptFile, "the training checkpoint lacks \(key): remove it to start over")
            }
            return v
        }
        guard metadata["format"] == "pllm.trainer-checkpoint.v1", let fp = metadata["fingerprint"].flatMap(UInt64.init) else {
            throw TuningError(.corruptFile, "not a training checkpoint of this version: remove it to start over")
        }
        let n = try int("parameters")
        var parameters: [[Float]] = [], moments: [(m: [Float], v: [Float])] = [], bestValues: [[Float]] = []
        for i in 0..<n {
            guard let p = tensors["p.\(i)"], let m = tensors["m.\(i)"], let v = tensors["v.\(i)"],
                  m.values.count == p.values.count, v.values.count == p.values.count else {
                throw TuningError(.corruptFile, "the training checkpoint lacks parameter \(i): remove it to start over")
            }
            parameters.append(p.values)
            moments.append((m.values, v.values))
            if let b = tensors["best.\(i)"] { bestValues.append(b.values) }
        }
        var best: (loss: Double, values: [[Float]], epoch: Int)?
        if let bits = metadata["best_loss"].flatMap(UInt64.init), bestValues.count == n {
            best = (Double(bitPattern: bits), bestValues, try int("best_epoch"))
        }
        return TrainerCheckpoint(fingerprint: fp, step: try int("step"), parameters: parameters, moments: moments,
                                 optimizerSteps: try int("optimizer_steps"), best: best, stale: try int("stale"))
    }

    func restore(into values: [FloatBuffer], optimizer: AdamW) throws {
        guard values.count == parameters.count, zip(values, parameters).allSatisfy({ $0.count == $1.count }) else {
            throw TuningError(.adapterMismatch, "the training checkpoint does not fit these adapters: remove it to start over")
        }
        for (buffer, p) in zip(values, parameters) { buffer.pointer.update(from: p, count: p.count) }
        try optimizer.restore(stepCount: optimizerSteps, moments: moments)
    }
}

/// Checkpoints in one plain file, replaced atomically (temp file, fsync, rename): for adapters that
/// are not personal (train-adapter's output folder, the shared adapter's public B).
public struct FileCheckpointStore: CheckpointStore {
    public let path: String

    public init(path: String) { self.path = path }

    public func load() throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TuningError(.io, "cannot read the checkpoint \(path)")
        }
        return [UInt8](data)
    }

    public func save(_ bytes: [UInt8]) throws {
        try writeAtomically(bytes, to: path)
    }

    public func remove() throws {
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }
}
