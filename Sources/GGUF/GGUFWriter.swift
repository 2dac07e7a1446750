// Builds GGUF v3 files (the layout is listed in GGUFFile.swift): for tests and tools that need a
// small model, and for anything that exports tensors llama.cpp can read.

import Diagnostics
import Foundation
public import QuantFormat

public struct GGUFWriter: Sendable {
    struct PendingTensor: Sendable {
        var name: String
        var dimensions: [Int]
        var type: QuantType
        var bytes: [UInt8]
    }

    /// A power of two. Written as `general.alignment` when it is not the default 32.
    public var alignment: Int
    /// In the order they will be written.
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [PendingTensor] = []

    public init(alignment: Int = 32) {
        self.alignment = alignment
    }

    /// Sets a metadata value; a key set again keeps its first position.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else {
            metadata.append((key, value))
        }
    }

    public mutating func set(_ key: String, _ value: String) { set(key, .string(value)) }
    public mutating func set(_ key: String, _ value: UInt32) { set(key, .uint32(value)) }
    public mutating func set(_ key: String, _ value: Float) { set(key, .float32(value)) }
    public mutating func set(_ key: String, _ value: Bool) { set(key, .bool(value)) }
    public mutating func set(_ key: String, _ values: [String]) { set(key, .array(values.map { .string($0) })) }

    /// Adds a tensor whose data is already encoded in `type`'s blocks.
    /// `dimensions` are in ggml order (row length first).
    public mutating func addTensor(name: String, dimensions: [Int], type: QuantType, bytes: [UInt8]) throws(GGUFError) {
        guard !tensors.contains(where: { $0.name == name }) else {
            throw GGUFError(.duplicate, "tensor '\(name)' added twice")
        }
        guard dimensions.count <= Parser.maxDimensions, dimensions.allSatisfy({ $0 >= 0 }) else {
            throw GGUFError(.badShape, "tensor '\(name)' has dimensions \(dimensions); at most 4, none negative")
        }
        guard (dimensions.first ?? 1) % type.blockSize == 0 else {
            throw GGUFError(.badShape, "tensor '\(name)': row length \(dimensions[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        var elements = 1
        for d in dimensions {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw GGUFError(.tooLarge, "tensor '\(name)' has too many elements") }
            elements = p
        }
        let expected: Int
        do {
            expected = try type.byteCount(elements: elements)
        } catch {
            throw GGUFError(.tooLarge, "tensor '\(name)': \(error.message)")
        }
        guard bytes.count == expected else {
            throw GGUFError(.badShape, "tensor '\(name)': \(elements) \(type.name) elements take \(expected) bytes, got \(bytes.count)")
        }
        tensors.append(PendingTensor(name: name, dimensions: dimensions, type: type, bytes: bytes))
    }

    /// Adds a tensor from f32 values in ggml order, encoded as `type` (f32, f16, bf16, q8_0, q4_0
    /// or q4_1) with ggml's reference rounding.
    public mutating func addTensor(name: String, dimensions: [Int], type: QuantType, floats: [Float]) throws(GGUFError) {
        let bytes: [UInt8]
        do {
            bytes = try Quantize.run(type, floats)
        } catch {
            throw GGUFError(.unsupportedQuant, "tensor '\(name)': \(error.message)")
        }
        try addTensor(name: name, dimensions: dimensions, type: type, bytes: bytes)
    }

    /// The whole file.
    public func encoded() throws(GGUFError) -> [UInt8] {
        guard alignment > 0, alignment <= Int(UInt32.max), alignment & (alignment - 1) == 0 else {
            throw GGUFError(.badValue, "alignment \(alignment) is not a power of two")
        }
        var entries = metadata
        if let given = entries.first(where: { $0.key == "general.alignment" }) {
            guard given.value == .uint32(UInt32(alignment)) else {
                throw GGUFError(.badValue, "'general.alignment' is set to something other than the writer's alignment \(alignment)")
            }
        } else if alignment != Parser.defaultAlignment {
            entries.append(("general.alignment", .uint32(UInt32(alignment))))
        }

        var out: [UInt8] = []
        out.reserveCapacity(tensors.reduce(4096) { $0 + $1.bytes.count + alignment })
        out.append(contentsOf: Array("GGUF".utf8))
        append(UInt32(3), to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(entries.count), to: &out)
        for (key, value) in entries {
            append(key, to: &out)
            append(value.kind.rawValue, to: &out)
            try append(value, key: key, to: &out)
        }
        var offsets: [Int] = []
        var next = 0
        for t in tensors {
            offsets.append(next)
            next = padded(next + t.bytes.count)
        }
        for (t, offset) in zip(tensors, offsets) {
            append(t.name, to: &out)
            append(UInt32(t.dimensions.count), to: &out)
            for d in t.dimensions { append(UInt64(d), to: &out) }
            append(t.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
        }
        out.append(contentsOf: repeatElement(0, count: padded(out.count) - out.count))
        let dataStart = out.count
        for (t, offset) in zip(tensors, offsets) {
            out.append(contentsOf: repeatElement(0, count: dataStart + offset - out.count))
            out.append(contentsOf: t.bytes)
        }
        return out
    }

    /// Writes the file atomically: readers see the old file or the whole new one.
    public func write(to path: String) throws(GGUFError) {
        let bytes = try encoded()
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw GGUFError(.io, "cannot write: \(error.localizedDescription)", path: path)
        }
    }

    // MARK: - Encoding

    private func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private func append(_ s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: s.utf8)
    }

    private func append(_ value: GGUFValue, key: String, to out: inout [UInt8]) throws(GGUFError) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .bool(let v): append(UInt8(v ? 1 : 0), to: &out)
        case .string(let s): append(s, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .array(let elements):
            // An empty array has no element type to infer; uint8 is as good as any.
            let kind = elements.first?.kind ?? .uint8
            guard elements.allSatisfy({ $0.kind == kind }) else {
                throw GGUFError(.badType, "array '\(key)' mixes element types")
            }
            append(kind.rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            // Elements carry no type of their own; a nested array writes its own element type and count.
            for element in elements { try append(element, key: key, to: &out) }
        }
    }
}
