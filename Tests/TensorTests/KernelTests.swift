import CKernels
import Testing

@testable import Tensor

// Checks the SIMD kernels against an independent scalar reference that reads the ggml block layouts
// directly and accumulates in Double. Dimension key: T tokens, rows output features, cols input features.
//
// Serialized: the ISA tests switch the process-wide kernel family, which would otherwise change what
// the other tests here run.
@Suite(.serialized)
struct KernelTests {
    static let types: [UInt32] = [0, 1, 2, 3, 8]  // F32, F16, Q4_0, Q4_1, Q8_0

    /// Every ISA this build and CPU can run; "scalar" always.
    static let isas: [String] = ["scalar", "avx2", "neon"].filter { pk_set_isa($0) == 0 }

    init() { _ = pk_set_isa("auto") }

    @Test func dispatchPicksTheBestAvailableISA() {
        #expect(Self.isas.contains(QuantizedMatmul.isaName))
        #expect(Self.isas.last == QuantizedMatmul.isaName)
        #expect(pk_set_isa("no-such-isa") != 0)
        #expect(QuantizedMatmul.isaName == Self.isas.last)
    }

    @Test(arguments: [1, 2])
    func f32ActivationsMatchDoubleReference(threads: Int) throws {
        let pool = WorkerPool(threads: threads)
        #expect(pool.threads == threads)
        var rng = KernelTestRNG(seed: 42)
        for wtype in Self.types {
            for T in [1, 3, 17] {
                for (rows, cols) in [(1, 32), (37, 96), (67, 160)] {
                    let problem = KernelProblem(wtype: wtype, rows: rows, cols: cols, T: T, rng: &rng)
                    let y = try problem.run(pool: pool, q8: false)
                    problem.expectClose(y, q8: false, "\(wtype) T=\(T) rows=\(rows) threads=\(threads)")
                }
            }
        }
    }

    @Test(arguments: [1, 2])
    func q8ActivationsStayWithinQuantizationBound(threads: Int) throws {
        let pool = WorkerPool(threads: threads)
        var rng = KernelTestRNG(seed: 7)
        for wtype in Self.types {
            for T in [1, 3, 17] {
                for (rows, cols) in [(1, 32), (37, 96), (67, 160)] {
                    let problem = KernelProblem(wtype: wtype, rows: rows, cols: cols, T: T, rng: &rng)
                    let y = try problem.run(pool: pool, q8: true)
                    problem.expectClose(y, q8: true, "\(wtype) T=\(T) rows=\(rows) threads=\(threads)")
                }
            }
        }
    }

    @Test func everyISAGivesTheSameResults() throws {
        defer { _ = pk_set_isa("auto") }
        let pool = WorkerPool(threads: 2)
        var rng = KernelTestRNG(seed: 2024)
        for wtype in Self.types {
            for q8 in [false, true] {
                for T in [1, 3, 17] {
                    let problem = KernelProblem(wtype: wtype, rows: 53, cols: 256, T: T, rng: &rng)
                    var results: [[Float]] = []
                    for isa in Self.isas {
                        #expect(pk_set_isa(isa) == 0)
                        let y = try problem.run(pool: pool, q8: q8)
                        problem.expectClose(y, q8: q8, "\(isa) type \(wtype) q8=\(q8) T=\(T)")
                        results.append(y)
                    }
                    // Same quantized activations and exact integer dots in every ISA: only f32 rounding differs.
                    for other in results.dropFirst() {
                        for (i, v) in other.enumerated() {
                            let tol = 2e-6 * problem.absSum[i] + 1e-30
                            #expect(abs(Double(v) - Double(results[0][i])) <= tol, "type \(wtype) q8=\(q8) T=\(T) i=\(i)")
                        }
                    }
                }
            }
        }
    }

    @Test func largeShapesUseTheBlockedPathCorrectly() throws {
        // Enough rows and tokens for many chunks and micro-tile edges on both threads.
        let pool = WorkerPool(threads: 2)
        var rng = KernelTestRNG(seed: 99)
        for wtype: UInt32 in [3, 8] {
            let problem = KernelProblem(wtype: wtype, rows: 389, cols: 576, T: 33, rng: &rng)
            problem.expectClose(try problem.run(pool: pool, q8: false), q8: false, "type \(wtype) large")
            problem.expectClose(try problem.run(pool: pool, q8: true), q8: true, "type \(wtype) large q8")
        }
    }

    @Test func badShapesAndTypesAreRefused() {
        let pool = WorkerPool(threads: 2)
        let w = [UInt8](repeating: 0, count: 4096)
        let x = [Float](repeating: 1, count: 256)
        var y = [Float](repeating: 0, count: 256)
        func code(wtype: UInt32, rows: Int, cols: Int, tokens: Int) -> Int? {
            w.withUnsafeBytes { wp -> Int? in
                y.withUnsafeMutableBufferPointer { yp -> Int? in
                    do {
                        try QuantizedMatmul.run(
                            pool: pool, wtype: wtype, w: wp.baseAddress!, rows: rows, cols: cols,
                            x: x, tokens: tokens, y: yp.baseAddress!, q8Activations: false)
                        return nil
                    } catch let error as QuantizedMatmulError {
                        return error.code
                    } catch {
                        return -1
                    }
                }
            }
        }
        #expect(code(wtype: 3, rows: 2, cols: 48, tokens: 1) == 2)
        #expect(code(wtype: 0, rows: 2, cols: 40, tokens: 1) == 2)
        #expect(code(wtype: 3, rows: 0, cols: 32, tokens: 1) == 2)
        #expect(code(wtype: 3, rows: 2, cols: 32, tokens: 0) == 2)
        #expect(code(wtype: 6, rows: 2, cols: 32, tokens: 1) == 1)
        #expect(code(wtype: 3, rows: 2, cols: 32, tokens: 1) == nil)
    }

    @Test func poolRunsEveryWorkerOncePerJob() {
        final class Hits: @unchecked Sendable { var counts = [Int](repeating: 0, count: 3) }
        let pool = WorkerPool(threads: 3)
        let hits = Hits()
        let raw = Unmanaged.passUnretained(hits).toOpaque()
        for _ in 0..<200 {
            pk_pool_run(pool.raw, { ctx, ith, nth in
                precondition(nth == 3)
                Unmanaged<Hits>.fromOpaque(ctx!).takeUnretainedValue().counts[Int(ith)] += 1
            }, raw)
        }
        #expect(hits.counts == [200, 200, 200])
    }
}

/// One random matmul problem and its Double reference.
struct KernelProblem {
    let wtype: UInt32
    let rows: Int
    let cols: Int
    let T: Int
    let w: [UInt8]
    let x: [Float]
    /// Reference y (T, rows), Σ|x·w| per output (the scale errors are measured against), and the bound
    /// on |error| from rounding x to 8-bit blocks: Σ_blocks (amax/127/2) · Σ|w| over the block.
    let reference: [Double]
    let absSum: [Double]
    let q8Bound: [Double]

    init(wtype: UInt32, rows: Int, cols: Int, T: Int, rng: inout KernelTestRNG) {
        self.wtype = wtype
        self.rows = rows
        self.cols = cols
        self.T = T
        w = Self.randomWeights(wtype: wtype, count: rows * cols, rng: &rng)
        x = (0..<(T * cols)).map { _ in rng.nextFloat() * 2 - 1 }
        let rowBytes = w.count / rows
        var reference = [Double](repeating: 0, count: T * rows)
        var absSum = reference
        var q8Bound = reference
        for r in 0..<rows {
            let wr = Self.dequantize(wtype: wtype, Array(w[(r * rowBytes)..<((r + 1) * rowBytes)]), cols: cols)
            for t in 0..<T {
                var s = 0.0, a = 0.0, bound = 0.0
                for b in 0..<(cols / 32) {
                    var amax = 0.0, wabs = 0.0
                    for k in (b * 32)..<(b * 32 + 32) {
                        let xv = Double(x[t * cols + k])
                        s += wr[k] * xv
                        a += abs(wr[k] * xv)
                        amax = max(amax, abs(xv))
                        wabs += abs(wr[k])
                    }
                    bound += amax / 127 / 2 * wabs
                }
                reference[t * rows + r] = s
                absSum[t * rows + r] = a
                q8Bound[t * rows + r] = bound
            }
        }
        self.reference = reference
        self.absSum = absSum
        self.q8Bound = q8Bound
    }

    func run(pool: WorkerPool, q8: Bool) throws -> [Float] {
        var y = [Float](repeating: .nan, count: T * rows)
        try w.withUnsafeBytes { wp in
            try y.withUnsafeMutableBufferPointer { yp in
                try QuantizedMatmul.run(
                    pool: pool, wtype: wtype, w: wp.baseAddress!, rows: rows, cols: cols,
                    x: x, tokens: T, y: yp.baseAddress!, q8Activations: q8)
            }
        }
        return y
    }

    func expectClose(_ y: [Float], q8: Bool, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let quantized = wtype == 2 || wtype == 3 || wtype == 8
        var worst = 0.0
        for i in 0..<y.count {
            var tol = 1e-5 * absSum[i] + 1e-30
            if q8 && quantized { tol += q8Bound[i] }
            worst = max(worst, abs(Double(y[i]) - reference[i]) / tol)
        }
        #expect(worst <= 1, "\(label): error is \(worst) × tolerance", sourceLocation: sourceLocation)
    }

    static func randomWeights(wtype: UInt32, count: Int, rng: inout KernelTestRNG) -> [UInt8] {
        var bytes: [UInt8] = []
        func f16(_ v: Float) { append16(Float16(v).bitPattern) }
        func append16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
        func randomBytes(_ n: Int) { for _ in 0..<n { bytes.append(UInt8(truncatingIfNeeded: rng.next())) } }
        switch wtype {
        case 0:
            for _ in 0..<count {
                let v = (rng.nextFloat() - 0.5) * 0.2
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            }
        case 1:
            for _ in 0..<count { f16((rng.nextFloat() - 0.5) * 0.2) }
        case 2:
            for _ in 0..<(count / 32) { f16(0.005 + 0.02 * rng.nextFloat()); randomBytes(16) }
        case 3:
            for _ in 0..<(count / 32) {
                f16(0.005 + 0.02 * rng.nextFloat())
                f16(-0.2 * rng.nextFloat())
                randomBytes(16)
            }
        default:
            for _ in 0..<(count / 32) { f16(0.0005 + 0.002 * rng.nextFloat()); randomBytes(32) }
        }
        return bytes
    }

    /// One row by the ggml layouts: Q4 element j in the low nibble of qs[j], element j+16 in the high one.
    static func dequantize(wtype: UInt32, _ row: [UInt8], cols: Int) -> [Double] {
        func f16(_ i: Int) -> Double { Double(Float16(bitPattern: UInt16(row[i]) | UInt16(row[i + 1]) << 8)) }
        var out = [Double](repeating: 0, count: cols)
        for b in 0..<(cols / 32) {
            for j in 0..<32 {
                let k = b * 32 + j
                switch wtype {
                case 0:
                    let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(row[4 * k + $1]) << (8 * $1) }
                    out[k] = Double(Float(bitPattern: bits))
                case 1:
                    out[k] = f16(2 * k)
                case 2, 3:
                    let base = b * (wtype == 2 ? 18 : 20)
                    let qs = base + (wtype == 2 ? 2 : 4)
                    let q = j < 16 ? Int(row[qs + j] & 0x0f) : Int(row[qs + j - 16] >> 4)
                    out[k] = wtype == 2 ? f16(base) * Double(q - 8) : f16(base) * Double(q) + f16(base + 2)
                default:
                    let base = b * 34
                    out[k] = f16(base) * Double(Int8(bitPattern: row[base + 2 + j]))
                }
            }
        }
        return out
    }
}

struct KernelTestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
