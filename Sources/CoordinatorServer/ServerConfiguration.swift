/// How `pcoord serve` listens and what it accepts.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Signed requests per client per second, sustained, and the burst allowed above it.
    public var requestsPerSecond: Double
    public var burst: Double
    /// Seconds between ticks of the round machine (deadlines fire without client traffic).
    public var tickInterval: Double
    /// Body limits, bytes.
    public var smallBodyLimit: Int
    public var largeBodyLimit: Int

    public init(host: String = "127.0.0.1", port: Int = 8443, requestsPerSecond: Double = 20, burst: Double = 60,
                tickInterval: Double = 1, smallBodyLimit: Int = 16 << 10, largeBodyLimit: Int = 4 << 20) {
        self.host = host
        self.port = port
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
        self.tickInterval = tickInterval
        self.smallBodyLimit = smallBodyLimit
        self.largeBodyLimit = largeBodyLimit
    }
}
