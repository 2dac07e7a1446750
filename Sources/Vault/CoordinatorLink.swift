import Diagnostics
public import Federation
public import Foundation
import Seal

/// What `pclient join` records about the coordinator, in `<home>/coordinator.json` (public data
/// only: no key of the user's, no content):
///
///     url                    the coordinator's base URL
///     clientID               the id it assigned at enrollment
///     coordinatorKey         its Ed25519 signing key, pinned: every manifest must verify under it
///     lastManifestSequence   the highest manifest sequence seen; an older one is refused (rollback)
///     caCertificate          PEM certificates trusted for its https instead of the system's (join --ca-certificate)
///     insecure               true when join was told --insecure: plain http to another machine; every
///                            command that uses the link warns again
///
/// plus the last round this client took part in, for `pclient federation status`, the client's own
/// privacy policy (`policy`, nil = `ClientPrivacyPolicy.standard`) and its own accountant of the
/// rounds it revealed shares in (`ledger`). Written atomically.
public struct CoordinatorLink: Codable, Sendable, Equatable {
    public var url: String
    public var clientID: String
    public var coordinatorKey: Data
    public var lastManifestSequence: Int64
    public var enrolledAt: Date
    public var name: String?
    public var lastRound: UInt64?
    /// One line about how the last round ended ("included, produced version 4", "dropped out: …").
    public var lastRoundResult: String?
    /// What this client accepts of a round (nil in links written before it existed: the defaults).
    public var policy: ClientPrivacyPolicy?
    /// ε this client spent by its own count, charged at q = 1 before each reveal.
    public var ledger: PrivacyLedger?
    /// PEM text, kept in the link (not a path) so it travels with the link in a bundle.
    public var caCertificate: String?
    /// nil (links written before it existed) reads as false: such a link's URL is checked again at every use.
    public var insecure: Bool?

    public var effectivePolicy: ClientPrivacyPolicy { policy ?? .standard }

    public init(url: String, clientID: String, coordinatorKey: Data, lastManifestSequence: Int64,
                enrolledAt: Date = Date(), name: String? = nil, caCertificate: String? = nil, insecure: Bool = false) {
        self.url = url
        self.clientID = clientID
        self.coordinatorKey = coordinatorKey
        self.lastManifestSequence = lastManifestSequence
        self.enrolledAt = enrolledAt
        self.name = name
        self.caCertificate = caCertificate
        self.insecure = insecure ? true : nil
    }

    public static func path(_ home: ClientHome) -> String { home.path + "/coordinator.json" }

    /// The link of a home, or nil when it never joined a coordinator.
    public static func load(_ home: ClientHome) throws -> CoordinatorLink? {
        let path = path(home)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try WireCoding.decoder().decode(CoordinatorLink.self, from: data)
        } catch {
            throw ClientError(.corrupt, "\(path) cannot be read (\(error)); run `pclient join` again to re-enroll")
        }
    }

    /// The link, or an error that says how to get one.
    public static func require(_ home: ClientHome) throws -> CoordinatorLink {
        guard let link = try load(home) else {
            throw ClientError(.badInput, "\(home.path) has not joined a coordinator: run `pclient join URL --token T` with the token its operator gave you")
        }
        return link
    }

    public func save(_ home: ClientHome) throws {
        try AtomicFile.write(try WireCoding.encoder().encode(self), to: Self.path(home))
    }

    /// SHA-256 of the pinned key, first 16 bytes in groups of four hex digits: what to compare with
    /// the operator's `pcoord` output over another channel.
    public var keyFingerprint: String { Self.fingerprint(coordinatorKey) }

    public static func fingerprint(_ key: Data) -> String { KeyFingerprint.of(key) }

    /// Opens a manifest under the pinned key and refuses one older than the last seen (a replayed
    /// or rolled-back manifest); on success remembers its sequence (the caller saves the link).
    public mutating func accept(_ signed: SignedManifest) throws -> Manifest {
        let manifest = try signed.open(coordinatorKey: coordinatorKey)
        guard manifest.sequence >= lastManifestSequence else {
            throw FederationError(.protocolViolation,
                "The coordinator sent manifest #\(manifest.sequence), older than #\(lastManifestSequence) already seen: a replayed or rolled-back manifest. Nothing was changed; tell the coordinator's operator.")
        }
        lastManifestSequence = manifest.sequence
        return manifest
    }
}
