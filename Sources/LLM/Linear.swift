import Diagnostics
public import QuantFormat
public import Tensor
import GGUF

/// How the forward pass computes its matrix products.
public enum NumericPath: String, Sendable, CaseIterable {
    /// Weights dequantized to f32 once, f32 math through BLAS: reproduces a float32 reference.
    case exact
    /// Weights read in their quantized blocks by SIMD kernels, activations kept in f32.
    case fast
    /// As `fast`, with activations rounded to 8-bit blocks and integer dot products (llama.cpp's way).
    case fastQ8 = "fast-q8"
    /// As `fast`, with decode activations rounded to 16-bit blocks and exact integer dot products: error
    /// ≲ 2⁻¹⁶ of each block's largest |x|, far below what moves a token, and faster than f32 activations.
    case fastQ16 = "fast-q16"

    /// How the quantized kernels take the activations on this path (the exact path does not use them).
    public var activations: ActivationPrecision {
        switch self {
        case .exact, .fast: .f32
        case .fastQ8: .int8
        case .fastQ16: .int16
        }
    }
}

/// A low-rank update ΔW = scale · B·A of one linear map (a LoRA adapter's module at inference).
public struct LowRankUpdate: Sendable {
    public let a: FloatBuffer      // (rank, in)
    public let b: FloatBuffer      // (out, rank)
    public let rank: Int
    public let scale: Float

    public init(a: FloatBuffer, b: FloatBuffer, rank: Int, scale: Float) {
        self.a = a
        self.b = b
        self.rank = rank
        self.scale = scale
    }
}

/// The weight W (out, in) of one linear map y = x · Wᵀ, kept as the file stores it (quantized rows in
/// the memory-mapped GGUF) and, for the exact path, as f32. Immutable once loaded: adapters are not
/// attached here but passed to each session (`AdapterStack`), so one loaded model serves requests
/// with different adapters at once.
public final class Linear: @unchecked Sendable {
    public let name: String
    public let outFeatures: Int
    public let inFeatures: Int
    public let type: QuantType
    /// Position of this map in its model's `allLinears` (how an `AdapterStack` finds its updates).
    public let slot: Int
    /// Rows of `inFeatures` elements in `type`, inside the mapped file (kept alive by the model).
    public let raw: UnsafeRawPointer
    public let rowBytes: Int
    /// f32 copy of W (out, in), present when the model was loaded on the exact path.
    public let dense: FloatBuffer?

    init(file: GGUFFile, name: String, outFeatures: Int, inFeatures: Int, slot: Int, dense wantDense: Bool) throws {
        guard let info = file.tensor(named: name) else {
            throw LLMError(.missingTensor, "the model has no tensor \(name)")
        }
        guard info.dimensions == [inFeatures, outFeatures] else {
            throw LLMError(.badTensorShape,
                "tensor \(name) has shape \(info.dimensions), expected [\(inFeatures), \(outFeatures)]")
        }
        guard info.type.canDequantize else {
            throw LLMError(.unsupportedModel, "tensor \(name) uses \(info.type.name), which this runtime cannot read yet")
        }
        self.name = name
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.type = info.type
        self.slot = slot
        self.raw = file.data(for: info).baseAddress!
        self.rowBytes = try info.type.byteCount(elements: inFeatures)
        dense = wantDense ? try Self.dequantize(info.type, raw, count: outFeatures * inFeatures) : nil
    }

    /// W as f32 (out, in): the exact path's copy when there is one, else a new buffer dequantized now.
    public func dequantized() throws -> FloatBuffer {
        try dense ?? Self.dequantize(type, raw, count: outFeatures * inFeatures)
    }

    private static func dequantize(_ type: QuantType, _ raw: UnsafeRawPointer, count: Int) throws -> FloatBuffer {
        let buffer = FloatBuffer(count: count, zeroed: false)
        try Dequantize.run(type, src: raw, count: count, into: buffer.pointer)
        return buffer
    }

    /// One row of W as f32 (the embedding lookup reads token_embd this way).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) throws {
        if let dense {
            out.update(from: dense.pointer + r * inFeatures, count: inFeatures)
        } else {
            try Dequantize.run(type, src: raw + r * rowBytes, count: inFeatures, into: out)
        }
    }
}
