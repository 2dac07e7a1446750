public import Federation
import Foundation
import Seal
public import Transport
public import Vault

/// Installing a shared adapter downloads it from the coordinator: federation participation, not the vault.
extension SharedAdapterStore {
    /// Makes `manifest` (already opened under the pinned key) the current one: downloads its shared
    /// vector if this home does not hold it (verified, resumable), then writes the manifest and
    /// removes older versions. Returns true when the shared version changed.
    @discardableResult
    public static func install(_ signed: SignedManifest, manifest: Manifest, home: ClientHome, api: some CoordinatorAPI,
                               log: (String) -> Void = { _ in }) throws -> Bool {
        try FileManager.default.createDirectory(atPath: folder(home), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let before = try? current(home)
        if let blob = manifest.sharedAdapterBlob {
            let path = vectorPath(home, version: manifest.sharedAdapterVersion)
            if !FileManager.default.fileExists(atPath: path) {
                log("downloading shared adapter v\(manifest.sharedAdapterVersion) (\(blob.size) bytes)")
            }
            try api.download(blob, to: path, progress: nil)
        }
        try AtomicFile.write(try WireCoding.encoder().encode(signed), to: manifestPath(home))
        let keep = "adapter-v\(manifest.sharedAdapterVersion).f32"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder(home))) ?? []
        where name.hasPrefix("adapter-v") && name.hasSuffix(".f32") && name != keep {
            try? FileManager.default.removeItem(atPath: folder(home) + "/" + name)
        }
        return before?.version != manifest.sharedAdapterVersion
    }
}
