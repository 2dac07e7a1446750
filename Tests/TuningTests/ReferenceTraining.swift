import Foundation
import LLM
import QuantFormat
import Tensor
import Tuning

/// An independent double-precision llama forward with LoRA adapters and the masked cross-entropy,
/// written directly from the architecture (per token, plain loops): the function whose finite
/// differences check the f32 backward. Every parameter is a Double copy that the test can perturb.
final class ReferenceTraining {
    let config: LlamaConfig
    struct Block {
        var attnNorm: [Double], ffnNorm: [Double]
        var w: [[Double]]               // [target.index] → W (out, in)
    }
    struct Module { var a: [Double]; var b: [Double]; let rank: Int }
    struct Adapter {
        var scale: Double
        var modules: [[LoRATarget: Module]]   // [block]
    }
    var embedding: [Double]
    var output: [Double]
    var outputNorm: [Double]
    var blocks: [Block]
    var adapters: [Adapter]

    init(model: LlamaModel, adapters: [LoRAAdapter]) throws {
        config = model.config
        func dense(_ l: Linear) throws -> [Double] {
            var out = [Float](repeating: 0, count: l.outFeatures * l.inFeatures)
            try out.withUnsafeMutableBufferPointer {
                try Dequantize.run(l.type, src: l.raw, count: l.outFeatures * l.inFeatures, into: $0.baseAddress!)
            }
            return out.map(Double.init)
        }
        func vec(_ b: FloatBuffer) -> [Double] { b.array.map(Double.init) }
        embedding = try dense(model.tokenEmbedding)
        output = try dense(model.output)
        outputNorm = vec(model.outputNorm)
        blocks = try model.blocks.map { b in
            Block(attnNorm: vec(b.attnNorm), ffnNorm: vec(b.ffnNorm),
                  w: try LoRATarget.allCases.map { try dense($0.linear(in: b)) })
        }
        self.adapters = adapters.map { a in
            var mods = [[LoRATarget: Module]](repeating: [:], count: a.blockCount)
            for m in a.modules {
                mods[m.block][m.target] = Module(a: m.a.array.map(Double.init), b: m.b.array.map(Double.init), rank: m.rank)
            }
            return Adapter(scale: Double(a.scale), modules: mods)
        }
    }

    func matvec(_ w: [Double], _ x: [Double], out: Int) -> [Double] {
        let n = x.count
        return w.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                (0..<out).map { r in
                    var s = 0.0
                    for i in 0..<n { s += wp[r * n + i] * xp[i] }
                    return s
                }
            }
        }
    }

    func project(_ t: LoRATarget, _ l: Int, _ x: [Double]) -> [Double] {
        let (out, _) = t.shape(config)
        var y = matvec(blocks[l].w[t.index], x, out: out)
        for a in adapters {
            guard let m = a.modules[l][t] else { continue }
            let u = matvec(m.a, x, out: m.rank)
            let d = matvec(m.b, u, out: out)
            for i in 0..<out { y[i] += a.scale * d[i] }
        }
        return y
    }

    func rmsNorm(_ x: [Double], _ w: [Double]) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + Double(config.rmsEps)).squareRoot()
        return x.indices.map { x[$0] * s * w[$0] }
    }

    func rope(_ v: inout [Double], heads: Int, pos: Int) {
        let hd = config.headDim
        for h in 0..<heads {
            for i in 0..<(config.ropeDim / 2) {
                let theta = Double(pos) * pow(Double(config.ropeBase), -2 * Double(i) / Double(config.ropeDim))
                let a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1]
                v[h * hd + 2 * i] = a * cos(theta) - b * sin(theta)
                v[h * hd + 2 * i + 1] = a * sin(theta) + b * cos(theta)
            }
        }
    }

    /// Mean cross-entropy over the scored positions. `inputs` overrides the embedding rows (T·C values).
    func loss(_ s: TrainingSequence, inputs: [Double]? = nil) -> Double {
        let c = config, hd = c.headDim, C = c.dim
        var xs: [[Double]] = s.inputs.enumerated().map { t, id in
            if let inputs { return Array(inputs[t * C..<(t + 1) * C]) }
            return Array(embedding[id * C..<(id + 1) * C])
        }
        let T = xs.count
        for l in 0..<c.blockCount {
            var qs: [[Double]] = [], ks: [[Double]] = [], vs: [[Double]] = []
            for t in 0..<T {
                let h = rmsNorm(xs[t], blocks[l].attnNorm)
                var q = project(.q, l, h), k = project(.k, l, h)
                rope(&q, heads: c.headCount, pos: t)
                rope(&k, heads: c.kvHeadCount, pos: t)
                qs.append(q); ks.append(k); vs.append(project(.v, l, h))
            }
            for t in 0..<T {
                var att = [Double](repeating: 0, count: c.qDim)
                for head in 0..<c.headCount {
                    let g = head / c.groupSize
                    let scores = (0...t).map { j in
                        (0..<hd).reduce(0.0) { $0 + qs[t][head * hd + $1] * ks[j][g * hd + $1] } / Double(hd).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for j in 0...t {
                        for d in 0..<hd { att[head * hd + d] += e[j] / z * vs[j][g * hd + d] }
                    }
                }
                let o = project(.o, l, att)
                for i in 0..<C { xs[t][i] += o[i] }
                let h2 = rmsNorm(xs[t], blocks[l].ffnNorm)
                let gate = project(.gate, l, h2), up = project(.up, l, h2)
                let act = (0..<c.ffnDim).map { gate[$0] / (1 + exp(-gate[$0])) * up[$0] }
                let d = project(.down, l, act)
                for i in 0..<C { xs[t][i] += d[i] }
            }
        }
        var total = 0.0, n = 0
        for t in 0..<T where s.labels[t] >= 0 {
            let logits = matvec(output, rmsNorm(xs[t], outputNorm), out: c.vocabularySize)
            let m = logits.max()!
            let lse = m + log(logits.reduce(0) { $0 + exp($1 - m) })
            total += lse - logits[s.labels[t]]
            n += 1
        }
        return total / Double(n)
    }
}
