/// How `pcoord serve` listens and what it accepts. The defaults are `pcoord serve`'s defaults
/// (server/README.md lists them with the flags that change them).
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Signed requests per client per second, sustained, and the burst allowed above it.
    public var requestsPerSecond: Double
    public var burst: Double
    /// Requests of any kind per peer address per second, and the burst: checked before anything
    /// else, so unauthenticated traffic from one address is bounded too.
    public var addressRequestsPerSecond: Double
    public var addressBurst: Double
    /// Open connections at most, in all (past it the coordinator stops accepting until one
    /// closes) and from one peer address (past it a new connection is closed at once).
    public var maxConnections: Int
    public var maxConnectionsPerAddress: Int
    /// Seconds a connection may stay without a complete request head or between request parts
    /// (a trickled head counts as silence: only complete parts reset the clock); then it is closed.
    public var idleTimeout: Double
    /// Seconds to receive a whole request body once its head arrived; then the connection is closed.
    public var bodyTimeout: Double
    /// Seconds between ticks of the round machine (deadlines fire without client traffic).
    public var tickInterval: Double
    /// Body limits, bytes.
    public var smallBodyLimit: Int
    public var largeBodyLimit: Int
    /// PEM files of the certificate chain and private key: when set, the coordinator speaks only TLS.
    public var tls: TLSFiles?

    public struct TLSFiles: Sendable {
        public var certificateChain: String
        public var privateKey: String
        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    public init(host: String = "127.0.0.1", port: Int = 8443, requestsPerSecond: Double = 20, burst: Double = 60,
                addressRequestsPerSecond: Double = 100, addressBurst: Double = 300,
                maxConnections: Int = 1024, maxConnectionsPerAddress: Int = 32, idleTimeout: Double = 30, bodyTimeout: Double = 60,
                tickInterval: Double = 1, smallBodyLimit: Int = 16 << 10, largeBodyLimit: Int = 4 << 20, tls: TLSFiles? = nil) {
        self.host = host
        self.port = port
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
        self.addressRequestsPerSecond = addressRequestsPerSecond
        self.addressBurst = addressBurst
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.tickInterval = tickInterval
        self.smallBodyLimit = smallBodyLimit
        self.largeBodyLimit = largeBodyLimit
        self.tls = tls
    }
}
