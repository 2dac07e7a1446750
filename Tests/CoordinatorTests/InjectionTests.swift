import CoordinatorCore
import Federation
import Foundation
import Seal
import Testing

/// The files blob store, recording every blob written through it.
final class RecordingBlobStore: BlobStore, @unchecked Sendable {
    let files: FileBlobStore
    private let lock = NSLock()
    private var written: [BlobRef] = []

    init(_ files: FileBlobStore) { self.files = files }

    var writes: [BlobRef] { lock.withLock { written } }

    func write(_ bytes: Data) throws -> BlobRef {
        let ref = try files.write(bytes)
        lock.withLock { written.append(ref) }
        return ref
    }

    func importFile(at source: String) throws -> BlobRef {
        let ref = try files.importFile(at: source)
        lock.withLock { written.append(ref) }
        return ref
    }

    func readFloats(_ ref: BlobRef) throws -> [Float] { try files.readFloats(ref) }
    func path(_ sha256: String) -> String { files.path(sha256) }
}

/// The coordinator works on the store, blob store and identity it is given.
@Suite struct InjectionTests {
    @Test func theCoordinatorUsesTheStoreAndBlobStoreItIsGiven() async throws {
        let dir = temporaryDirectory("inject")
        defer { cleanup(dir) }
        try Coordinator.initialise(directory: dir, settings: testSettings())
        try writeTinyGGUF(to: dir + "/tiny.gguf")
        let store = try SQLiteCoordinatorStore(path: dir + "/" + Coordinator.databaseName)
        let identity = try Identity(sealed: try #require(try store.loadSealedIdentity()),
                                    key: try KeyFile.read(from: dir + "/" + Coordinator.keyFileName))
        let blobs = RecordingBlobStore(try FileBlobStore(directory: dir + "/blobs"))
        let c = try Coordinator(store: store, blobs: blobs, identity: identity)

        let published = try await c.publishBase(file: dir + "/tiny.gguf", now: at(0))
        // The base and the adapter of zeros (2 blocks × (q 8 + v 4) × rank 2 = 48 floats) went through it.
        let adapter = try #require(await c.currentAdapter)
        #expect(blobs.writes == [published.base, adapter.blob])
        #expect(adapter.blob.size == 48 * 4)
        let manifest = try await c.signedManifest(now: at(1)).open(coordinatorKey: c.publicKey)
        #expect(manifest.sharedAdapterBlob == adapter.blob && manifest.base == published.base)

        let token = try await c.createEnrollmentToken(name: "a", validFor: 60, now: at(1))
        _ = try await c.enroll(EnrollRequest(token: token, identity: Identity.generate(), name: "a"), now: at(2))
        #expect(try store.clients().count == 1)

        // The default opening of the same directory sees what went through the injected parts.
        let reopened = try Coordinator(directory: dir)
        #expect(reopened.publicKey == c.publicKey)
        #expect(await reopened.currentAdapter == adapter)
        #expect(try reopened.store.clients().count == 1)
    }
}
