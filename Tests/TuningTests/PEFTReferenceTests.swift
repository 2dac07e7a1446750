import Foundation
import LLM
import Tensor
import Testing
@testable import Tuning

/// Loss and LoRA gradients on the real model against an independent implementation: Hugging Face
/// transformers + PEFT on the same GGUF, dequantized to f32 (values dumped once by
/// scripts/peer-torch-reference into Vectors/peft-reference.json). A and B are set by a closed formula
/// in Hugging Face's row order on all seven maps, so the test also checks the rotary row order of q
/// and k between PEFT files and the GGUF layout: with it wrong, the loss and every gradient move.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: RealModelTrainingTests.modelPath)
    || ProcessInfo.processInfo.environment["PCLIENT_REQUIRE_MODEL"] == "1"))
struct PEFTReferenceTests {
    struct Probe: Decodable {
        let block: Int
        let target: String
        let gradA_first: [Double]
        let gradA_norm: Double
        let gradB_first_hf: [Double]
        let gradB_norm: Double
    }

    struct Reference: Decodable {
        let rank: Int
        let alpha: Double
        let tokens: [Int]
        let promptLength: Int
        let loss: Double
        let probes: [Probe]
    }

    static let order: [LoRATarget] = [.q, .k, .v, .o, .gate, .up, .down]

    @Test func lossAndGradientsMatchPEFT() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/peft-reference.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        BLAS.setThreads(2)
        let model = try LlamaModel(path: RealModelTrainingTests.modelPath, numericPath: .exact, threads: 2)
        let adapter = try LoRAAdapter(config: LoRAConfig(rank: ref.rank, alpha: Float(ref.alpha), targets: LoRATarget.allCases),
                                      model: model.config, seed: 0)
        for m in adapter.modules {
            let t = Double(Self.order.firstIndex(of: m.target)!), blk = Double(m.block)
            for r in 0..<m.rank {
                for i in 0..<m.inFeatures {
                    m.a.pointer[r * m.inFeatures + i] = Float(0.02 * sin(0.1 * Double(i + 1) + 0.7 * Double(r + 1) + 1.3 * blk + 0.5 * t))
                }
            }
            var hf = [Float](repeating: 0, count: m.outFeatures * m.rank)
            for o in 0..<m.outFeatures {
                for r in 0..<m.rank {
                    hf[o * m.rank + r] = Float(0.01 * cos(0.05 * Double(o + 1) + 0.9 * Double(r + 1) + 1.1 * blk + 0.3 * t))
                }
            }
            let gguf = LoRAAdapter.rotaryRows(hf, target: m.target, rank: m.rank, model: model.config, toHF: false)
            for (k, v) in gguf.enumerated() { m.b.pointer[k] = v }
        }
        let training = try TrainingModel(model: model, adapters: [adapter])
        let sequence = TrainingSequence(prompt: Array(ref.tokens.prefix(ref.promptLength)), target: Array(ref.tokens.dropFirst(ref.promptLength)))
        let loss = try training.forwardBackward(sequence).mean
        print("loss: ours \(loss), PEFT \(ref.loss)")
        #expect(abs(loss - ref.loss) < 1e-3 * max(1, abs(ref.loss)))

        var worst = 0.0
        for p in ref.probes {
            let target = try #require(LoRATarget.list(p.target).first)
            let m = try #require(adapter.module(block: p.block, target: target))
            let gradA = m.gradA.array.map(Double.init)
            let gradB = LoRAAdapter.rotaryRows(m.gradB.array, target: target, rank: m.rank, model: model.config, toHF: true).map(Double.init)
            func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            func relative(_ ours: [Double], _ theirs: [Double], scale: Double) -> Double {
                zip(ours, theirs).map { abs($0 - $1) / max(scale, 1e-12) }.max() ?? 0
            }
            let errors = [
                abs(norm(gradA) - p.gradA_norm) / p.gradA_norm,
                abs(norm(gradB) - p.gradB_norm) / p.gradB_norm,
                relative(Array(gradA.prefix(p.gradA_first.count)), p.gradA_first, scale: p.gradA_norm),
                relative(Array(gradB.prefix(p.gradB_first_hf.count)), p.gradB_first_hf, scale: p.gradB_norm),
            ]
            worst = max(worst, errors.max()!)
            #expect(errors.max()! < 5e-3, "block \(p.block) \(p.target): relative errors \(errors)")
        }
        print("worst relative gradient error against PEFT: \(worst)")
    }
}
