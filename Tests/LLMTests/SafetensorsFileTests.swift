import Diagnostics
import Foundation
@testable import LLM
import Testing

@Suite struct SafetensorsFileTests {
    /// A safetensors file from raw parts: the header JSON as given, then `data`.
    func write(header: String, data: [UInt8], lengthOverride: UInt64? = nil) throws -> String {
        var bytes: [UInt8] = []
        let h = Array(header.utf8)
        withUnsafeBytes(of: (lengthOverride ?? UInt64(h.count)).littleEndian) { bytes += $0 }
        bytes += h
        bytes += data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    @Test func readsF32F16BF16AndSkipsOtherDTypes() throws {
        let f32 = [Float(1.5), -2, 0.25, 1e-3].flatMap { le($0.bitPattern) }
        // 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), -0.0, +inf in binary16
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00]
        let bf16: [UInt16] = [0x3F80, 0xC040]  // 1.0, -3.0
        let i64 = le(Int64(7)) + le(Int64(-1))
        var data = f32
        let o1 = data.count; data += f16.flatMap { le($0) }
        let o2 = data.count; data += bf16.flatMap { le($0) }
        let o3 = data.count; data += i64
        let header = """
            {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,\(o1)]},\
            "h":{"dtype":"F16","shape":[6],"data_offsets":[\(o1),\(o2)]},\
            "b":{"dtype":"BF16","shape":[2],"data_offsets":[\(o2),\(o3)]},\
            "ids":{"dtype":"I64","shape":[1,2],"data_offsets":[\(o3),\(data.count)]}}
            """
        let path = try write(header: header, data: data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.floats("a", shape: [2, 2]) == [1.5, -2, 0.25, 1e-3])
        let h = try file.floats("h")
        #expect(Array(h.prefix(5)) == [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1), 0])
        #expect(h[4].sign == .minus && h[5] == .infinity)
        #expect(try file.floats("b") == [1, -3])
        #expect(try file.info("ids").shape == [1, 2])
        #expect { try file.floats("ids") } throws: { ($0 as? SafetensorsError)?.code == .unsupportedDType }
        #expect { try file.floats("nope") } throws: { ($0 as? SafetensorsError)?.code == .missingTensor }
        #expect { try file.floats("a", shape: [4]) } throws: { ($0 as? SafetensorsError)?.code == .corrupt }
    }

    @Test(arguments: [
        // data_offsets past the data section
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, nil as UInt64?),
        // byte count disagrees with the shape
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, nil),
        // reversed offsets
        (#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, nil),
        // overlapping tensors
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, nil),
        // negative dimension, overflowing shape, unknown dtype
        (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, nil),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, nil),
        (#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, nil),
        // not JSON, not an object, header length beyond the file, absurd header length
        ("{not json", nil),
        ("[1,2]", nil),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 1000),
        (#"{}"#, UInt64.max),
    ])
    func rejectsCorruptFiles(header: String, length: UInt64?) throws {
        let path = try write(header: header, data: [UInt8](repeating: 0, count: 8), lengthOverride: length)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try SafetensorsFile(path: path) } throws: { ($0 as? SafetensorsError)?.code == .corrupt }
    }

    @Test func rejectsShortAndMissingFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)").path
        #expect { try SafetensorsFile(path: path) } throws: { ($0 as? SafetensorsError)?.code == .unreadable }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try SafetensorsFile(path: path) } throws: { ($0 as? SafetensorsError)?.code == .corrupt }
    }
}

@Suite struct SentenceEncoderKernelTests {
    @Test func erfMatchesLibm() {
        var worst: Float = 0
        var x: Float = -6
        while x <= 6 {
            let ours = SentenceEncoder.erf(SIMD8<Float>(repeating: x))[0]
            worst = max(worst, abs(ours - erff(x)))
            x += 0.001
        }
        #expect(worst < 2e-6, "erf differs from libm by up to \(worst)")
    }

    @Test func geluMatchesTheErfForm() {
        let xs: [Float] = (0..<37).map { Float($0) * 0.37 - 6.5 }
        var y = xs
        y.withUnsafeMutableBufferPointer { SentenceEncoder.gelu($0.baseAddress!, count: xs.count) }
        for (x, g) in zip(xs, y) {
            let exact = Double(x) * 0.5 * (1 + Foundation.erf(Double(x) / 2.0.squareRoot()))
            #expect(abs(Double(g) - exact) < 2e-6, "gelu(\(x)) = \(g), expected \(exact)")
        }
    }

    @Test func layerNormAddsTheResidualAndNormalises() {
        var x: [Float] = (0..<40).map { Float($0 % 7) - 2 }
        let r: [Float] = (0..<40).map { Float($0) * 0.1 }
        let gamma = [Float](repeating: 2, count: 20), beta = [Float](repeating: 0.5, count: 20)
        let expected: [Float] = (0..<2).flatMap { row -> [Float] in
            let y = (0..<20).map { Double(x[row * 20 + $0] + r[row * 20 + $0]) }
            let mean = y.reduce(0, +) / 20
            let variance = y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20
            return y.map { Float(($0 - mean) / (variance + 1e-12).squareRoot() * 2 + 0.5) }
        }
        x.withUnsafeMutableBufferPointer { xp in
            SentenceEncoder.layerNorm(xp.baseAddress!, residual: r, rows: 0..<2, columns: 20, gamma: gamma, beta: beta, epsilon: 1e-12)
        }
        for (a, b) in zip(x, expected) { #expect(abs(a - b) < 1e-4) }
    }
}
