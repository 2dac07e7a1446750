import Diagnostics
import Foundation
public import LLM
import Tensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// An adapter directory as Hugging Face PEFT writes it, so PEFT and llama.cpp's
// convert_lora_to_gguf.py read ours and we read theirs:
//   adapter_model.safetensors   base_model.model.model.layers.{i}.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
//                               base_model.model.model.layers.{i}.mlp.{gate,up,down}_proj.lora_{A,B}.weight
//                               A: (r, in), B: (out, r), F32
//   adapter_config.json         peft_type "LORA", r, lora_alpha, lora_dropout, target_modules, bias "none",
//                               task_type "CAUSAL_LM", base_model_name_or_path, …
// The GGUF layout stores the rows of q and k with each head's rotary pairs adjacent, where Hugging Face
// stores them in rotate-half order (llama.cpp's converter permutes them, and permutes lora_B of q and k
// the same way). Adapters here act on the GGUF layout, so B of q and k is written in HF row order and
// permuted back on load: GGUF row h·D + 2i + j  =  HF row h·D + j·D/2 + i  (head h, pair i, j ∈ {0, 1}).

extension LoRAAdapter {
    public static let weightsFileName = "adapter_model.safetensors"
    public static let configFileName = "adapter_config.json"

    /// The PEFT tensor name of A ("A") or B ("B") of one module.
    public static func tensorName(block: Int, target: LoRATarget, matrix: String) -> String {
        "base_model.model.model.layers.\(block).\(target.peftPath).lora_\(matrix).weight"
    }

    /// The adapter's tensors under their PEFT names, in Hugging Face row order.
    public func tensors(model: LlamaConfig) -> [String: SafeTensors.Tensor] {
        var out: [String: SafeTensors.Tensor] = [:]
        for m in modules {
            out[Self.tensorName(block: m.block, target: m.target, matrix: "A")] =
                SafeTensors.Tensor(shape: [m.rank, m.inFeatures], values: m.a.array)
            out[Self.tensorName(block: m.block, target: m.target, matrix: "B")] =
                SafeTensors.Tensor(shape: [m.outFeatures, m.rank],
                                   values: Self.rotaryRows(m.b.array, target: m.target, rank: m.rank, model: model, toHF: true))
        }
        return out
    }

    /// Reorders the rows of B (out, r) of q or k between the GGUF and the HF layout; others unchanged.
    static func rotaryRows(_ values: [Float], target: LoRATarget, rank: Int, model: LlamaConfig, toHF: Bool) -> [Float] {
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
                    let (from, to) = toHF ? (gguf, hf) : (hf, gguf)
                    for c in 0..<rank { out[to * rank + c] = values[from * rank + c] }
                }
            }
        }
        return out
    }

    /// The two PEFT files as bytes: adapter_config.json and adapter_model.safetensors (B's q and k
    /// rows in Hugging Face's rotate-half order), what `save` writes and what a sealed store keeps.
    public func peftFiles(model: LlamaConfig, baseModel: String = "", metadata: [String: String] = [:]) throws
        -> (config: [UInt8], weights: [UInt8]) {
        try validate(against: model)
        var meta = metadata
        meta["format"] = "pt"
        let weights = try SafeTensors.encode(tensors(model: model), metadata: meta)
        let object: [String: Any] = [
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "r": config.rank,
            "lora_alpha": config.alpha == config.alpha.rounded() ? Int(config.alpha) as Any : Double(config.alpha) as Any,
            "lora_dropout": Double(config.dropout),
            "target_modules": config.targets.map(\.peftModule),
            "bias": "none",
            "base_model_name_or_path": baseModel,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "use_rslora": false,
            "use_dora": false,
            "modules_to_save": NSNull(),
            "layers_to_transform": NSNull(),
            "revision": NSNull(),
        ]
        let json = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return (Array(json) + [0x0A], weights)
    }

    /// Writes adapter_model.safetensors and adapter_config.json into `directory` (created if absent),
    /// each atomically: a crash leaves the old file or the new one, never a torn one.
    public func save(to directory: String, model: LlamaConfig, baseModel: String = "", metadata: [String: String] = [:]) throws {
        let files = try peftFiles(model: model, baseModel: baseModel, metadata: metadata)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TuningError(.io, "cannot create the adapter directory \(directory): \(error.localizedDescription)")
        }
        // Weights first: a config never points at weights that are not there yet.
        try writeAtomically(files.weights, to: directory + "/" + Self.weightsFileName)
        try writeAtomically(files.config, to: directory + "/" + Self.configFileName)
    }

    /// Reads an adapter directory and checks it against the model it will run on (see `init(peftConfig:weights:model:training:)`).
    public static func load(from directory: String, model: LlamaConfig, training: LoRATraining = .full) throws -> LoRAAdapter {
        try LoRAAdapter(peftConfig: try readFile(directory + "/" + configFileName),
                        weights: try readFile(directory + "/" + weightsFileName), model: model, training: training)
    }

    /// An adapter from the bytes of PEFT's two files, checked against the model it will run on: every
    /// tensor name must be one this model has, every shape must fit, every (block, target) of the
    /// config must be present and every value finite. Anything else throws; nothing is filled in silently.
    public convenience init(peftConfig configBytes: [UInt8], weights: [UInt8], model: LlamaConfig, training: LoRATraining = .full) throws {
        let config = try Self.parseConfig(configBytes)
        let (tensors, _) = try SafeTensors.decode(weights)
        try self.init(config: config, model: model, training: training)
        var expected = Set<String>()
        for m in modules {
            for (matrix, buffer, shape) in [("A", m.a, [m.rank, m.inFeatures]), ("B", m.b, [m.outFeatures, m.rank])] {
                let name = Self.tensorName(block: m.block, target: m.target, matrix: matrix)
                expected.insert(name)
                guard let t = tensors[name] else {
                    throw TuningError(.adapterMismatch, "the adapter lacks \(name), which its config (targets \(config.targets.map(\.peftModule).joined(separator: ",")), \(model.blockCount) blocks) requires")
                }
                guard t.shape == shape else {
                    throw TuningError(.adapterMismatch, "\(name) has shape \(t.shape); this model needs \(shape) (rank \(config.rank)): the adapter was made for another model or rank")
                }
                guard t.values.allSatisfy(\.isFinite) else { throw TuningError(.corruptFile, "\(name) holds values that are not finite") }
                let values = matrix == "B" ? Self.rotaryRows(t.values, target: m.target, rank: m.rank, model: model, toHF: false) : t.values
                values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
            }
        }
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw TuningError(.adapterMismatch, "the adapter holds \(extra), which does not fit this model (\(model.blockCount) blocks, targets \(config.targets.map(\.peftModule).joined(separator: ",")))")
        }
    }

    static func parseConfig(_ bytes: [UInt8]) throws -> LoRAConfig {
        func bad(_ why: String) -> TuningError { TuningError(.corruptFile, "\(configFileName) is not a valid PEFT LoRA config: \(why)") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw bad("not a JSON object")
        }
        guard (object["peft_type"] as? String)?.uppercased() == "LORA" else {
            throw TuningError(.adapterMismatch, "the adapter's peft_type is \(object["peft_type"] ?? "missing"); only LORA adapters are supported")
        }
        guard let r = (object["r"] as? NSNumber)?.intValue else { throw bad("no integer r") }
        guard let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue else { throw bad("no lora_alpha") }
        let dropout = (object["lora_dropout"] as? NSNumber)?.floatValue ?? 0
        guard let modules = object["target_modules"] as? [String] else {
            throw TuningError(.adapterMismatch, "target_modules must be a list of module names (q_proj, …, down_proj)")
        }
        let targets = try modules.map { name throws(TuningError) -> LoRATarget in
            guard let t = LoRATarget(peftModule: name) else {
                throw TuningError(.adapterMismatch, "target module \(name) is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
            }
            return t
        }
        if let bias = object["bias"] as? String, bias != "none" {
            throw TuningError(.adapterMismatch, "the adapter trains biases (bias \"\(bias)\"); llama has none")
        }
        if object["use_dora"] as? Bool == true || object["use_rslora"] as? Bool == true {
            throw TuningError(.adapterMismatch, "DoRA and rsLoRA adapters are not supported")
        }
        let config = LoRAConfig(rank: r, alpha: alpha, dropout: dropout, targets: targets)
        do { try config.validate() } catch { throw bad(error.message) }
        return config
    }
}

func readFile(_ path: String) throws(TuningError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw TuningError(.io, "cannot read \(path): the file is missing or unreadable")
    }
    return Array(data)
}

/// Writes to a temporary file beside `path`, fsyncs it, renames it over `path`, then fsyncs the
/// directory so the rename itself survives a power cut.
func writeAtomically(_ bytes: [UInt8], to path: String) throws(TuningError) {
    let directory = (path as NSString).deletingLastPathComponent
    let temp = directory + "/." + (path as NSString).lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw TuningError(.io, "cannot create \(temp): \(String(cString: strerror(errno)))") }
    var written = 0
    let ok: Bool = bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 { if errno == EINTR { continue }; return false }
            written += n
        }
        return fsync(fd) == 0
    }
    let reason = String(cString: strerror(errno))
    close(fd)
    guard ok else {
        unlink(temp)
        throw TuningError(.io, "cannot write \(path): \(reason)")
    }
    guard rename(temp, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temp)
        throw TuningError(.io, "cannot rename the new file over \(path): \(reason)")
    }
    let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}
