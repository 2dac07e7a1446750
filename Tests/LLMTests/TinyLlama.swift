import Foundation
import GGUF
import Tensor
@testable import LLM

/// A tiny random llama-architecture GGUF for fast tests: GQA (4 query heads over 2 kv heads),
/// Q4_1 projections, a Q8_0 embedding tied to the output (or a separate output), F32 norms.
struct TinyLlama {
    var blocks = 2
    var dim = 64
    var ffn = 96
    var heads = 4
    var kvHeads = 2
    var vocab = 100
    var context = 64
    var ropeBase: Float = 10000
    var tiedOutput = true
    var linearType = QuantType.q4_1
    var seed: UInt64 = 1
    var omit: String? = nil                     // a tensor to leave out, for error tests
    var architecture = "llama"

    func write() throws -> String {
        var rng = Xoshiro256(seed: seed)
        func random(_ n: Int, scale: Float) -> [Float] {
            (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale }
        }
        var w = GGUFWriter()
        let a = architecture
        w.set("general.architecture", a)
        w.set("\(a).block_count", UInt32(blocks))
        w.set("\(a).embedding_length", UInt32(dim))
        w.set("\(a).feed_forward_length", UInt32(ffn))
        w.set("\(a).attention.head_count", UInt32(heads))
        w.set("\(a).attention.head_count_kv", UInt32(kvHeads))
        w.set("\(a).rope.freq_base", ropeBase)
        w.set("\(a).attention.layer_norm_rms_epsilon", Float(1e-5))
        w.set("\(a).context_length", UInt32(context))
        let hd = dim / heads
        func add(_ name: String, _ dims: [Int], _ type: QuantType, scale: Float) throws {
            if name == omit { return }
            try w.addTensor(name: name, dimensions: dims, type: type, floats: random(dims.reduce(1, *), scale: scale))
        }
        func addNorm(_ name: String) throws {
            if name == omit { return }
            try w.addTensor(name: name, dimensions: [dim], type: .f32,
                            floats: (0..<dim).map { _ in 1 + Float(rng.nextDouble() - 0.5) * 0.4 })
        }
        try add("token_embd.weight", [dim, vocab], .q8_0, scale: 1)
        try addNorm("output_norm.weight")
        if !tiedOutput { try add("output.weight", [dim, vocab], .q8_0, scale: 0.3) }
        for i in 0..<blocks {
            let p = "blk.\(i)."
            try addNorm(p + "attn_norm.weight")
            try add(p + "attn_q.weight", [dim, heads * hd], linearType, scale: 0.3)
            try add(p + "attn_k.weight", [dim, kvHeads * hd], linearType, scale: 0.3)
            try add(p + "attn_v.weight", [dim, kvHeads * hd], linearType, scale: 0.3)
            try add(p + "attn_output.weight", [heads * hd, dim], linearType, scale: 0.2)
            try addNorm(p + "ffn_norm.weight")
            try add(p + "ffn_gate.weight", [dim, ffn], linearType, scale: 0.3)
            try add(p + "ffn_up.weight", [dim, ffn], linearType, scale: 0.3)
            try add(p + "ffn_down.weight", [ffn, dim], linearType, scale: 0.2)
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tiny-llama-\(UUID().uuidString).gguf").path
        try w.write(to: path)
        return path
    }

    func model(_ path: NumericPath = .fast, threads: Int = 2) throws -> LlamaModel {
        let file = try write()
        defer { try? FileManager.default.removeItem(atPath: file) }   // the mapping stays valid
        return try LlamaModel(path: file, numericPath: path, threads: threads)
    }
}

/// A plain double-precision llama forward over dequantized weights, written as directly as the
/// architecture reads: one token at a time, every position recomputed. The check for the runtime.
struct ReferenceForward {
    let model: LlamaModel

    func dense(_ l: Linear) throws -> [Float] {
        var out = [Float](repeating: 0, count: l.outFeatures * l.inFeatures)
        try out.withUnsafeMutableBufferPointer {
            try Dequantize.run(l.type, src: l.raw, count: l.outFeatures * l.inFeatures, into: $0.baseAddress!)
        }
        return out
    }

    func matvec(_ w: [Float], _ x: [Double], out: Int) -> [Double] {
        let n = x.count
        return (0..<out).map { r in (0..<n).reduce(0.0) { $0 + Double(w[r * n + $1]) * x[$1] } }
    }

    func rmsNorm(_ x: [Double], _ w: FloatBuffer, eps: Float) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + Double(eps)).squareRoot()
        return x.enumerated().map { $0.element * s * Double(w[$0.offset]) }
    }

    func rope(_ v: inout [Double], heads: Int, hd: Int, pos: Int, base: Float) {
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                let theta = Double(pos) * pow(Double(base), -2 * Double(i) / Double(hd))
                let a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1]
                v[h * hd + 2 * i] = a * cos(theta) - b * sin(theta)
                v[h * hd + 2 * i + 1] = a * sin(theta) + b * cos(theta)
            }
        }
    }

    /// Logits after each token of `tokens`.
    func logits(_ tokens: [Int]) throws -> [[Double]] {
        let c = model.config
        let hd = c.headDim
        var keys = [[[Double]]](repeating: [], count: c.blockCount)
        var values = [[[Double]]](repeating: [], count: c.blockCount)
        let emb = try dense(model.tokenEmbedding)
        let out = try dense(model.output)
        let blocks = try model.blocks.map { b in
            (q: try dense(b.q), k: try dense(b.k), v: try dense(b.v), o: try dense(b.o),
             g: try dense(b.gate), u: try dense(b.up), d: try dense(b.down))
        }
        var result: [[Double]] = []
        for (pos, id) in tokens.enumerated() {
            var x = (0..<c.dim).map { Double(emb[id * c.dim + $0]) }
            for (l, b) in model.blocks.enumerated() {
                let w = blocks[l]
                let h = rmsNorm(x, b.attnNorm, eps: c.rmsEps)
                var q = matvec(w.q, h, out: c.qDim)
                var k = matvec(w.k, h, out: c.kvDim)
                let v = matvec(w.v, h, out: c.kvDim)
                rope(&q, heads: c.headCount, hd: hd, pos: pos, base: c.ropeBase)
                rope(&k, heads: c.kvHeadCount, hd: hd, pos: pos, base: c.ropeBase)
                keys[l].append(k); values[l].append(v)
                var att = [Double](repeating: 0, count: c.qDim)
                for head in 0..<c.headCount {
                    let g = head / (c.headCount / c.kvHeadCount)
                    let scores = (0...pos).map { j in
                        (0..<hd).reduce(0.0) { $0 + q[head * hd + $1] * keys[l][j][g * hd + $1] } / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let s = e.reduce(0, +)
                    for j in 0...pos {
                        for d in 0..<hd { att[head * hd + d] += e[j] / s * values[l][j][g * hd + d] }
                    }
                }
                let o = matvec(w.o, att, out: c.dim)
                for i in 0..<c.dim { x[i] += o[i] }
                let h2 = rmsNorm(x, b.ffnNorm, eps: c.rmsEps)
                let gate = matvec(w.g, h2, out: c.ffnDim), up = matvec(w.u, h2, out: c.ffnDim)
                let act = (0..<c.ffnDim).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                let d = matvec(w.d, act, out: c.dim)
                for i in 0..<c.dim { x[i] += d[i] }
            }
            let hN = rmsNorm(x, model.outputNorm, eps: c.rmsEps)
            result.append(matvec(out, hN, out: c.vocabularySize))
        }
        return result
    }
}

func maxDifference(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}
