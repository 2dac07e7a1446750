import Foundation
import GGUF
import QuantFormat
import Tensor
import TestModels
@testable import LLM

/// The tiny random llama these tests run (TestModels' writer): wider than its default, with smaller
/// weights, GQA with 4 query heads over 2 kv heads.
func tinyLlama() -> TinyLlamaGGUF {
    TinyLlamaGGUF(dim: 64, ffn: 96, vocab: 100, projectionScale: 0.3, outputProjectionScale: 0.2)
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
