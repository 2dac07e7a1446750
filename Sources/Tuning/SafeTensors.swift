public import Diagnostics
import Foundation

// The safetensors format (https://github.com/huggingface/safetensors), as read here:
//  1. 8 bytes: N, the length of the header, unsigned 64-bit little-endian.
//  2. N bytes: a UTF-8 JSON object. Each key but "__metadata__" names a tensor:
//     {"dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end]}, offsets relative to the
//     start of the data section; "__metadata__" maps strings to strings. The writer pads the header
//     with spaces to a multiple of 8 bytes.
//  3. The data section: every tensor's elements, row-major, little-endian, with no gaps or overlaps
//     between tensors and nothing after the last one.
// Files are untrusted input: every length and offset is checked, and a bad file is an error.

public enum SafeTensors {
    public struct Tensor: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) {
            self.shape = shape
            self.values = values
        }
    }

    /// The largest header accepted (the format's reference reader uses 100 MB too).
    static let maxHeaderBytes = 100_000_000

    /// Encodes F32 tensors; tensors are stored in name order, so equal inputs give equal bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws(TuningError) -> [UInt8] {
        var header = "{"
        var entries: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            guard t.shape.reduce(1, *) == t.values.count, t.shape.allSatisfy({ $0 >= 0 }) else {
                throw TuningError(.badArgument, "tensor \(name) has shape \(t.shape) but \(t.values.count) values")
            }
            let end = offset + 4 * t.values.count
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out += $0 }
        out += headerBytes
        for name in names {
            for v in tensors[name]!.values {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            }
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(TuningError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        func corrupt(_ why: String) -> TuningError { TuningError(.corruptFile, "not a valid safetensors file: \(why)") }
        guard bytes.count >= 8 else { throw corrupt("it is \(bytes.count) bytes long, shorter than the 8-byte header length") }
        let n64 = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n64 <= UInt64(maxHeaderBytes) else { throw corrupt("the header claims \(n64) bytes") }
        let n = Int(n64)
        guard n >= 2, 8 + n <= bytes.count else {
            throw corrupt("the header claims \(n) bytes but the file holds \(bytes.count - 8) after the length (truncated?)")
        }
        let dataStart = 8 + n
        let dataCount = bytes.count - dataStart
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw corrupt("the header is not JSON")
        }
        guard let object = json as? [String: Any] else { throw corrupt("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        var spans: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw corrupt("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw corrupt("__metadata__ value of \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any],
                  let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any],
                  let offsetsAny = info["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw corrupt("tensor \(name) lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else {
                throw TuningError(.corruptFile, "tensor \(name) is \(dtype); adapters are read in F32 only (save them from PEFT in float32)")
            }
            let shape = try shapeAny.map { (d: Any) throws(TuningError) -> Int in
                guard let i = (d as? NSNumber)?.intValue, i >= 0, i <= 1 << 31 else { throw corrupt("tensor \(name) has a bad shape") }
                return i
            }
            let offsets = try offsetsAny.map { (d: Any) throws(TuningError) -> Int in
                guard let i = (d as? NSNumber)?.intValue, i >= 0 else { throw corrupt("tensor \(name) has bad data offsets") }
                return i
            }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataCount else { throw corrupt("tensor \(name) is larger than the file") }
                elements = p
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataCount else {
                throw corrupt("tensor \(name) lies outside the data section (truncated?)")
            }
            guard offsets[1] - offsets[0] == 4 * elements else {
                throw corrupt("tensor \(name) has shape \(shape) but \(offsets[1] - offsets[0]) bytes")
            }
            spans.append((name, shape, offsets[0], offsets[1]))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for s in spans {
            guard s.begin == expected else { throw corrupt("tensor \(s.name) overlaps another or leaves a gap") }
            expected = s.end
        }
        guard expected == dataCount else { throw corrupt("the data section has \(dataCount - expected) bytes no tensor describes") }

        var tensors: [String: Tensor] = [:]
        bytes.withUnsafeBytes { raw in
            for s in spans {
                let count = (s.end - s.begin) / 4
                let base = raw.baseAddress! + dataStart + s.begin
                let values = (0..<count).map { i in
                    Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))
                }
                tensors[s.name] = Tensor(shape: s.shape, values: values)
            }
        }
        return (tensors, metadata)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
