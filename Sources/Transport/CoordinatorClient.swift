public import Federation
import Foundation
public import Seal

/// The coordinator's endpoints as the participant uses them, apart from HTTP so that the round
/// logic (`FederatedParticipant`) can be driven by an in-process coordinator in tests.
///
/// The `fetch…` calls return nil while the coordinator says the stage is not ready yet (HTTP 409
/// `stage_not_ready`): the caller polls again. Every other refusal throws.
public protocol CoordinatorAPI {
    func manifest() throws -> SignedManifest
    func roundStatus() throws -> RoundStatus
    func advertiseKeys(_ message: AdvertiseKeys) throws
    func fetchRoster(round: UInt64) throws -> KeyRoster?
    func shareKeys(_ message: ShareKeys) throws
    func fetchShares(round: UInt64) throws -> SharesForYou?
    /// Returns the bytes sent.
    func maskedInput(_ message: MaskedInput) throws -> Int
    func fetchSurvivors(round: UInt64) throws -> SurvivorList?
    func consistency(_ message: ConsistencySignature) throws
    func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest?
    func unmask(_ message: UnmaskResponse) throws
    func summary(round: UInt64) throws -> RoundSummary
    /// Fetches a blob by its content address, verifies it and moves it to `destination`.
    func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws
}

/// `CoordinatorAPI` over HTTP: the routes of protocol/PROTOCOL.md §2, every request signed with the
/// home's identity.
public struct CoordinatorClient: CoordinatorAPI, Sendable {
    public let transport: HTTPTransport

    public init(transport: HTTPTransport) { self.transport = transport }

    public init(url: String, identity: Identity, configuration: HTTPConfiguration = HTTPConfiguration()) throws {
        transport = try HTTPTransport(baseURL: url, identity: identity, configuration: configuration)
    }

    /// POST /v1/enroll (unsigned: the client is not known yet; the request carries its own proof).
    public static func enroll(url: String, token: String, identity: Identity, name: String?,
                              configuration: HTTPConfiguration = HTTPConfiguration()) throws -> EnrollResponse {
        let transport = try HTTPTransport(baseURL: url, identity: identity, configuration: configuration)
        return try transport.post("/v1/enroll", json: EnrollRequest(token: token, identity: identity, name: name),
                                  as: EnrollResponse.self, signed: false)
    }

    /// GET /v1/health (unsigned): true when the coordinator answers 2xx.
    public func health() throws -> Bool {
        (200..<300).contains(try transport.send("GET", "/v1/health", signed: false).status)
    }

    public func manifest() throws -> SignedManifest { try transport.get("/v1/manifest", as: SignedManifest.self) }
    public func roundStatus() throws -> RoundStatus { try transport.get("/v1/round", as: RoundStatus.self) }

    public func advertiseKeys(_ m: AdvertiseKeys) throws { try postJSON("/v1/rounds/\(m.round)/advertise-keys", m) }
    public func fetchRoster(round: UInt64) throws -> KeyRoster? { try poll("/v1/rounds/\(round)/roster", KeyRoster.self) }
    public func shareKeys(_ m: ShareKeys) throws { try postJSON("/v1/rounds/\(m.round)/share-keys", m) }
    public func fetchShares(round: UInt64) throws -> SharesForYou? { try poll("/v1/rounds/\(round)/shares", SharesForYou.self) }

    public func maskedInput(_ m: MaskedInput) throws -> Int {
        try transport.post("/v1/rounds/\(m.round)/masked-input", body: m.words, contentType: "application/octet-stream")
        return m.words.count
    }

    public func fetchSurvivors(round: UInt64) throws -> SurvivorList? { try poll("/v1/rounds/\(round)/survivors", SurvivorList.self) }
    public func consistency(_ m: ConsistencySignature) throws { try postJSON("/v1/rounds/\(m.round)/consistency", m) }
    public func fetchUnmaskRequest(round: UInt64) throws -> UnmaskRequest? { try poll("/v1/rounds/\(round)/unmask-request", UnmaskRequest.self) }
    public func unmask(_ m: UnmaskResponse) throws { try postJSON("/v1/rounds/\(m.round)/unmask", m) }
    public func summary(round: UInt64) throws -> RoundSummary { try transport.get("/v1/rounds/\(round)", as: RoundSummary.self) }

    public func download(_ blob: BlobRef, to destination: String, progress: ((Int64, Int64?) -> Void)?) throws {
        try transport.download("/v1/blobs/\(blob.sha256)", sha256: blob.sha256, size: blob.size, to: destination, progress: progress)
    }

    private func postJSON(_ path: String, _ body: some Encodable) throws {
        try transport.post(path, body: try WireCoding.encoder().encode(body), contentType: "application/json")
    }

    private func poll<T: Decodable>(_ path: String, _ type: T.Type) throws -> T? {
        do {
            return try transport.get(path, as: type)
        } catch let e as HTTPError where e.status == 409 && e.code == "stage_not_ready" {
            return nil
        }
    }
}
