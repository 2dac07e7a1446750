import Federation
import Foundation
import LLM
import Seal
import Tensor
import Testing
import Tuning
import Vault

struct SharedAdapterTests {
    static let smolLM2 = LlamaConfig(blockCount: 30, dim: 576, ffnDim: 1536, headCount: 9, kvHeadCount: 3,
                                     ropeBase: 100_000, contextLength: 8192, vocabularySize: 49152)
    static let tiny = LlamaConfig(blockCount: 2, dim: 16, ffnDim: 24, headCount: 4, kvHeadCount: 2, vocabularySize: 32)

    @Test(arguments: [["q", "v"], ["q", "k", "v", "o", "gate", "up", "down"], ["down", "k"]])
    func vectorLengthIsTheAdaptersBCountForSmolLM2(targets: [String]) throws {
        let spec = try SharedAdapterSpec(rank: 8, alpha: 16, targets: targets, seed: 42)
        let adapter = try LoRAAdapter(config: LoRAAdapter.sharedConfig(spec), model: Self.smolLM2, seed: spec.seed, training: .bOnly)
        let bCount = adapter.modules.reduce(0) { $0 + $1.b.count }
        #expect(spec.vectorLength(BaseDimensions(Self.smolLM2)) == bCount)
        if targets.count == 7 { #expect(bCount == 30 * 8 * (576 * 2 + 192 * 2 + 1536 * 2 + 576)) }
    }

    /// The flat vector fills B block by block, targets in q,k,v,o,gate,up,down order, each (out, rank)
    /// row-major — checked against an independent walk of that order, not against flattenedB().
    @Test func theVectorFillsBInTheSpecsOrder() throws {
        let spec = try SharedAdapterSpec(rank: 3, alpha: 6, targets: ["down", "q", "v"], seed: 7)
        let dims = BaseDimensions(Self.tiny)
        let n = spec.vectorLength(dims)
        let vector = (0..<n).map { Float($0) + 0.5 }
        let adapter = try LoRAAdapter.shared(spec: spec, vector: vector, model: Self.tiny)
        #expect(adapter.training == .bOnly)
        #expect(adapter.scale == 2)

        var offset = 0
        for block in 0..<dims.blocks {
            for name in SharedAdapterSpec.targetOrder where spec.targets.contains(name) {
                let target = try #require(LoRATarget(rawValue: name))
                let module = try #require(adapter.module(block: block, target: target))
                let out = SharedAdapterSpec.outFeatures(name, dims)
                #expect(module.outFeatures == out)
                for row in 0..<out {
                    for col in 0..<spec.rank where module.b[row * spec.rank + col] != vector[offset + row * spec.rank + col] {
                        Issue.record("block \(block) \(name) B[\(row),\(col)] is not vector[\(offset + row * spec.rank + col)]")
                    }
                }
                offset += out * spec.rank
            }
        }
        #expect(offset == n)
        #expect(adapter.flattenedB() == vector)

        // A is the published seed's: the same as any party generating it.
        let reference = try LoRAAdapter(config: LoRAAdapter.sharedConfig(spec), model: Self.tiny, seed: 7)
        for (m, r) in zip(adapter.modules, reference.modules) {
            #expect(Array(UnsafeBufferPointer(start: m.a.pointer, count: m.a.count)) == Array(UnsafeBufferPointer(start: r.a.pointer, count: r.a.count)))
        }
    }

    @Test func aVectorOfTheWrongLengthIsRefused() throws {
        let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q"], seed: 1)
        let n = spec.vectorLength(BaseDimensions(Self.tiny))
        #expect(throws: ClientError.self) { try LoRAAdapter.shared(spec: spec, vector: [Float](repeating: 0, count: n + 1), model: Self.tiny) }
    }

    @Test func theStoreVerifiesManifestAndVector() throws {
        let home = ClientHome(path: temporaryFolder("shared"))
        try FileManager.default.createDirectory(atPath: home.path + "/shared", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home.path) }
        #expect(try SharedAdapterStore.current(home) == nil)

        let coordinator = Identity.generate()
        let spec = try SharedAdapterSpec(rank: 2, alpha: 4, targets: ["q", "v"], seed: 3)
        let dims = BaseDimensions(Self.tiny)
        let vector = (0..<spec.vectorLength(dims)).map { Float($0) * 0.25 - 3 }
        let blob = SharedAdapterStore.encodeVector(vector)
        let manifest = try FederatedTestFixtures.manifest(sequence: 4, spec: spec, dims: dims, version: 2,
                                                          blob: BlobRef(sha256: SHA256.hex(blob), size: Int64(blob.count)))
        try CoordinatorLink(url: "http://127.0.0.1:1", clientID: "c1", coordinatorKey: coordinator.publicKeys.signing,
                            lastManifestSequence: 4).save(home)
        try WireCoding.encoder().encode(SignedManifest.sign(manifest, with: coordinator)).write(to: URL(fileURLWithPath: SharedAdapterStore.manifestPath(home)))
        try blob.write(to: URL(fileURLWithPath: SharedAdapterStore.vectorPath(home, version: 2)))

        let shared = try #require(try SharedAdapterStore.current(home))
        #expect(shared.version == 2)
        #expect(shared.vector == vector)
        #expect(shared.spec == spec)

        // A changed vector no longer matches the signed hash.
        var damaged = blob
        damaged[0] ^= 1
        try damaged.write(to: URL(fileURLWithPath: SharedAdapterStore.vectorPath(home, version: 2)))
        #expect(throws: ClientError.self) { try SharedAdapterStore.current(home) }

        // A manifest signed by any other key is refused.
        try blob.write(to: URL(fileURLWithPath: SharedAdapterStore.vectorPath(home, version: 2)))
        try WireCoding.encoder().encode(SignedManifest.sign(manifest, with: Identity.generate())).write(to: URL(fileURLWithPath: SharedAdapterStore.manifestPath(home)))
        #expect(throws: FederationError.self) { try SharedAdapterStore.current(home) }
    }
}
