// A bounds-checked GGUF reader. The file is untrusted input: every count, length, offset and size
// below is checked against the bytes that remain, with overflow-checked arithmetic, before it is
// used or anything is allocated for it. Bad files throw `GGUFError`; nothing traps.
//
// The format (GGUF v2 and v3; all integers little-endian):
//  1. magic: the 4 bytes "GGUF".
//  2. version: u32, 2 or 3 (v1 used u32 counts and is not read).
//  3. tensor count: u64.
//  4. metadata key/value count: u64.
//  5. key/value pairs, each:
//     a. key: a string = u64 byte length + that many UTF-8 bytes (no terminator);
//     b. value type: u32 (0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
//        9 array, 10 u64, 11 i64, 12 f64);
//     c. value: the fixed-size number (bool is one byte, 0 or 1), or a string as in 5a, or an
//        array = u32 element type + u64 element count + the elements, each as in 5c.
//  6. tensor infos, each:
//     a. name: a string as in 5a;
//     b. n_dims: u32, at most 4;
//     c. dimensions: n_dims × u64, fastest-varying first (dims[0] is the row length);
//     d. type: u32 ggml type id (`QuantType`);
//     e. offset: u64, from the start of the data section, a multiple of the alignment.
//  7. padding with zeros to a multiple of the alignment (`general.alignment`, a u32 power of two;
//     32 when absent).
//  8. the data section: each tensor's blocks at its offset, `type.byteCount(elements:)` bytes,
//     within the file and overlapping no other tensor.

import Diagnostics

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import QuantFormat

/// One tensor of a GGUF file: where its data is and how to read it.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: `dimensions[0]` varies fastest (the row length).
    public let dimensions: [Int]
    public let type: QuantType
    /// Bytes from the start of the data section (`GGUFFile.dataOffset`).
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Elements per row (`dimensions[0]`); 1 for a scalar.
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Rows: the product of all dimensions but the first.
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
}

/// A GGUF model file, memory-mapped read-only for the life of this object.
public final class GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let keys: [String]
    /// In file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Where the data section starts, from the start of the file.
    public let dataOffset: Int
    public let fileSize: Int

    private let tensorIndex: [String: Int]
    // The mapping is read-only and lives until deinit, so sharing it across threads is safe.
    private nonisolated(unsafe) let base: UnsafeRawPointer

    public init(path: String) throws(GGUFError) {
        self.path = path
        let (base, size) = try Self.map(path: path)
        do throws(GGUFError) {
            var parser = Parser(base: base, size: size)
            let parsed = try parser.parse()
            version = parsed.version
            metadata = parsed.metadata
            keys = parsed.keys
            tensors = parsed.tensors
            alignment = parsed.alignment
            dataOffset = parsed.dataOffset
            tensorIndex = parsed.tensorIndex
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
            throw error.at(path: path)
        }
        self.base = base
        self.fileSize = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), fileSize)
    }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes inside the mapping; valid while this object lives.
    /// `info` must come from this file (its bounds were checked when the file was opened).
    public func data(for info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + info.offset
        precondition(
            info.offset >= 0 && info.byteCount >= 0 && start <= fileSize && info.byteCount <= fileSize - start,
            "GGUFTensorInfo \(info.name) is not from \(path)")
        return UnsafeRawBufferPointer(start: base + start, count: info.byteCount)
    }

    /// The tensor dequantized to f32, in ggml element order.
    public func floats(for info: GGUFTensorInfo) throws(GGUFError) -> [Float] {
        do {
            return try Dequantize.run(info.type, bytes: data(for: info), count: info.elementCount)
        } catch {
            throw GGUFError(.unsupportedQuant, "tensor '\(info.name)': \(error.message)", path: path)
        }
    }

    /// The whole file's bytes; valid while this object lives.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: fileSize) }

    private static func map(path: String) throws(GGUFError) -> (UnsafeRawPointer, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw GGUFError(.io, "cannot open: \(String(cString: strerror(errno)))", path: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw GGUFError(.io, "cannot stat: \(String(cString: strerror(errno)))", path: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(.io, "not a regular file", path: path)
        }
        guard let size = Int(exactly: info.st_size), size >= Parser.headerSize else {
            throw GGUFError(.truncated, "file has \(info.st_size) bytes, fewer than a GGUF header", path: path)
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw GGUFError(.io, "cannot map \(size) bytes: \(String(cString: strerror(errno)))", path: path)
        }
        return (UnsafeRawPointer(address), size)
    }
}

/// Parses a GGUF image in memory (a mapped file, or bytes in tests) into metadata and tensor infos.
struct Parser {
    static let headerSize = 4 + 4 + 8 + 8
    /// Deeper nesting of arrays is refused, so a crafted file cannot exhaust the stack.
    static let maxArrayDepth = 8
    static let maxDimensions = 4
    static let defaultAlignment = 32

    struct Result {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensorInfo]
        var tensorIndex: [String: Int]
        var alignment: Int
        var dataOffset: Int
    }

    let base: UnsafeRawPointer
    let size: Int
    var offset = 0

    init(base: UnsafeRawPointer, size: Int) {
        self.base = base
        self.size = size
    }

    var remaining: Int { size - offset }

    mutating func parse() throws(GGUFError) -> Result {
        guard size >= 4, base.loadUnaligned(as: UInt32.self) == 0x4655_4747 else {  // "GGUF"
            throw GGUFError(.notGGUF, "the file does not start with the GGUF magic")
        }
        offset = 4
        let version = try u32("version")
        guard version == 2 || version == 3 else {
            throw GGUFError(.unsupportedVersion, "version \(version); only 2 and 3 are read")
        }
        let tensorCount = try count("tensor count", minimumEach: 8 + 4 + 4 + 8)
        let kvCount = try count("metadata count", minimumEach: 8 + 4 + 1)

        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(kvCount)
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        for index in 0..<kvCount {
            let keyOffset = offset
            let key = try string("key of metadata entry \(index)")
            let kindOffset = offset
            let raw = try u32("value type of '\(key)'")
            guard let kind = GGUFValueKind(rawValue: raw) else {
                throw GGUFError(.badType, "unknown value type \(raw) of '\(key)' at offset \(kindOffset)")
            }
            let value = try value(kind, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw GGUFError(.duplicate, "key '\(key)' appears twice (again at offset \(keyOffset))")
            }
            keys.append(key)
        }

        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value else {
                throw GGUFError(.wrongType, "'general.alignment' is \(value.typeName), not uint32")
            }
            guard a != 0, a & (a - 1) == 0 else {
                throw GGUFError(.badValue, "'general.alignment' is \(a), not a power of two")
            }
            alignment = Int(a)
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var tensorIndex: [String: Int] = [:]
        tensorIndex.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let info = try tensorInfo(index, alignment: alignment)
            guard tensorIndex.updateValue(index, forKey: info.name) == nil else {
                throw GGUFError(.duplicate, "tensor '\(info.name)' appears twice")
            }
            tensors.append(info)
        }

        let dataOffset = try aligned(offset, alignment, "data section")
        try checkPlacement(tensors, dataOffset: dataOffset)
        return Result(
            version: version, metadata: metadata, keys: keys, tensors: tensors, tensorIndex: tensorIndex,
            alignment: alignment, dataOffset: dataOffset)
    }

    // MARK: - Tensor infos

    private mutating func tensorInfo(_ index: Int, alignment: Int) throws(GGUFError) -> GGUFTensorInfo {
        let name = try string("name of tensor \(index)")
        let nDims = try u32("n_dims of tensor '\(name)'")
        guard nDims <= Self.maxDimensions else {
            throw GGUFError(.badShape, "tensor '\(name)' has \(nDims) dimensions; at most \(Self.maxDimensions) are allowed")
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(Int(nDims))
        var elements = 1
        for axis in 0..<Int(nDims) {
            let raw = try u64("dimension \(axis) of tensor '\(name)'")
            guard let dim = Int(exactly: raw), dim >= 0 else {
                throw GGUFError(.tooLarge, "dimension \(axis) of tensor '\(name)' is \(raw)")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw GGUFError(.tooLarge, "tensor '\(name)' has more elements than an Int can count")
            }
            elements = product
            dimensions.append(dim)
        }
        let typeOffset = offset
        let rawType = try u32("type of tensor '\(name)'")
        guard let type = QuantType(rawValue: rawType) else {
            throw GGUFError(.unsupportedQuant, "tensor '\(name)' has unknown ggml type id \(rawType) at offset \(typeOffset)")
        }
        let rowLength = dimensions.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw GGUFError(.badShape, "tensor '\(name)': row length \(rowLength) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        let byteCount: Int
        do {
            byteCount = try type.byteCount(elements: elements)
        } catch {
            throw GGUFError(.tooLarge, "tensor '\(name)': \(error.message)")
        }
        let rawOffset = try u64("offset of tensor '\(name)'")
        guard let dataOffset = Int(exactly: rawOffset) else {
            throw GGUFError(.outOfBounds, "tensor '\(name)' has data offset \(rawOffset), past any file")
        }
        guard dataOffset % alignment == 0 else {
            throw GGUFError(.misaligned, "tensor '\(name)' has data offset \(dataOffset), not a multiple of the alignment \(alignment)")
        }
        return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: dataOffset, byteCount: byteCount)
    }

    /// Every tensor's data lies in the file, and no two overlap.
    private func checkPlacement(_ tensors: [GGUFTensorInfo], dataOffset: Int) throws(GGUFError) {
        guard !tensors.isEmpty else { return }
        guard dataOffset <= size else {
            throw GGUFError(.outOfBounds, "the data section would start at \(dataOffset), past the end of the \(size)-byte file")
        }
        let available = size - dataOffset
        for t in tensors where t.offset > available || t.byteCount > available - t.offset {
            throw GGUFError(.outOfBounds, "tensor '\(t.name)' needs bytes \(t.offset)..<\(t.offset + t.byteCount) of the data section, which has \(available)")
        }
        let order = tensors.indices.sorted {
            (tensors[$0].offset, tensors[$0].byteCount) < (tensors[$1].offset, tensors[$1].byteCount)
        }
        for (a, b) in zip(order, order.dropFirst()) where tensors[a].offset + tensors[a].byteCount > tensors[b].offset {
            throw GGUFError(.overlapping, "tensors '\(tensors[a].name)' and '\(tensors[b].name)' overlap at data offset \(tensors[b].offset)")
        }
    }

    private func aligned(_ value: Int, _ alignment: Int, _ what: String) throws(GGUFError) -> Int {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw GGUFError(.tooLarge, "\(what) offset overflows") }
        return sum / alignment * alignment
    }

    // MARK: - Metadata values

    private mutating func value(_ kind: GGUFValueKind, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch kind {
        case .uint8: return .uint8(try fixed(UInt8.self, key))
        case .int8: return .int8(try fixed(Int8.self, key))
        case .uint16: return .uint16(try fixed(UInt16.self, key))
        case .int16: return .int16(try fixed(Int16.self, key))
        case .uint32: return .uint32(try fixed(UInt32.self, key))
        case .int32: return .int32(try fixed(Int32.self, key))
        case .float32: return .float32(try fixed(Float.self, key))
        case .uint64: return .uint64(try fixed(UInt64.self, key))
        case .int64: return .int64(try fixed(Int64.self, key))
        case .float64: return .float64(try fixed(Double.self, key))
        case .bool:
            let at = offset
            let byte = try fixed(UInt8.self, key)
            guard byte <= 1 else {
                throw GGUFError(.badValue, "bool value of '\(key)' at offset \(at) is \(byte), not 0 or 1")
            }
            return .bool(byte == 1)
        case .string:
            return .string(try string("value of '\(key)'"))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw GGUFError(.tooLarge, "'\(key)' nests arrays deeper than \(Self.maxArrayDepth)")
            }
            let kindOffset = offset
            let raw = try u32("array type of '\(key)'")
            guard let elementKind = GGUFValueKind(rawValue: raw) else {
                throw GGUFError(.badType, "unknown array element type \(raw) of '\(key)' at offset \(kindOffset)")
            }
            let n = try count("array count of '\(key)'", minimumEach: elementKind.minimumSize)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(n)
            switch elementKind {
            case .string:
                for _ in 0..<n { elements.append(.string(try string("an element of '\(key)'"))) }
            case .int32:
                for _ in 0..<n { elements.append(.int32(try fixed(Int32.self, key))) }
            case .float32:
                for _ in 0..<n { elements.append(.float32(try fixed(Float.self, key))) }
            default:
                for _ in 0..<n { elements.append(try value(elementKind, key: key, depth: depth + 1)) }
            }
            return .array(elements)
        }
    }

    // MARK: - Primitive reads

    /// Throws `.truncated` unless `n` more bytes remain.
    @inline(__always)
    private func need(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard n <= remaining else {
            throw GGUFError(.truncated, "\(what()) at offset \(offset) needs \(n) bytes; the file ends after \(remaining)")
        }
    }

    @inline(__always)
    private mutating func fixed<T: FixedWidthInteger>(_: T.Type, _ key: String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, "a value of '\(key)'")
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    @inline(__always)
    private mutating func fixed(_: Float.Type, _ key: String) throws(GGUFError) -> Float {
        Float(bitPattern: try fixed(UInt32.self, key))
    }

    @inline(__always)
    private mutating func fixed(_: Double.Type, _ key: String) throws(GGUFError) -> Double {
        Double(bitPattern: try fixed(UInt64.self, key))
    }

    private mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try need(4, what())
        defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    private mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try need(8, what())
        defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// A u64 count of items that each take at least `minimumEach` bytes, refused when the rest of
    /// the file could not hold that many, so nothing is allocated for an absurd count.
    private mutating func count(_ what: @autoclosure () -> String, minimumEach: Int) throws(GGUFError) -> Int {
        let at = offset
        let raw = try u64(what())
        guard raw <= UInt64(remaining / minimumEach) else {
            throw GGUFError(.tooLarge, "\(what()) at offset \(at) is \(raw), more than the \(remaining) remaining bytes can hold")
        }
        return Int(raw)
    }

    private mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let at = offset
        let raw = try u64("length of \(what())")
        guard raw <= UInt64(remaining) else {
            throw GGUFError(.truncated, "\(what()) at offset \(at) has length \(raw); the file ends after \(remaining) bytes")
        }
        let length = Int(raw)
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: length).assumingMemoryBound(to: UInt8.self)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw GGUFError(.badString, "\(what()) at offset \(at) is not valid UTF-8")
        }
        offset += length
        return s
    }
}
