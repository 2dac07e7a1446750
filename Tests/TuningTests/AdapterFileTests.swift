import Diagnostics
import Foundation
import LLM
import Tensor
import TestModels
import Testing
@testable import Tuning

struct AdapterFileTests {
    let config = TinyModel().config

    func tempDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("adapter-\(UUID().uuidString)").path
    }

    func saved() throws -> (LoRAAdapter, String) {
        let a = try LoRAAdapter(config: LoRAConfig(rank: 4, alpha: 8, dropout: 0.05, targets: [.q, .k, .down]), model: config, seed: 5)
        randomizeB(a, seed: 6)
        let dir = tempDirectory()
        try a.save(to: dir, model: config, baseModel: "tiny")
        return (a, dir)
    }

    @Test func roundTrip() throws {
        let (a, dir) = try saved()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = try LoRAAdapter.load(from: dir, model: config, training: .bOnly)
        #expect(b.config == a.config)
        #expect(b.training == .bOnly)
        for (m, n) in zip(a.modules, b.modules) {
            #expect(m.block == n.block && m.target == n.target)
            #expect(m.a.array == n.a.array)
            #expect(m.b.array == n.b.array)
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_config.json"))) as! [String: Any]
        #expect(json["peft_type"] as? String == "LORA")
        #expect(json["task_type"] as? String == "CAUSAL_LM")
        #expect(json["r"] as? Int == 4)
        #expect(json["lora_alpha"] as? Int == 8)
        #expect(json["bias"] as? String == "none")
        #expect(json["target_modules"] as? [String] == ["q_proj", "k_proj", "down_proj"])
        #expect(json["base_model_name_or_path"] as? String == "tiny")
        // No temporary files are left behind; a second save replaces the files.
        try a.save(to: dir, model: config)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["adapter_config.json", "adapter_model.safetensors"])
    }

    /// PEFT names and shapes; q and k B rows in Hugging Face's rotate-half order.
    @Test func peftNamesShapesAndRowOrder() throws {
        let (a, dir) = try saved()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (tensors, metadata) = try SafeTensors.decode(Array(Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_model.safetensors"))))
        #expect(metadata["format"] == "pt")
        #expect(tensors.count == 2 * 3 * 2)
        let qA = tensors["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"]!
        #expect(qA.shape == [4, config.dim])
        let downB = tensors["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"]!
        #expect(downB.shape == [config.dim, 4])
        #expect(downB.values == a.module(block: 0, target: .down)!.b.array)
        let kB = tensors["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"]!
        #expect(kB.shape == [config.kvDim, 4])
        // GGUF row h·D + 2i + j is HF row h·D + j·D/2 + i: head 1, pair 2, second element.
        let D = config.headDim
        let gguf = a.module(block: 0, target: .k)!.b
        for c in 0..<4 { #expect(kB.values[(D + D / 2 + 2) * 4 + c] == gguf[(D + 2 * 2 + 1) * 4 + c]) }
    }

    @Test func mismatchedModelsAreErrors() throws {
        let (_, dir) = try saved()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (other, what) in [(TinyModel(dim: 64).config, "dim"), (TinyModel(blocks: 3).config, "more blocks"),
                              (TinyModel(blocks: 1).config, "fewer blocks"), (TinyModel(ffn: 96).config, "ffn")] {
            do {
                _ = try LoRAAdapter.load(from: dir, model: other)
                Issue.record("\(what): loading must fail")
            } catch let e as TuningError {
                #expect(e.code == .adapterMismatch, "\(what): \(e)")
            }
        }
        // A config naming a module this runtime has no adapter slot for.
        let path = dir + "/adapter_config.json"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"k_proj\"", with: "\"lm_head\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try LoRAAdapter.load(from: dir, model: config) } throws: { ($0 as? TuningError)?.code == .adapterMismatch }
    }

    @Test func corruptFilesAreErrors() throws {
        let (_, dir) = try saved()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/adapter_model.safetensors"
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(good[0]) | Int(good[1]) << 8
        var huge = good; huge[6] = 0xFF
        var badJSON = good; badJSON[8] = UInt8(ascii: "[")
        var badType = good
        let f32 = Array("\"F32\"".utf8)
        if let i = (0..<(good.count - 5)).first(where: { Array(good[$0..<($0 + 5)]) == f32 }) {
            badType.replaceSubrange((i + 1)..<(i + 4), with: Array("F16".utf8))
        }
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("header length only", Array(good.prefix(8))),
            ("truncated header", Array(good.prefix(8 + headerLength / 2))),
            ("truncated data", Array(good.dropLast(4))),
            ("trailing bytes", good + [0, 0, 0, 0]),
            ("huge header length", huge),
            ("not JSON", badJSON),
            ("F16", badType),
        ]
        for (what, bytes) in cases {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try LoRAAdapter.load(from: dir, model: config)
                Issue.record("\(what): loading must fail")
            } catch let e as TuningError {
                #expect(e.code == .corruptFile, "\(what): \(e)")
            }
        }
        #expect(badType != good)
        // Overlapping data offsets.
        let overlapping = try SafeTensors.encode(["a": .init(shape: [2], values: [1, 2]), "b": .init(shape: [1], values: [3])])
        var text = String(decoding: overlapping, as: UTF8.self)
        text = text.replacingOccurrences(of: "[8,12]", with: "[4, 8]")
        #expect { try SafeTensors.decode(Array(text.utf8)) } throws: { ($0 as? TuningError)?.code == .corruptFile }
        // A missing file.
        try FileManager.default.removeItem(atPath: path)
        #expect { try LoRAAdapter.load(from: dir, model: config) } throws: { ($0 as? TuningError)?.code == .io }
        #expect { try LoRAAdapter.load(from: dir + "/nowhere", model: config) } throws: { ($0 as? TuningError)?.code == .io }
    }

    @Test func safeTensorsEncodeDecode() throws {
        let t: [String: SafeTensors.Tensor] = ["x": .init(shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]),
                                               "e": .init(shape: [0], values: []), "q\"uote": .init(shape: [1], values: [.pi])]
        let bytes = try SafeTensors.encode(t, metadata: ["k": "v"])
        #expect((bytes.count - 8 - 4 * 7) % 8 == 0)
        let (back, meta) = try SafeTensors.decode(bytes)
        #expect(back == t)
        #expect(meta == ["k": "v"])
        #expect(try SafeTensors.encode(t, metadata: ["k": "v"]) == bytes)
    }
}
