import ArgumentParser
import Foundation
import Randomness
import Tensor

struct GEMMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "The training products with a frozen weight, per shape: OpenBLAS sgemm vs the AVX-512 f32 and bf16 kernels (GFLOP/s).")

    @Option(help: "Rows of activations (tokens).")
    var tokens: Int = 256
    @Option(help: "Threads.")
    var threads: Int = 2
    @Option(help: "Seconds per measurement (the best of three runs of this length is kept).")
    var seconds: Double = 0.3

    func run() throws {
        BLAS.setThreads(threads)
        let pool = WorkerPool(threads: threads)
        // (out, in) of SmolLM2-135M's maps: q/o, k/v, gate/up, down, and the tied output with 32 and 128 rows.
        let shapes: [(String, Int, Int, Int)] = [
            ("q, o", 576, 576, tokens), ("k, v", 192, 576, tokens), ("gate, up", 1536, 576, tokens),
            ("down", 576, 1536, tokens), ("output (128 rows)", 49152, 576, 128), ("output (32 rows)", 49152, 576, 32),
        ]
        print("bf16 kernel: \(DenseGEMM.bf16Available ? "yes" : "no (AVX512_BF16 missing)"), AVX-512 f32 kernel: \(DenseGEMM.avx512Available ? "yes" : "no"); \(threads) threads; GFLOP/s")
        print(String(format: "%-18@ %-9@ %9@ %9@ %9@", "map (out×in)" as NSString, "product" as NSString,
                     "OpenBLAS" as NSString, "f32-512" as NSString, "bf16" as NSString))
        for (name, out, inp, m) in shapes {
            let w = FloatBuffer(count: out * inp, zeroed: false)
            var rng = SplitMix64(seed: 7)
            for i in 0..<w.count { w[i] = rng.nextFloat() * 2 - 1 }
            let packed = PackedBF16Weight(weight: w.pointer, outFeatures: out, inFeatures: inp)
            for forward in [true, false] {
                let k = forward ? inp : out, n = forward ? out : inp
                let a = FloatBuffer(count: m * k, zeroed: false), c = FloatBuffer(count: m * n)
                for i in 0..<a.count { a[i] = rng.nextFloat() * 2 - 1 }
                let flops = 2.0 * Double(m * n * k)
                let blas = measure(flops) {
                    BLAS.sgemm(transB: forward, m: m, n: n, k: k, a: a.pointer, lda: k, b: w.pointer, ldb: forward ? k : n,
                               c: c.pointer, ldc: n)
                }
                let f32 = DenseGEMM.avx512Available ? measure(flops) {
                    _ = DenseGEMM.rawF32(pool: pool, w: w.pointer, transposed: forward, a: a.pointer, m: m, n: n, k: k,
                                         accumulate: false, c: c.pointer)
                } : .nan
                let bf16 = DenseGEMM.bf16Available ? measure(flops) {
                    _ = DenseGEMM.rawBF16(pool: pool, packed: packed, forward: forward, a: a.pointer, m: m, accumulate: false, c: c.pointer)
                } : .nan
                print(String(format: "%-18@ %-9@ %9.1f %9.1f %9.1f", "\(name) \(out)×\(inp)" as NSString,
                             (forward ? "x·Wᵀ" : "dy·W") as NSString, blas, f32, bf16))
            }
        }
    }

    private func measure(_ flops: Double, _ body: () -> Void) -> Double {
        body()
        var best = 0.0
        for _ in 0..<3 {
            let start = Date()
            var n = 0
            repeat { body(); n += 1 } while Date().timeIntervalSince(start) < seconds
            best = max(best, flops * Double(n) / Date().timeIntervalSince(start) / 1e9)
        }
        return best
    }
}
