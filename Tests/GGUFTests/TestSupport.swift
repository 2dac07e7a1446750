import Foundation
import GGUF

/// A temporary directory removed when the value dies; each test gets its own.
final class Scratch {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ bytes: [UInt8], name: String = "model.gguf") throws -> String {
        let path = url.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Opens `bytes` as a file and returns the error it gives (nil if it opened).
    func openError(_ bytes: [UInt8]) throws -> GGUFError? {
        let path = try write(bytes, name: "\(UUID().uuidString).gguf")
        do {
            _ = try GGUFFile(path: path)
            return nil
        } catch {
            return error
        }
    }
}

/// Builds GGUF bytes field by field, so tests can write what the writer would refuse to.
struct RawGGUF {
    var bytes: [UInt8] = []

    static func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> RawGGUF {
        var raw = RawGGUF()
        raw.bytes += Array("GGUF".utf8)
        raw.u32(version)
        raw.u64(tensors)
        raw.u64(kvs)
        return raw
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { rawString(Array(s.utf8)) }
    mutating func rawString(_ b: [UInt8]) {
        u64(UInt64(b.count))
        bytes += b
    }

    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    mutating func pad(to alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func zeros(_ n: Int) { bytes += [UInt8](repeating: 0, count: n) }
}
