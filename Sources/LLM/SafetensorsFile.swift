// A bounds-checked, read-only safetensors reader for model weights (the sentence encoder's
// `model.safetensors`). Tuning has its own encoder/decoder for adapter files; this one maps a file
// of any size and converts tensors on demand.
//
// The format (https://github.com/huggingface/safetensors):
//  1. 8 bytes: N, the header length, u64 little-endian.
//  2. N bytes: a UTF-8 JSON object. "__metadata__" (optional) maps strings to strings; every other
//     key names a tensor: {"dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end]},
//     offsets in bytes from the start of the data section, elements row-major, little-endian.
//  3. The data section: the rest of the file.
// The file is untrusted input: the header length, every shape, offset and byte count is checked
// (overflow-checked arithmetic) before anything is read, and tensors may not overlap.

public import Diagnostics
import Foundation

/// Why a safetensors file could not be read. Says which file and what to do; holds no tensor data.
public typealias SafetensorsError = ModuleError<SafetensorsErrorCode>

/// The codes of `SafetensorsError`.
public enum SafetensorsErrorCode: String, ErrorCode {
    /// The file cannot be opened or mapped.
    case unreadable
    /// The header or a tensor's extent is inconsistent with the file.
    case corrupt
    /// The tensor's dtype cannot be converted to f32 (only F32, F16, BF16 can).
    case unsupportedDType
    /// No tensor of that name.
    case missingTensor
}

/// A safetensors file, memory-mapped read-only for the life of this object.
public final class SafetensorsFile: @unchecked Sendable {
    public enum DType: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL
        case F8_E4M3, F8_E5M2

        public var byteSize: Int {
            switch self {
            case .F64, .I64, .U64: 8
            case .F32, .I32, .U32: 4
            case .F16, .BF16, .I16, .U16: 2
            case .I8, .U8, .BOOL, .F8_E4M3, .F8_E5M2: 1
            }
        }
    }

    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// From the start of the file.
        public let offset: Int
        public let byteCount: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The largest header accepted (the reference reader's limit).
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    public let metadata: [String: String]
    /// By name.
    public let tensors: [String: TensorInfo]
    public let fileSize: Int

    // Read-only mapping, alive until deinit: safe to read from any thread.
    private let base: UnsafeRawPointer
    private let mappedSize: Int

    public init(path: String) throws(SafetensorsError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SafetensorsError(.unreadable, "Cannot open \(path): \(String(cString: strerror(errno))).")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw SafetensorsError(.unreadable, "\(path) is not a regular file.")
        }
        let size = Int(st.st_size)
        guard size >= 8 else {
            throw SafetensorsError(.corrupt, "\(path) is \(size) bytes long, shorter than the 8-byte header length (truncated?).")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SafetensorsError(.unreadable, "Cannot map \(path): \(String(cString: strerror(errno))).")
        }
        let base = UnsafeRawPointer(mapped)
        do throws(SafetensorsError) {
            (metadata, tensors) = try Self.parseHeader(base: base, size: size, path: path)
        } catch {
            munmap(mapped, size)
            throw error
        }
        self.base = base
        self.mappedSize = size
        self.fileSize = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedSize) }

    public func info(_ name: String) throws(SafetensorsError) -> TensorInfo {
        guard let info = tensors[name] else {
            throw SafetensorsError(.missingTensor, "\(path) has no tensor \(name); is this the right model?")
        }
        return info
    }

    /// The tensor's elements as f32 (F32 copied, F16 and BF16 widened), row-major, written to
    /// `destination`, which must hold `elementCount` values. Checks the shape if one is given.
    public func read(
        _ name: String, shape expected: [Int]? = nil, into destination: UnsafeMutablePointer<Float>
    ) throws(SafetensorsError) {
        let t = try info(name)
        if let expected, expected != t.shape {
            throw SafetensorsError(.corrupt, "Tensor \(name) in \(path) has shape \(t.shape), expected \(expected); is this the right model?")
        }
        let src = base + t.offset
        let n = t.elementCount
        switch t.dtype {
        case .F32:
            UnsafeMutableRawPointer(destination).copyMemory(from: src, byteCount: n * 4)
            #if _endian(big)
            for i in 0..<n { destination[i] = Float(bitPattern: UInt32(littleEndian: destination[i].bitPattern)) }
            #endif
        case .F16:
            for i in 0..<n {
                destination[i] = Self.halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .BF16:
            for i in 0..<n {
                let h = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = Float(bitPattern: UInt32(h) << 16)
            }
        default:
            throw SafetensorsError(.unsupportedDType, "Tensor \(name) in \(path) is \(t.dtype.rawValue); only F32, F16 and BF16 can be read as f32.")
        }
    }

    /// The tensor's elements as an f32 array.
    public func floats(_ name: String, shape: [Int]? = nil) throws(SafetensorsError) -> [Float] {
        let n = try info(name).elementCount
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { (p) throws(SafetensorsError) in
            try read(name, shape: shape, into: p.baseAddress!)
        }
        return out
    }

    /// IEEE binary16 -> binary32, exact (subnormals, infinities and NaN included).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // ±0 or subnormal: mantissa · 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }

    // MARK: - Header

    private struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let data_offsets: [Int]
    }

    private enum HeaderValue: Decodable {
        case tensor(Entry)
        case metadata([String: String])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let e = try? c.decode(Entry.self) {
                self = .tensor(e)
            } else {
                self = .metadata(try c.decode([String: String].self))
            }
        }
    }

    private static func parseHeader(
        base: UnsafeRawPointer, size: Int, path: String
    ) throws(SafetensorsError) -> ([String: String], [String: TensorInfo]) {
        func corrupt(_ why: String) -> SafetensorsError {
            SafetensorsError(.corrupt, "\(path) is not a valid safetensors file: \(why). Run scripts/setup to fetch it again.")
        }
        let n64 = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(maxHeaderBytes) else { throw corrupt("the header claims \(n64) bytes") }
        let n = Int(n64)
        guard n >= 2, n <= size - 8 else {
            throw corrupt("the header claims \(n) bytes but \(size - 8) follow the length (truncated?)")
        }
        let dataStart = 8 + n
        let dataSize = size - dataStart
        let header: [String: HeaderValue]
        do {
            header = try JSONDecoder().decode(
                [String: HeaderValue].self, from: Data(bytes: base + 8, count: n))
        } catch {
            throw corrupt("the header is not a JSON object of tensor entries")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: TensorInfo] = [:]
        var spans: [(begin: Int, end: Int, name: String)] = []
        for (name, value) in header {
            switch value {
            case .metadata(let m):
                guard name == "__metadata__" else { throw corrupt("entry \(name) is not a tensor") }
                metadata = m
            case .tensor(let e):
                guard name != "__metadata__" else { throw corrupt("__metadata__ is not a string map") }
                guard let dtype = DType(rawValue: e.dtype) else { throw corrupt("tensor \(name) has unknown dtype \(e.dtype)") }
                guard e.shape.count <= 8, e.shape.allSatisfy({ $0 >= 0 }) else {
                    throw corrupt("tensor \(name) has shape \(e.shape)")
                }
                var count = 1
                for d in e.shape {
                    let (p, o) = count.multipliedReportingOverflow(by: d)
                    guard !o else { throw corrupt("tensor \(name)'s shape \(e.shape) overflows") }
                    count = p
                }
                let (bytes, o) = count.multipliedReportingOverflow(by: dtype.byteSize)
                guard !o, e.data_offsets.count == 2 else { throw corrupt("tensor \(name) has bad data_offsets") }
                let begin = e.data_offsets[0], end = e.data_offsets[1]
                guard begin >= 0, begin <= end, end <= dataSize else {
                    throw corrupt("tensor \(name) spans bytes \(begin)..<\(end) of a \(dataSize)-byte data section")
                }
                guard end - begin == bytes else {
                    throw corrupt("tensor \(name) holds \(end - begin) bytes but shape \(e.shape) of \(dtype.rawValue) needs \(bytes)")
                }
                tensors[name] = TensorInfo(name: name, dtype: dtype, shape: e.shape, offset: dataStart + begin, byteCount: bytes)
                spans.append((begin, end, name))
            }
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for i in spans.indices.dropFirst() where spans[i].begin < spans[i - 1].end {
            throw corrupt("tensors \(spans[i - 1].name) and \(spans[i].name) overlap")
        }
        return (metadata, tensors)
    }
}
