import CKernels

/// Numeric precision of the products with a frozen f32 weight in training.
public enum GEMMPrecision: String, Sendable, CaseIterable {
    /// f32 throughout: OpenBLAS sgemm, or the AVX-512 f32 kernel where it measured faster.
    case f32
    /// Weight and activations rounded to bfloat16 (nearest even), products summed in f32 (AVX512_BF16
    /// vdpbf16ps). About 2× the f32 speed on CPUs that have it; each product carries up to ~2⁻⁸
    /// relative error. Falls back to f32 on CPUs without AVX512_BF16.
    case bf16
}

/// A frozen weight W (out, in) rounded to bfloat16 once and packed for both training products:
/// the forward y = x·Wᵀ and the backward dx = dy·W.
public final class PackedBF16Weight: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    let forward: UnsafeMutablePointer<UInt16>    // B = Wᵀ (in, out)
    let backward: UnsafeMutablePointer<UInt16>   // B = W (out, in)

    /// Packs `weight` (out, in) row-major. Two bf16 copies: 4 bytes per weight in all.
    public init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) {
        precondition(outFeatures > 0 && inFeatures > 0, "PackedBF16Weight needs a non-empty weight")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        let nf = pk_pack_bf16_elements(Int64(inFeatures), Int64(outFeatures))
        let nb = pk_pack_bf16_elements(Int64(outFeatures), Int64(inFeatures))
        forward = .allocate(capacity: nf)
        backward = .allocate(capacity: nb)
        let e1 = pk_pack_bf16(weight, 1, Int64(inFeatures), Int64(outFeatures), forward)
        let e2 = pk_pack_bf16(weight, 0, Int64(outFeatures), Int64(inFeatures), backward)
        precondition(e1 == 0 && e2 == 0, "pk_pack_bf16 failed")
        bytes = (nf + nb) * 2
    }

    /// Bytes held by the two packed copies.
    public let bytes: Int

    deinit {
        forward.deallocate()
        backward.deallocate()
    }
}

/// Products with a frozen weight for training: forward y = x·Wᵀ and backward dx += dy·W, with W (out, in)
/// row-major. Runs on the AVX-512 kernels of CKernels when the CPU has them (bf16 with a packed weight;
/// f32 for shapes where the kernel beat OpenBLAS), else OpenBLAS sgemm.
public enum DenseGEMM {
    /// Whether this CPU runs the bf16 kernel (AVX512_BF16); `.bf16` falls back to f32 when it does not.
    public static var bf16Available: Bool { pk_gemm_bf16_available() != 0 }
    /// Whether this CPU runs the AVX-512 f32 kernel.
    public static var avx512Available: Bool { pk_gemm_f32_available() != 0 }

    /// Which f32 implementation runs: `.auto` picks per shape (the AVX-512 kernel from `minRowsAVX512`
    /// rows on, OpenBLAS below, where packing a panel per call costs more than it saves).
    public enum F32Kernel: Sendable { case auto, blas, avx512 }
    nonisolated(unsafe) public static var f32Kernel: F32Kernel = .auto
    public static let minRowsAVX512 = 128

    /// y (T, out) = x (T, in) · Wᵀ (+ y when accumulating).
    public static func forward(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedBF16Weight?, pool: WorkerPool,
        tokens: Int, inFeatures: Int, outFeatures: Int, out: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        if let packed, bf16Available {
            let e = pk_gemm_bf16(pool.raw, packed.panels(forward: true), x, Int64(tokens), Int64(outFeatures),
                                 Int64(inFeatures), Int64(inFeatures), 1, accumulate ? 1 : 0, out, Int64(outFeatures))
            precondition(e == 0, "pk_gemm_bf16 failed (\(e))")
            return
        }
        if useAVX512(tokens) {
            let e = pk_gemm_f32(pool.raw, weight, 1, x, Int64(tokens), Int64(outFeatures), Int64(inFeatures),
                                Int64(inFeatures), 1, accumulate ? 1 : 0, out, Int64(outFeatures))
            precondition(e == 0, "pk_gemm_f32 failed (\(e))")
            return
        }
        Ops.linear(x, weight: weight, tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures, out: out,
                   accumulate: accumulate)
    }

    /// dx (T, in) += dy (T, out) · W.
    public static func backwardInput(
        _ dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, packed: PackedBF16Weight?, pool: WorkerPool,
        tokens: Int, inFeatures: Int, outFeatures: Int, dx: UnsafeMutablePointer<Float>
    ) {
        if let packed, bf16Available {
            let e = pk_gemm_bf16(pool.raw, packed.panels(forward: false), dy, Int64(tokens), Int64(inFeatures),
                                 Int64(outFeatures), Int64(outFeatures), 1, 1, dx, Int64(inFeatures))
            precondition(e == 0, "pk_gemm_bf16 failed (\(e))")
            return
        }
        if useAVX512(tokens) {
            let e = pk_gemm_f32(pool.raw, weight, 0, dy, Int64(tokens), Int64(inFeatures), Int64(outFeatures),
                                Int64(outFeatures), 1, 1, dx, Int64(inFeatures))
            precondition(e == 0, "pk_gemm_f32 failed (\(e))")
            return
        }
        Ops.linearBackward(dy, x: dy, weight: weight, tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures,
                           dx: dx, dweight: nil)
    }

    private static func useAVX512(_ rows: Int) -> Bool {
        switch f32Kernel {
        case .blas: false
        case .avx512: avx512Available
        case .auto: avx512Available && rows >= minRowsAVX512
        }
    }

    /// c (M, N) = alpha · a (M, K) · B (+ c), B = Wᵀ for W (N, K) when `transposed`, else W (K, N):
    /// the raw kernels, for tests and benchmarks. Returns the CKernels error code (0 is success).
    public static func rawF32(pool: WorkerPool, w: UnsafePointer<Float>, transposed: Bool, a: UnsafePointer<Float>,
                              m: Int, n: Int, k: Int, alpha: Float = 1, accumulate: Bool, c: UnsafeMutablePointer<Float>) -> Int32 {
        pk_gemm_f32(pool.raw, w, transposed ? 1 : 0, a, Int64(m), Int64(n), Int64(k), Int64(k), alpha, accumulate ? 1 : 0, c, Int64(n))
    }

    /// The bf16 kernel on a weight packed by `PackedBF16Weight`: c (M, N) = alpha · a · Wᵀ (forward: N = out,
    /// K = in) or a · W (backward: N = in, K = out) (+ c).
    public static func rawBF16(pool: WorkerPool, packed: PackedBF16Weight, forward: Bool, a: UnsafePointer<Float>, m: Int,
                               alpha: Float = 1, accumulate: Bool, c: UnsafeMutablePointer<Float>) -> Int32 {
        let n = forward ? packed.outFeatures : packed.inFeatures
        let k = forward ? packed.inFeatures : packed.outFeatures
        return pk_gemm_bf16(pool.raw, packed.panels(forward: forward), a, Int64(m), Int64(n), Int64(k), Int64(k),
                            alpha, accumulate ? 1 : 0, c, Int64(n))
    }
}

extension PackedBF16Weight {
    @inline(__always)
    fileprivate func panels(forward f: Bool) -> UnsafePointer<UInt16> { UnsafePointer(f ? forward : backward) }
}
