import Diagnostics
import Foundation
public import GGUF
import QuantFormat
public import Tensor

/// A llama-architecture model loaded from GGUF: the weights stay in the memory-mapped file (quantized);
/// the exact path adds f32 copies. Tensor names are those of the GGUF llama layout.
///
/// Immutable once loaded and shared: sessions (each with its own KV cache, adapters and threads) and
/// training passes read it concurrently; none of them changes it.
public final class LlamaModel: @unchecked Sendable {
    public let config: LlamaConfig
    public let file: GGUFFile
    public let numericPath: NumericPath
    /// Worker threads a session or training pass uses when it is not told otherwise.
    public let threads: Int

    public struct Block: Sendable {
        public let attnNorm: FloatBuffer      // blk.N.attn_norm.weight     (dim)
        public let q: Linear                  // blk.N.attn_q.weight        (qDim, dim)
        public let k: Linear                  // blk.N.attn_k.weight        (kvDim, dim)
        public let v: Linear                  // blk.N.attn_v.weight        (kvDim, dim)
        public let o: Linear                  // blk.N.attn_output.weight   (dim, qDim)
        public let ffnNorm: FloatBuffer       // blk.N.ffn_norm.weight      (dim)
        public let gate: Linear               // blk.N.ffn_gate.weight      (ffn, dim)
        public let up: Linear                 // blk.N.ffn_up.weight        (ffn, dim)
        public let down: Linear               // blk.N.ffn_down.weight      (dim, ffn)
    }

    public let tokenEmbedding: Linear         // token_embd.weight          (vocab, dim)
    public let outputNorm: FloatBuffer        // output_norm.weight         (dim)
    public let output: Linear                 // output.weight, or token_embd.weight when tied
    public let blocks: [Block]
    public let rope: RoPETable

    public var isOutputTied: Bool { output === tokenEmbedding }

    public convenience init(path: String, numericPath: NumericPath = .fastQ16, threads: Int = 2) throws {
        try self.init(file: try GGUFFile(path: path), numericPath: numericPath, threads: threads)
    }

    public init(file: GGUFFile, numericPath: NumericPath = .fastQ16, threads: Int = 2) throws {
        let c = try LlamaConfig(gguf: file)
        config = c
        self.file = file
        self.numericPath = numericPath
        self.threads = max(1, threads)
        let dense = numericPath == .exact

        func vector(_ name: String, _ count: Int) throws -> FloatBuffer {
            guard let info = file.tensor(named: name) else {
                throw LLMError(.missingTensor, "the model has no tensor \(name)")
            }
            guard info.elementCount == count, info.dimensions.count == 1 else {
                throw LLMError(.badTensorShape, "tensor \(name) has shape \(info.dimensions), expected [\(count)]")
            }
            let buffer = FloatBuffer(count: count, zeroed: false)
            try Dequantize.run(info.type, src: file.data(for: info).baseAddress!, count: count, into: buffer.pointer)
            return buffer
        }
        // Slots number the maps in `allLinears` order: token_embd, output (when not tied), then each
        // block's q, k, v, o, gate, up, down.
        var nextSlot = 0
        func linear(_ name: String, _ out: Int, _ inp: Int) throws -> Linear {
            defer { nextSlot += 1 }
            return try Linear(file: file, name: name, outFeatures: out, inFeatures: inp, slot: nextSlot, dense: dense)
        }

        tokenEmbedding = try linear("token_embd.weight", c.vocabularySize, c.dim)
        outputNorm = try vector("output_norm.weight", c.dim)
        output = file.tensor(named: "output.weight") != nil
            ? try linear("output.weight", c.vocabularySize, c.dim) : tokenEmbedding
        blocks = try (0..<c.blockCount).map { i in
            let p = "blk.\(i)."
            return Block(
                attnNorm: try vector(p + "attn_norm.weight", c.dim),
                q: try linear(p + "attn_q.weight", c.qDim, c.dim),
                k: try linear(p + "attn_k.weight", c.kvDim, c.dim),
                v: try linear(p + "attn_v.weight", c.kvDim, c.dim),
                o: try linear(p + "attn_output.weight", c.dim, c.qDim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                gate: try linear(p + "ffn_gate.weight", c.ffnDim, c.dim),
                up: try linear(p + "ffn_up.weight", c.ffnDim, c.dim),
                down: try linear(p + "ffn_down.weight", c.dim, c.ffnDim))
        }
        rope = RoPETable(maxPositions: min(c.contextLength, 32768), ropeDim: c.ropeDim, base: c.ropeBase)
    }

    private let denseLock = NSLock()
    private var denseCopies: [FloatBuffer]?

    /// f32 copies of every weight matrix, in `allLinears` order (slot order), for training: made once
    /// per loaded model at the first call (the exact path's own copies are reused) and kept, so
    /// training passes and federated rounds on the same model do not dequantize again. Inference
    /// keeps running on the model's numeric path.
    public func denseWeights() throws -> [FloatBuffer] {
        denseLock.lock()
        defer { denseLock.unlock() }
        if let denseCopies { return denseCopies }
        let copies = try allLinears.map { try $0.dequantized() }
        denseCopies = copies
        return copies
    }

    /// Every weight matrix once (the tied output counted once).
    public var allLinears: [Linear] {
        var all = [tokenEmbedding]
        if !isOutputTied { all.append(output) }
        for b in blocks { all += [b.q, b.k, b.v, b.o, b.gate, b.up, b.down] }
        return all
    }
}
