import CKernels

/// y (T, rows) = x (T, cols) · Wᵀ with W kept in its GGUF storage type, on a `WorkerPool`.
///
/// Weights are read with SIMD kernels picked once for the CPU (`isaName`). With f32 activations the
/// result tracks f32 math (relative error ~1e-7 of Σ|x·w|); `q8Activations` quantizes x to 8-bit blocks
/// first as llama.cpp does, faster but with ~1e-3 relative error, enough to change a greedy token.
public enum QuantizedMatmul {
    /// `wtype` is the ggml type id (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0); each of the `rows` rows of `w`
    /// holds `cols` elements contiguously, and `cols` must be a multiple of 32.
    public static func run(
        pool: WorkerPool, wtype: UInt32, w: UnsafeRawPointer, rows: Int, cols: Int,
        x: UnsafePointer<Float>, tokens: Int, y: UnsafeMutablePointer<Float>, q8Activations: Bool
    ) throws(QuantizedMatmulError) {
        let code = pk_matmul(
            pool.raw, Int32(clamping: wtype), w, Int64(rows), Int64(cols), x, Int64(tokens), y,
            q8Activations ? 1 : 0)
        if code != 0 {
            throw QuantizedMatmulError(code: Int(code), wtype: wtype, rows: rows, cols: cols, tokens: tokens)
        }
    }

    /// The kernel family in use: "avx2", "neon" or "scalar".
    public static var isaName: String { String(cString: pk_isa_name()) }
}

/// A quantized matmul refused its arguments; nothing was written to y.
public struct QuantizedMatmulError: Error, CustomStringConvertible, Sendable {
    /// The kernel's PK_ERR_* code: 1 unsupported type, 2 bad shape, 3 null pointer, 4 out of memory.
    public let code: Int
    public let wtype: UInt32
    public let rows: Int
    public let cols: Int
    public let tokens: Int

    public var description: String {
        switch code {
        case 1:
            "quantized matmul: weight type \(wtype) is not supported (F32, F16, Q4_0, Q4_1 and Q8_0 are)"
        case 2:
            "quantized matmul: shape rows \(rows) × cols \(cols) for \(tokens) tokens is invalid; "
                + "all must be positive and cols a multiple of 32"
        case 4:
            "quantized matmul: out of memory for scratch (\(tokens) tokens × \(cols) cols)"
        default:
            "quantized matmul: invalid argument (code \(code))"
        }
    }
}
