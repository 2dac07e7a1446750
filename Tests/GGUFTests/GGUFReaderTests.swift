import Foundation
import Testing
import GGUF
import QuantFormat

@Suite struct GGUFRoundTripTests {
    static let metadata: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("t.u8", .uint8(200)), ("t.i8", .int8(-100)), ("t.u16", .uint16(60000)), ("t.i16", .int16(-30000)),
        ("t.u32", .uint32(4_000_000_000)), ("t.i32", .int32(-2_000_000_000)), ("t.f32", .float32(1.5)),
        ("t.bool", .bool(true)), ("t.false", .bool(false)), ("t.string", .string("héllo ✓ \u{0}")),
        ("t.empty", .string("")), ("t.u64", .uint64(.max)), ("t.i64", .int64(.min)), ("t.f64", .float64(-0.1)),
        ("t.strings", .array([.string("a"), .string("Ġthe"), .string("<|im_end|>"), .string("")])),
        ("t.ints", .array([.int32(1), .int32(-2), .int32(3)])),
        ("t.floats", .array([.float32(0.5), .float32(-1e-5)])),
        ("t.nested", .array([.array([.uint8(1), .uint8(2)]), .array([]), .array([.uint8(3)])])),
        ("t.nestedStrings", .array([.array([.string("x")]), .array([.string("y"), .string("z")])])),
        ("t.emptyArray", .array([])),
    ]

    @Test func everyMetadataTypeSurvives() throws {
        let scratch = try Scratch()
        var writer = GGUFWriter()
        for (key, value) in Self.metadata { writer.set(key, value) }
        let path = scratch.url.appendingPathComponent("meta.gguf").path
        try writer.write(to: path)
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.tensors.isEmpty)
        #expect(file.keys == Self.metadata.map(\.0))
        for (key, value) in Self.metadata {
            #expect(file.metadata[key] == value, "\(key)")
        }
        #expect(try file.string("general.architecture") == "llama")
        #expect(try file.int("t.u8") == 200 && file.int("t.i64") == Int(Int64.min) && file.int("t.u32") == 4_000_000_000)
        #expect(try file.float("t.f64") == Float(-0.1) && file.float("t.i16") == -30000)
        #expect(try file.bool("t.bool") && !(file.bool("t.false")))
        #expect(try file.strings("t.strings") == ["a", "Ġthe", "<|im_end|>", ""])
        #expect(try file.ints("t.ints") == [1, -2, 3])
        #expect(try file.floats("t.floats") == [0.5, -1e-5])
        #expect(file.optionalInt("nope") == nil && file.optionalInt("t.u16") == 60000)
    }

    @Test func accessorsNameTheKey() throws {
        let scratch = try Scratch()
        var writer = GGUFWriter()
        for (key, value) in Self.metadata { writer.set(key, value) }
        let file = try GGUFFile(path: scratch.write(writer.encoded()))
        let missing = #expect(throws: GGUFError.self) { try file.int("llama.block_count") }
        #expect(missing?.code == .missingKey && missing?.message.contains("llama.block_count") == true)
        let wrong = #expect(throws: GGUFError.self) { try file.int("t.string") }
        #expect(wrong?.code == .wrongType && wrong?.message.contains("'t.string' is string") == true)
        #expect(throws: GGUFError.self) { try file.int("t.u64") }  // UInt64.max does not fit an Int
        #expect(throws: GGUFError.self) { try file.strings("t.ints") }
        #expect(throws: GGUFError.self) { try file.bool("t.u8") }
        #expect(throws: GGUFError.self) { try file.float("t.string") }
    }

    @Test func tensorsSurviveWithTheirData() throws {
        let scratch = try Scratch()
        var writer = GGUFWriter(alignment: 64)
        writer.set("general.architecture", "llama")
        let norm: [Float] = (0..<32).map { Float($0) / 4 }
        let weights = (0..<(64 * 3)).map { Float(sin(Double($0))) }
        try writer.addTensor(name: "norm", dimensions: [32], type: .f32, floats: norm)
        try writer.addTensor(name: "w.q8", dimensions: [64, 3], type: .q8_0, floats: weights)
        try writer.addTensor(name: "w.q41", dimensions: [64, 3], type: .q4_1, floats: weights)
        try writer.addTensor(name: "w.f16", dimensions: [64, 3], type: .f16, floats: weights)
        let raw: [UInt8] = Array(0..<20)
        try writer.addTensor(name: "raw", dimensions: [32, 1, 1, 1], type: .q4_1, bytes: raw)
        let path = scratch.url.appendingPathComponent("t.gguf").path
        try writer.write(to: path)

        let file = try GGUFFile(path: path)
        #expect(file.alignment == 64 && file.metadata["general.alignment"] == .uint32(64))
        #expect(file.dataOffset % 64 == 0)
        #expect(file.tensors.map(\.name) == ["norm", "w.q8", "w.q41", "w.f16", "raw"])
        let q41 = try #require(file.tensor(named: "w.q41"))
        #expect(q41.dimensions == [64, 3] && q41.type == .q4_1 && q41.byteCount == 6 * 20 && q41.elementCount == 192)
        #expect(q41.rowLength == 64 && q41.rowCount == 3)
        for t in file.tensors { #expect(t.offset % 64 == 0, "\(t.name)") }
        #expect(Array(file.data(for: file.tensor(named: "raw")!)) == raw)
        #expect(try file.floats(for: file.tensor(named: "norm")!) == norm)
        #expect(Array(file.data(for: q41)) == (try Quantize.run(.q4_1, weights)))
        let q8 = try file.floats(for: file.tensor(named: "w.q8")!)
        let f16 = try file.floats(for: file.tensor(named: "w.f16")!)
        for i in weights.indices {
            #expect(abs(q8[i] - weights[i]) < 0.01 && abs(f16[i] - weights[i]) < 0.001)
        }
        #expect(file.tensor(named: "absent") == nil)
    }

    @Test func writerRefusesBadInput() throws {
        var writer = GGUFWriter()
        try writer.addTensor(name: "a", dimensions: [32], type: .f32, floats: [Float](repeating: 0, count: 32))
        #expect(throws: GGUFError.self) { try writer.addTensor(name: "a", dimensions: [32], type: .f32, floats: [Float](repeating: 0, count: 32)) }
        #expect(throws: GGUFError.self) { try writer.addTensor(name: "b", dimensions: [16], type: .q8_0, bytes: [UInt8](repeating: 0, count: 17)) }
        #expect(throws: GGUFError.self) { try writer.addTensor(name: "c", dimensions: [32], type: .q8_0, bytes: [UInt8](repeating: 0, count: 33)) }
        #expect(throws: GGUFError.self) { try writer.addTensor(name: "d", dimensions: [1, 1, 1, 1, 1], type: .f32, bytes: [0, 0, 0, 0]) }
        writer.set("mixed", .array([.uint8(1), .int8(1)]))
        #expect(throws: GGUFError.self) { try writer.encoded() }
    }
}

@Suite struct GGUFCorruptFileTests {
    /// A small valid file: two keys (one an array of strings) and two tensors.
    static func smallFile() throws -> [UInt8] {
        var writer = GGUFWriter()
        writer.set("general.architecture", "llama")
        writer.set("tokenizer.ggml.tokens", ["<s>", "a", "b"])
        try writer.addTensor(name: "x", dimensions: [32], type: .q8_0, floats: (0..<32).map { Float($0) })
        try writer.addTensor(name: "y", dimensions: [4, 2], type: .f32, floats: [1, 2, 3, 4, 5, 6, 7, 8])
        return try writer.encoded()
    }

    @Test func smallFileOpens() throws {
        let scratch = try Scratch()
        let file = try GGUFFile(path: scratch.write(Self.smallFile()))
        #expect(file.tensors.count == 2 && file.metadata.count == 2)
        #expect(try file.floats(for: file.tensor(named: "y")!) == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func everyTruncationIsAnError() throws {
        let scratch = try Scratch()
        let full = try Self.smallFile()
        for length in 0..<full.count {
            let error = try scratch.openError(Array(full[..<length]))
            #expect(error != nil, "truncated to \(length) of \(full.count) bytes")
        }
    }

    @Test func wrongMagicAndVersion() throws {
        let scratch = try Scratch()
        var bytes = try Self.smallFile()
        bytes[0] = UInt8(ascii: "X")
        #expect(try scratch.openError(bytes)?.code == .notGGUF)
        for version: UInt32 in [1, 4] {
            let raw = RawGGUF.header(version: version, tensors: 0, kvs: 0)
            let error = try scratch.openError(raw.bytes)
            #expect(error?.code == .unsupportedVersion && error?.message.contains("\(version)") == true)
        }
        #expect(try scratch.openError(RawGGUF.header(version: 2, tensors: 0, kvs: 0).bytes) == nil)
        #expect(try scratch.openError([])?.code == .truncated)
    }

    /// A file with one f32 tensor of 8 elements (32 bytes) described by `info`, and 64 data bytes.
    static func oneTensor(dims: [UInt64] = [8], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 64) -> [UInt8] {
        var raw = RawGGUF.header(tensors: 1, kvs: 0)
        raw.tensorInfo("blk.0.w", dims: dims, type: type, offset: offset)
        raw.pad()
        raw.zeros(dataBytes)
        return raw.bytes
    }

    @Test func tensorPlacement() throws {
        let scratch = try Scratch()
        #expect(try scratch.openError(Self.oneTensor()) == nil)
        #expect(try scratch.openError(Self.oneTensor(offset: 32)) == nil)  // exactly fits
        let out = try scratch.openError(Self.oneTensor(offset: 64))
        #expect(out?.code == .outOfBounds && out?.message.contains("blk.0.w") == true)
        #expect(try scratch.openError(Self.oneTensor(offset: UInt64.max - 31))?.code == .outOfBounds)
        #expect(try scratch.openError(Self.oneTensor(offset: 4))?.code == .misaligned)
        let dims5 = try scratch.openError(Self.oneTensor(dims: [1, 1, 1, 1, 8]))
        #expect(dims5?.code == .badShape && dims5?.message.contains("5 dimensions") == true)
        let unknown = try scratch.openError(Self.oneTensor(type: 99))
        #expect(unknown?.code == .unsupportedQuant && unknown?.message.contains("blk.0.w") == true)
        #expect(try scratch.openError(Self.oneTensor(type: 4))?.code == .unsupportedQuant)  // removed Q4_2
        #expect(try scratch.openError(Self.oneTensor(dims: [16], type: 8))?.code == .badShape)  // half a Q8_0 block
        #expect(try scratch.openError(Self.oneTensor(dims: [1 << 40, 1 << 40]))?.code == .tooLarge)
        #expect(try scratch.openError(Self.oneTensor(dims: [UInt64.max]))?.code == .tooLarge)
        #expect(try scratch.openError(Self.oneTensor(dims: [1 << 40]))?.code == .outOfBounds)
    }

    @Test func overlappingTensors() throws {
        let scratch = try Scratch()
        var raw = RawGGUF.header(tensors: 2, kvs: 0)
        raw.tensorInfo("a", dims: [16], type: 0, offset: 0)   // bytes 0..<64
        raw.tensorInfo("b", dims: [8], type: 0, offset: 32)   // bytes 32..<64
        raw.pad()
        raw.zeros(64)
        let error = try scratch.openError(raw.bytes)
        #expect(error?.code == .overlapping && error?.message.contains("'a' and 'b'") == true)

        var dup = RawGGUF.header(tensors: 2, kvs: 0)
        dup.tensorInfo("a", dims: [8], type: 0, offset: 0)
        dup.tensorInfo("a", dims: [8], type: 0, offset: 32)
        dup.pad()
        dup.zeros(64)
        #expect(try scratch.openError(dup.bytes)?.code == .duplicate)
    }

    @Test func badMetadata() throws {
        let scratch = try Scratch()
        func kv(_ build: (inout RawGGUF) -> Void) throws -> GGUFError? {
            var raw = RawGGUF.header(tensors: 0, kvs: 1)
            build(&raw)
            return try scratch.openError(raw.bytes)
        }
        // A string length past the end of the file.
        let past = try kv { $0.u64(1000); $0.bytes += Array("abc".utf8); $0.zeros(20) }
        #expect(past?.code == .truncated && past?.message.contains("length 1000") == true)
        let pastValue = try kv { $0.string("k"); $0.u32(8); $0.u64(UInt64.max) }
        #expect(pastValue?.code == .truncated)
        // A huge array count is refused before anything is allocated.
        let huge = try kv { $0.string("k"); $0.u32(9); $0.u32(4); $0.u64(1 << 60) }
        #expect(huge?.code == .tooLarge && huge?.message.contains("'k'") == true)
        let hugeStrings = try kv { $0.string("k"); $0.u32(9); $0.u32(8); $0.u64(100) }
        #expect(hugeStrings?.code == .tooLarge)
        #expect(try kv { $0.string("k"); $0.u32(13); $0.u8(0) }?.code == .badType)
        #expect(try kv { $0.string("k"); $0.u32(9); $0.u32(77); $0.u64(0) }?.code == .badType)
        #expect(try kv { $0.rawString([0x66, 0xff, 0xfe]); $0.u32(0); $0.u8(1) }?.code == .badString)
        #expect(try kv { $0.string("k"); $0.u32(8); $0.rawString([0xc3]) }?.code == .badString)
        #expect(try kv { $0.string("k"); $0.u32(7); $0.u8(2) }?.code == .badValue)
        #expect(try kv { $0.string("general.alignment"); $0.u32(4); $0.u32(48) }?.code == .badValue)
        #expect(try kv { $0.string("general.alignment"); $0.u32(5); $0.u32(64) }?.code == .wrongType)
        // Arrays nested 100 deep.
        let deep = try kv { raw in
            raw.string("k")
            raw.u32(9)
            for _ in 0..<100 { raw.u32(9); raw.u64(1) }
            raw.u32(0); raw.u64(0)
        }
        #expect(deep?.code == .tooLarge)

        var counts = RawGGUF.header(tensors: 1 << 50, kvs: 0)
        counts.zeros(64)
        #expect(try scratch.openError(counts.bytes)?.code == .tooLarge)
        var kvs = RawGGUF.header(tensors: 0, kvs: .max)
        kvs.zeros(64)
        #expect(try scratch.openError(kvs.bytes)?.code == .tooLarge)

        var twice = RawGGUF.header(tensors: 0, kvs: 2)
        for _ in 0..<2 { twice.string("k"); twice.u32(0); twice.u8(1) }
        #expect(try scratch.openError(twice.bytes)?.code == .duplicate)
    }

    @Test func missingFileIsAnIOError() {
        let error = #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/dir/model.gguf") }
        #expect(error?.code == .io && error?.path == "/nonexistent/dir/model.gguf")
    }

    /// Flipping bytes anywhere in the header region never crashes the reader.
    @Test func corruptedBytesNeverCrash() throws {
        let scratch = try Scratch()
        let full = try Self.smallFile()
        var state: UInt64 = 42
        for _ in 0..<300 {
            var bytes = full
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let position = Int(state >> 33) % 200
                bytes[position] = UInt8(truncatingIfNeeded: state >> 17)
            }
            _ = try scratch.openError(bytes)
        }
    }
}
