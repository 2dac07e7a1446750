import CKernels

/// How a quantized matmul treats the activations x (F32/F16 weights always use f32).
public enum ActivationPrecision: Sendable {
    /// f32 activations, weights dequantized in registers: tracks f32 math (relative error ~1e-7 of Σ|x·w|).
    case f32
    /// llama.cpp's 8-bit activation blocks and integer dots: fastest, ~1e-3 relative error, enough to
    /// change a greedy token.
    case int8
    /// 16-bit activation blocks (per 32 elements, scale max|x|/32767) with exact int32 dots: error per
    /// block ≲ 2⁻¹⁶ of its largest |x|. Used for 1–2 tokens (decode); longer inputs take the f32 path.
    case int16

    var code: Int32 {
        switch self {
        case .f32: Int32(PK_ACT_F32)
        case .int8: Int32(PK_ACT_Q8)
        case .int16: Int32(PK_ACT_Q16)
        }
    }
}

/// y (T, rows) = x (T, cols) · Wᵀ with W kept in its GGUF storage type, on a `WorkerPool`.
///
/// Weights are read with SIMD kernels picked once for the CPU (`isaName`); `activations` picks how x
/// enters the dot products (see `ActivationPrecision`).
public enum QuantizedMatmul {
    /// One product of a batch: the arguments of `run`.
    public struct Descriptor {
        public var wtype: UInt32
        public var w: UnsafeRawPointer
        public var rows: Int
        public var cols: Int
        public var x: UnsafePointer<Float>
        public var tokens: Int
        public var y: UnsafeMutablePointer<Float>
        public var activations: ActivationPrecision

        public init(wtype: UInt32, w: UnsafeRawPointer, rows: Int, cols: Int, x: UnsafePointer<Float>,
                    tokens: Int, y: UnsafeMutablePointer<Float>, activations: ActivationPrecision) {
            self.wtype = wtype
            self.w = w
            self.rows = rows
            self.cols = cols
            self.x = x
            self.tokens = tokens
            self.y = y
            self.activations = activations
        }

        var c: pk_matmul_desc {
            pk_matmul_desc(wtype: Int32(clamping: wtype), w: w, rows: Int64(rows), cols: Int64(cols), x: x,
                           T: Int64(tokens), y: y, act: activations.code)
        }

        /// Whether the kernel would refuse this one for its type or shape (for error reports).
        var isInvalid: Bool {
            ![0, 1, 2, 3, 8].contains(wtype) || rows <= 0 || cols <= 0 || tokens <= 0 || cols % 32 != 0
        }
    }

    /// `wtype` is the ggml type id (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0); each of the `rows` rows of `w`
    /// holds `cols` elements contiguously, and `cols` must be a multiple of 32.
    public static func run(
        pool: WorkerPool, wtype: UInt32, w: UnsafeRawPointer, rows: Int, cols: Int,
        x: UnsafePointer<Float>, tokens: Int, y: UnsafeMutablePointer<Float>, activations: ActivationPrecision
    ) throws(QuantizedMatmulError) {
        let code = pk_matmul(
            pool.raw, Int32(clamping: wtype), w, Int64(rows), Int64(cols), x, Int64(tokens), y, activations.code)
        if code != 0 {
            throw QuantizedMatmulError(code: Int(code), wtype: wtype, rows: rows, cols: cols, tokens: tokens)
        }
    }

    /// Runs independent products in one pool dispatch (their rows share the workers' chunk counter);
    /// products reading the same x prepare it once. No product's y may overlap another's x or y.
    /// Every descriptor is checked before any runs.
    public static func runBatch(pool: WorkerPool, _ descriptors: [Descriptor]) throws(QuantizedMatmulError) {
        if descriptors.isEmpty { return }
        let code = withUnsafeTemporaryAllocation(of: pk_matmul_desc.self, capacity: descriptors.count) { buf in
            for (i, d) in descriptors.enumerated() { buf.initializeElement(at: i, to: d.c) }
            return pk_matmul_batch(pool.raw, Int32(descriptors.count), buf.baseAddress!)
        }
        if code != 0 { throw error(code, descriptors) }
    }

    /// Two products in one dispatch, without allocating (see `runBatch(pool:_:)`).
    public static func runBatch(pool: WorkerPool, _ a: Descriptor, _ b: Descriptor) throws(QuantizedMatmulError) {
        var descs = (a.c, b.c)
        let code = withUnsafeMutableBytes(of: &descs) { raw in
            pk_matmul_batch(pool.raw, 2, raw.baseAddress!.assumingMemoryBound(to: pk_matmul_desc.self))
        }
        if code != 0 { throw error(code, [a, b]) }
    }

    /// Three products in one dispatch, without allocating (see `runBatch(pool:_:)`).
    public static func runBatch(
        pool: WorkerPool, _ a: Descriptor, _ b: Descriptor, _ c: Descriptor
    ) throws(QuantizedMatmulError) {
        var descs = (a.c, b.c, c.c)
        let code = withUnsafeMutableBytes(of: &descs) { raw in
            pk_matmul_batch(pool.raw, 3, raw.baseAddress!.assumingMemoryBound(to: pk_matmul_desc.self))
        }
        if code != 0 { throw error(code, [a, b, c]) }
    }

    private static func error(_ code: Int32, _ descriptors: [Descriptor]) -> QuantizedMatmulError {
        let d = descriptors.first(where: \.isInvalid) ?? descriptors[0]
        return QuantizedMatmulError(code: Int(code), wtype: d.wtype, rows: d.rows, cols: d.cols, tokens: d.tokens)
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
