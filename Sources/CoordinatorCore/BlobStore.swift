public import Federation
public import Foundation
import Seal

/// Content-addressed blobs: bases and shared-adapter versions. Being content-addressed and signed
/// in the manifest, they can be served by any static server. A protocol, like `CoordinatorStore`,
/// so that a deployment on PostgreSQL can keep its blobs elsewhere; `FileBlobStore` is the default.
public protocol BlobStore: Sendable {
    /// Stores `bytes` under their SHA-256 (a no-op when that blob exists).
    func write(_ bytes: Data) throws -> BlobRef
    /// Copies a (possibly large) file into the store.
    func importFile(at source: String) throws -> BlobRef
    /// A blob of little-endian Float32 (an adapter version), checked against its hash and size.
    func readFloats(_ ref: BlobRef) throws -> [Float]
    /// A local file holding the blob's bytes, which the server streams (and serves ranges of).
    func path(_ sha256: String) -> String
}

/// How blobs are named and how vectors are laid out in them, whatever stores them.
public enum BlobFormat {
    public static func isValidName(_ sha256: String) -> Bool {
        sha256.utf8.count == 64 && sha256.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The shared adapter's B as a blob: little-endian Float32, no header.
    public static func encode(_ vector: [Float]) -> Data {
        #if _endian(little)
        return vector.withUnsafeBytes { Data($0) }
        #else
        var data = Data(count: vector.count * 4)
        data.withUnsafeMutableBytes { out in
            for (i, x) in vector.enumerated() { out.storeBytes(of: x.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        }
        return data
        #endif
    }

    public static func decodeFloats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}

/// Blobs as files: `<directory>/<sha256 hex>`, written to a temporary file, fsynced and renamed,
/// so a reader sees a whole blob or none.
public struct FileBlobStore: BlobStore {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CoordinatorError(.storage, "Cannot create the blob directory \(directory).", remedy: "Check the permissions of the coordinator directory.", cause: error)
        }
    }

    public func path(_ sha256: String) -> String { directory + "/" + sha256 }

    /// Writes `bytes` under their SHA-256.
    public func write(_ bytes: Data) throws -> BlobRef {
        let sha = SHA256.hex(bytes)
        let ref = BlobRef(sha256: sha, size: Int64(bytes.count))
        if FileManager.default.fileExists(atPath: path(sha)) { return ref }
        do { try AtomicFile.write(bytes, to: path(sha), permissions: 0o644) } catch {
            throw CoordinatorError(.storage, "Cannot write blob \(sha): \(error).", remedy: "Check free disk space in \(directory).", cause: error)
        }
        return ref
    }

    /// Copies a (possibly large) file in 1 MiB chunks, hashing as it goes, then renames the copy to its hash.
    public func importFile(at source: String) throws -> BlobRef {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw CoordinatorError(.baseFile, "Cannot open \(source).", remedy: "Give the path of a readable file.")
        }
        defer { try? input.close() }
        let temporary = directory + "/.import-" + UUID().uuidString
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o644]),
              let output = FileHandle(forWritingAtPath: temporary) else {
            throw CoordinatorError(.storage, "Cannot create a temporary file in \(directory).", remedy: "Check the directory's permissions and free space.")
        }
        var done = false
        defer { if !done { try? FileManager.default.removeItem(atPath: temporary) } }
        var hash = SHA256()
        var size: Int64 = 0
        do {
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                hash.update(chunk)
                try output.write(contentsOf: chunk)
                size += Int64(chunk.count)
            }
            try output.synchronize()
            try output.close()
        } catch {
            throw CoordinatorError(.storage, "Copying \(source) into the blob store failed: \(error).", remedy: "Check free disk space.", cause: error)
        }
        let sha = Hex.encode(hash.finish())
        if FileManager.default.fileExists(atPath: path(sha)) { return BlobRef(sha256: sha, size: size) }
        do { try FileManager.default.moveItem(atPath: temporary, toPath: path(sha)) } catch {
            throw CoordinatorError(.storage, "Cannot move the copied file into place as \(sha).", remedy: "Check the directory's permissions.", cause: error)
        }
        done = true
        return BlobRef(sha256: sha, size: size)
    }

    public func readFloats(_ ref: BlobRef) throws -> [Float] {
        guard let data = FileManager.default.contents(atPath: path(ref.sha256)), data.count == ref.size, SHA256.hex(data) == ref.sha256 else {
            throw CoordinatorError(.storage, "The blob \(ref.sha256) is missing or does not match its hash.",
                                   remedy: "Restore the coordinator directory's blobs/ folder from a backup.")
        }
        return BlobFormat.decodeFloats(data)
    }
}
