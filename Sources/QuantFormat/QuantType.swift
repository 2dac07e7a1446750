// The ggml tensor types: ids as stored in GGUF files, and the size of one block of each. This module
// (with the block codecs in Dequantize.swift and Quantize.swift) is pure Swift with no dependencies,
// so that the GGUF reader, and pcoord through it, link no numeric kernels.
//
// A quantized tensor is a sequence of blocks; each block encodes `blockSize` consecutive elements
// of a row in `bytesPerBlock` bytes. The block layouts are the `Block*` structs below (field order
// and sizes as in ggml-common.h); `QuantTypeTests` checks their sizes against the table here.

public import Diagnostics

/// A ggml tensor element type. Raw values are the ggml type ids stored in GGUF tensor infos.
public enum QuantType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    // 4 and 5 (Q4_2, Q4_3) were removed from ggml.
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35

    /// The name ggml and llama.cpp print for this type, e.g. "Q4_1".
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_xxs: "IQ2_XXS"
        case .iq2_xs: "IQ2_XS"
        case .iq3_xxs: "IQ3_XXS"
        case .iq1_s: "IQ1_S"
        case .iq4_nl: "IQ4_NL"
        case .iq3_s: "IQ3_S"
        case .iq2_s: "IQ2_S"
        case .iq4_xs: "IQ4_XS"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .f64: "F64"
        case .iq1_m: "IQ1_M"
        case .bf16: "BF16"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        }
    }

    /// Elements per block: 1 for plain number types, 32 for the legacy quants, 256 for K-quants.
    public var blockSize: Int { Self.layout(self).blockSize }

    /// Bytes per block, as ggml's type table.
    public var bytesPerBlock: Int { Self.layout(self).bytes }

    /// Whether `Dequantize.run` supports this type.
    public var canDequantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1,
             .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K:
            true
        default:
            false
        }
    }

    /// Whether `Quantize.run` supports this type.
    public var canQuantize: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q8_0: true
        default: false
        }
    }

    /// The bytes taken by `elements` elements. Throws if `elements` is negative or not a whole
    /// number of blocks, or if the size does not fit in an `Int`.
    public func byteCount(elements: Int) throws(QuantError) -> Int {
        guard elements >= 0 else {
            throw QuantError(.badCount, "\(name): negative element count \(elements)")
        }
        let (blocks, remainder) = elements.quotientAndRemainder(dividingBy: blockSize)
        guard remainder == 0 else {
            throw QuantError(.badCount, "\(name): \(elements) elements is not a multiple of the block size \(blockSize)")
        }
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: bytesPerBlock)
        guard !overflow else {
            throw QuantError(.badCount, "\(name): \(elements) elements overflow the byte count")
        }
        return bytes
    }

    private static func layout(_ type: QuantType) -> (blockSize: Int, bytes: Int) {
        let qk = 256  // QK_K, the K-quant super-block
        switch type {
        case .f32: return (1, 4)
        case .f16: return (1, 2)
        case .q4_0: return (32, 2 + 16)
        case .q4_1: return (32, 2 + 2 + 16)
        case .q5_0: return (32, 2 + 4 + 16)
        case .q5_1: return (32, 2 + 2 + 4 + 16)
        case .q8_0: return (32, 2 + 32)
        case .q8_1: return (32, 2 + 2 + 32)
        case .q2_K: return (qk, 2 + 2 + qk / 16 + qk / 4)
        case .q3_K: return (qk, 2 + qk / 4 + qk / 8 + 12)
        case .q4_K: return (qk, 2 + 2 + 12 + qk / 2)
        case .q5_K: return (qk, 2 + 2 + 12 + qk / 8 + qk / 2)
        case .q6_K: return (qk, 2 + qk / 2 + qk / 4 + qk / 16)
        case .q8_K: return (qk, 4 + qk + qk / 16 * 2)
        case .iq2_xxs: return (qk, 2 + qk / 4)
        case .iq2_xs: return (qk, 2 + qk / 4 + qk / 32)
        case .iq3_xxs: return (qk, 2 + qk / 4 + qk / 8)
        case .iq1_s: return (qk, 2 + qk / 8 + qk / 16)
        case .iq4_nl: return (32, 2 + 16)
        case .iq3_s: return (qk, 2 + qk / 4 + qk / 8 + qk / 32 + 4)
        case .iq2_s: return (qk, 2 + qk / 4 + qk / 16)
        case .iq4_xs: return (qk, 2 + 2 + qk / 2 + qk / 64)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64: return (1, 8)
        case .f64: return (1, 8)
        case .iq1_m: return (qk, qk / 8 + qk / 16 + qk / 32)
        case .bf16: return (1, 2)
        case .tq1_0: return (qk, 2 + 4 * 13)
        case .tq2_0: return (qk, 2 + 64)
        }
    }
}

/// A failure to size, quantize or dequantize a buffer.
public typealias QuantError = ModuleError<QuantErrorCode>

/// The codes of `QuantError`.
public enum QuantErrorCode: String, ErrorCode {
    /// The element count is negative, not a whole number of blocks, or overflows.
    case badCount
    /// The type has no dequantizer (or quantizer) here.
    case unsupported
    /// Quantizing met a NaN or an infinity, which no block format can hold faithfully.
    case nonFinite
}

// MARK: - Block layouts
//
// Little-endian, packed as ggml's structs (2-byte alignment except Q8_K's float). `h` fields are
// IEEE half floats stored as their bits. The dequantizers read the bytes at the offsets these
// structs define; the tests check `MemoryLayout<Block…>.size` against `bytesPerBlock`.

typealias Bytes4 = (UInt8, UInt8, UInt8, UInt8)
typealias Bytes12 = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
typealias Bytes16 = (Bytes4, Bytes4, Bytes4, Bytes4)
typealias Bytes32 = (Bytes16, Bytes16)
typealias Bytes64 = (Bytes32, Bytes32)
typealias Bytes128 = (Bytes64, Bytes64)
typealias Bytes256 = (Bytes128, Bytes128)

/// Q4_0: x = d * (q - 8); element j in the low nibble of qs[j], element j+16 in its high nibble.
package struct BlockQ4_0 { var d: UInt16; var qs: Bytes16 }
/// Q4_1: x = d * q + m; nibbles as Q4_0.
package struct BlockQ4_1 { var d: UInt16; var m: UInt16; var qs: Bytes16 }
/// Q5_0: x = d * (q - 16); the fifth bit of element j is bit j of qh.
package struct BlockQ5_0 { var d: UInt16; var qh: Bytes4; var qs: Bytes16 }
/// Q5_1: x = d * q + m; bits as Q5_0.
package struct BlockQ5_1 { var d: UInt16; var m: UInt16; var qh: Bytes4; var qs: Bytes16 }
/// Q8_0: x = d * q.
package struct BlockQ8_0 { var d: UInt16; var qs: Bytes32 }
/// Q8_1: x = d * q; s = d * sum(q) is a cache for dot products.
package struct BlockQ8_1 { var d: UInt16; var s: UInt16; var qs: Bytes32 }
/// Q2_K: 16 groups of 16; 4-bit scale and 4-bit min per group: x = d*sc*q - dmin*m.
package struct BlockQ2_K { var scales: Bytes16; var qs: Bytes64; var d: UInt16; var dmin: UInt16 }
/// Q3_K: 16 groups of 16; 6-bit scales; q = 2 low bits + high bit from hmask, minus 4 if unset.
package struct BlockQ3_K { var hmask: Bytes32; var qs: Bytes64; var scales: Bytes12; var d: UInt16 }
/// Q4_K: 8 groups of 32; 6-bit scales and mins packed in 12 bytes: x = d*sc*q - dmin*m.
package struct BlockQ4_K { var d: UInt16; var dmin: UInt16; var scales: Bytes12; var qs: Bytes128 }
/// Q5_K: as Q4_K with a fifth bit per element from qh.
package struct BlockQ5_K { var d: UInt16; var dmin: UInt16; var scales: Bytes12; var qh: Bytes32; var qs: Bytes128 }
/// Q6_K: 16 groups of 16; 4 low bits in ql, 2 high bits in qh, int8 scales: x = d*sc*(q - 32).
package struct BlockQ6_K { var ql: Bytes128; var qh: Bytes64; var scales: Bytes16; var d: UInt16 }
/// Q8_K: float scale, 256 int8, and the sums of each 16 for dot products.
package struct BlockQ8_K { var d: Float; var qs: Bytes256; var bsums: (Bytes16, Bytes16) /* 16 × Int16 */ }

extension QuantType {
    /// `MemoryLayout.size` of this type's block struct, when this package defines one.
    package var blockLayoutSize: Int? {
        switch self {
        case .f32: MemoryLayout<Float>.size
        case .f16, .bf16: MemoryLayout<UInt16>.size
        case .q4_0: MemoryLayout<BlockQ4_0>.size
        case .q4_1: MemoryLayout<BlockQ4_1>.size
        case .q5_0: MemoryLayout<BlockQ5_0>.size
        case .q5_1: MemoryLayout<BlockQ5_1>.size
        case .q8_0: MemoryLayout<BlockQ8_0>.size
        case .q8_1: MemoryLayout<BlockQ8_1>.size
        case .q2_K: MemoryLayout<BlockQ2_K>.size
        case .q3_K: MemoryLayout<BlockQ3_K>.size
        case .q4_K: MemoryLayout<BlockQ4_K>.size
        case .q5_K: MemoryLayout<BlockQ5_K>.size
        case .q6_K: MemoryLayout<BlockQ6_K>.size
        case .q8_K: MemoryLayout<BlockQ8_K>.size
        default: nil
        }
    }
}
