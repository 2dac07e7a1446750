/// The canonical byte string that is signed, hashed or bound as associated data: a domain label,
/// then fields in order, integers big endian, byte strings prefixed with their UInt32 length, so
/// no two different field lists encode to the same bytes.
struct Transcript {
    private(set) var bytes: [UInt8] = []

    init(label: String) { appendBytes(Array(label.utf8)) }

    mutating func append(_ value: UInt16) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func appendBytes(_ value: some Collection<UInt8>) {
        append(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// Wipes the bytes (they may hold a shared secret before hashing).
    mutating func wipe() {
        for i in bytes.indices { bytes[i] = 0 }
        bytes = []
    }
}

/// Domain labels. A new version of any encoding gets a new label.
enum Label {
    static let pairMaskSeed = "pllm.secagg.v1.mask-seed"
    static let pairShareKey = "pllm.secagg.v1.share-key"
    static let advertise = "pllm.secagg.v1.advertise"
    static let shareAD = "pllm.secagg.v1.share"
    /// v2: the signed survivor list binds the round's parameters and the U1 roster (v1 bound only round and ids).
    static let consistency = "pllm.secagg.v2.survivors"
    static let roster = "pllm.secagg.v2.roster"
    static let graph = "pllm.secagg.v1.graph"
}
