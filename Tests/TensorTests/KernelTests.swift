import CKernels
import Randomness
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
        var rng = SplitMix64(seed: 42)
        for wtype in Self.types {
            for T in [1, 3, 17] {
                for (rows, cols) in [(1, 32), (37, 96), (67, 160)] {
                    let problem = KernelProblem(wtype: wtype, rows: rows, cols: cols, T: T, rng: &rng)
                    let y = try problem.run(pool: pool, act: .f32)
                    problem.expectClose(y, act: .f32, "\(wtype) T=\(T) rows=\(rows) threads=\(threads)")
                }
            }
        }
    }

    @Test(arguments: [1, 2])
    func q8ActivationsStayWithinQuantizationBound(threads: Int) throws {
        let pool = WorkerPool(threads: threads)
        var rng = SplitMix64(seed: 7)
        for wtype in Self.types {
            for T in [1, 3, 17] {
                for (rows, cols) in [(1, 32), (37, 96), (67, 160)] {
                    let problem = KernelProblem(wtype: wtype, rows: rows, cols: cols, T: T, rng: &rng)
                    let y = try problem.run(pool: pool, act: .int8)
                    problem.expectClose(y, act: .int8, "\(wtype) T=\(T) rows=\(rows) threads=\(threads)")
                }
            }
        }
    }

    @Test(arguments: [1, 2])
    func q16ActivationsStayWithinQuantizationBound(threads: Int) throws {
        let pool = WorkerPool(threads: threads)
        var rng = SplitMix64(seed: 16)
        for isa in Self.isas {
            #expect(pk_set_isa(isa) == 0)
            defer { _ = pk_set_isa("auto") }
            for wtype in Self.types {
                for T in [1, 2, 3, 17] {
                    for (rows, cols) in [(1, 32), (37, 96), (67, 160)] {
                        let problem = KernelProblem(wtype: wtype, rows: rows, cols: cols, T: T, rng: &rng)
                        let y = try problem.run(pool: pool, act: .int16)
                        problem.expectClose(y, act: .int16, "\(isa) \(wtype) T=\(T) rows=\(rows) threads=\(threads)")
                    }
                }
            }
        }
    }

    /// Activations with a huge range inside a block (and all-zero blocks) stay within the 16-bit bound.
    @Test func q16HandlesExtremeBlocks() throws {
        let pool = WorkerPool(threads: 2)
        var rng = SplitMix64(seed: 5)
        for isa in Self.isas {
            #expect(pk_set_isa(isa) == 0)
            defer { _ = pk_set_isa("auto") }
            for wtype: UInt32 in [2, 3, 8] {
                var problem = KernelProblem(wtype: wtype, rows: 40, cols: 128, T: 1, rng: &rng)
                var x = problem.x
                for k in 0..<32 { x[k] = 0 }                      // block 0: zeros
                x[32] = 1e4; x[33] = -1e4; x[40] = 1e-6           // block 1: ±max and tiny
                for k in 64..<96 { x[k] = k % 2 == 0 ? 3 : -3 }  // block 2: all at ±max
                problem = KernelProblem(wtype: wtype, rows: 40, cols: 128, T: 1, w: problem.w, x: x)
                problem.expectClose(try problem.run(pool: pool, act: .int16), act: .int16, "\(isa) extreme \(wtype)")
            }
        }
    }

    @Test func everyISAGivesTheSameResults() throws {
        defer { _ = pk_set_isa("auto") }
        let pool = WorkerPool(threads: 2)
        var rng = SplitMix64(seed: 2024)
        for wtype in Self.types {
            for act in [ActivationPrecision.f32, .int8, .int16] {
                for T in [1, 2, 3, 17] {
                    let problem = KernelProblem(wtype: wtype, rows: 53, cols: 256, T: T, rng: &rng)
                    var results: [[Float]] = []
                    for isa in Self.isas {
                        #expect(pk_set_isa(isa) == 0)
                        let y = try problem.run(pool: pool, act: act)
                        problem.expectClose(y, act: act, "\(isa) type \(wtype) act=\(act) T=\(T)")
                        results.append(y)
                    }
                    // Same quantized activations and exact integer dots in every ISA: only f32 rounding differs.
                    for other in results.dropFirst() {
                        for (i, v) in other.enumerated() {
                            let tol = 2e-6 * problem.absSum[i] + 1e-30
                            #expect(abs(Double(v) - Double(results[0][i])) <= tol, "type \(wtype) act=\(act) T=\(T) i=\(i)")
                        }
                    }
                }
            }
        }
    }

    @Test func largeShapesUseTheBlockedPathCorrectly() throws {
        // Enough rows and tokens for many chunks and micro-tile edges on both threads.
        let pool = WorkerPool(threads: 2)
        var rng = SplitMix64(seed: 99)
        for wtype: UInt32 in [3, 8] {
            let problem = KernelProblem(wtype: wtype, rows: 389, cols: 576, T: 33, rng: &rng)
            for act in [ActivationPrecision.f32, .int8, .int16] {
                problem.expectClose(try problem.run(pool: pool, act: act), act: act, "type \(wtype) large \(act)")
            }
            let decode = KernelProblem(wtype: wtype, rows: 389, cols: 576, T: 1, rng: &rng)
            for act in [ActivationPrecision.f32, .int8, .int16] {
                decode.expectClose(try decode.run(pool: pool, act: act), act: act, "type \(wtype) large T=1 \(act)")
            }
        }
    }

    /// A batch gives exactly what its products give one by one (same chunks, same kernels), including
    /// products that share x and mixed types, tokens and activation precisions.
    @Test(arguments: [1, 2])
    func batchEqualsSeparateRuns(threads: Int) throws {
        let pool = WorkerPool(threads: threads)
        var rng = SplitMix64(seed: 31)
        for act in [ActivationPrecision.f32, .int8, .int16] {
            for T in [1, 3] {
                // q, k, v: one x, three shapes; plus an unrelated product with its own x.
                let shapes: [(UInt32, Int, Int)] = [(3, 70, 96), (3, 24, 96), (8, 24, 96), (2, 33, 64)]
                var problems = shapes.map { KernelProblem(wtype: $0.0, rows: $0.1, cols: $0.2, T: T, rng: &rng) }
                for i in 1..<3 {
                    problems[i] = KernelProblem(wtype: problems[i].wtype, rows: problems[i].rows, cols: problems[i].cols,
                                                T: T, w: problems[i].w, x: problems[0].x)
                }
                let separate = try problems.map { try $0.run(pool: pool, act: act) }
                var outs = problems.map { [Float](repeating: .nan, count: $0.T * $0.rows) }
                let ws = problems.map { p in p.w.withUnsafeBytes { UnsafeRawBufferPointer(start: UnsafeMutableRawPointer.allocate(byteCount: $0.count, alignment: 64), count: $0.count) } }
                let xs = problems.map { p in UnsafeMutablePointer<Float>.allocate(capacity: p.x.count) }
                let ys = problems.map { p in UnsafeMutablePointer<Float>.allocate(capacity: p.T * p.rows) }
                defer {
                    ws.forEach { $0.deallocate() }
                    xs.forEach { $0.deallocate() }
                    ys.forEach { $0.deallocate() }
                }
                for (i, p) in problems.enumerated() {
                    p.w.withUnsafeBytes { UnsafeMutableRawPointer(mutating: ws[i].baseAddress!).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    xs[i].initialize(from: p.x, count: p.x.count)
                }
                let descs = problems.indices.map { i in
                    QuantizedMatmul.Descriptor(
                        wtype: problems[i].wtype, w: ws[i].baseAddress!, rows: problems[i].rows, cols: problems[i].cols,
                        x: i < 3 ? xs[0] : xs[i], tokens: T, y: ys[i], activations: act)
                }
                func collect() -> [[Float]] {
                    problems.indices.map { i in Array(UnsafeBufferPointer(start: ys[i], count: problems[i].T * problems[i].rows)) }
                }
                func reset() { for i in problems.indices { ys[i].update(repeating: .nan, count: problems[i].T * problems[i].rows) } }
                reset()
                try QuantizedMatmul.runBatch(pool: pool, descs)
                outs = collect()
                #expect(outs == separate, "array batch act=\(act) T=\(T) threads=\(threads)")
                reset()
                try QuantizedMatmul.runBatch(pool: pool, descs[0], descs[1], descs[2])
                outs = collect()
                #expect(Array(outs[0..<3]) == Array(separate[0..<3]), "3-batch act=\(act) T=\(T)")
                reset()
                try QuantizedMatmul.runBatch(pool: pool, descs[0], descs[3])
                outs = collect()
                #expect(outs[0] == separate[0] && outs[3] == separate[3], "2-batch act=\(act) T=\(T)")

                // One bad descriptor: refused before anything runs.
                reset()
                var bad = descs[2]
                bad.cols = 40
                #expect(throws: QuantizedMatmulError.self) { try QuantizedMatmul.runBatch(pool: pool, descs[0], descs[1], bad) }
                #expect(collect()[0].allSatisfy { $0.isNaN })
            }
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
                            x: x, tokens: tokens, y: yp.baseAddress!, activations: .f32)
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
        // One counter per worker in raw memory: each worker writes only its own (a Swift array's
        // elements written from several threads are a formal access race on the array).
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        counts.initialize(repeating: 0, count: 3)
        defer { counts.deallocate() }
        let pool = WorkerPool(threads: 3)
        for _ in 0..<200 {
            pk_pool_run(pool.raw, { ctx, ith, nth in
                precondition(nth == 3)
                ctx!.assumingMemoryBound(to: Int.self)[Int(ith)] += 1
            }, counts)
        }
        #expect(Array(UnsafeBufferPointer(start: counts, count: 3)) == [200, 200, 200])
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

    init(wtype: UInt32, rows: Int, cols: Int, T: Int, rng: inout SplitMix64) {
        let w = Self.randomWeights(wtype: wtype, count: rows * cols, rng: &rng)
        let x = (0..<(T * cols)).map { _ in rng.nextFloat() * 2 - 1 }
        self.init(wtype: wtype, rows: rows, cols: cols, T: T, w: w, x: x)
    }

    init(wtype: UInt32, rows: Int, cols: Int, T: Int, w: [UInt8], x: [Float]) {
        self.wtype = wtype
        self.rows = rows
        self.cols = cols
        self.T = T
        self.w = w
        self.x = x
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

    func run(pool: WorkerPool, act: ActivationPrecision) throws -> [Float] {
        var y = [Float](repeating: .nan, count: T * rows)
        try w.withUnsafeBytes { wp in
            try y.withUnsafeMutableBufferPointer { yp in
                try QuantizedMatmul.run(
                    pool: pool, wtype: wtype, w: wp.baseAddress!, rows: rows, cols: cols,
                    x: x, tokens: T, y: yp.baseAddress!, activations: act)
            }
        }
        return y
    }

    func expectClose(_ y: [Float], act: ActivationPrecision, _ label: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let quantized = wtype == 2 || wtype == 3 || wtype == 8
        var worst = 0.0
        for i in 0..<y.count {
            var tol = 1e-5 * absSum[i] + 1e-30
            // Rounding x to 16-bit blocks: the 8-bit bound scaled by 127/32767.
            if act == .int8 && quantized { tol += q8Bound[i] }
            if act == .int16 && quantized { tol += q8Bound[i] * 127 / 32767 }
            worst = max(worst, abs(Double(y[i]) - reference[i]) / tol)
        }
        #expect(worst <= 1, "\(label): error is \(worst) × tolerance", sourceLocation: sourceLocation)
    }

    static func randomWeights(wtype: UInt32, count: Int, rng: inout SplitMix64) -> [UInt8] {
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

