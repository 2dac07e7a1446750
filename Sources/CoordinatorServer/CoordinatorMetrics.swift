public import Prometheus
import CoordinatorCore
import Federation

/// The coordinator's Prometheus metrics; GET /metrics renders the registry.
public final class CoordinatorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let roundsCompleted: Counter
    private let roundsAborted: Counter
    private let bytesReceived: Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        roundsCompleted = registry.makeCounter(descriptor: Self.name("rounds_completed", "total", "Rounds that published a new shared-adapter version."))
        roundsAborted = registry.makeCounter(descriptor: Self.name("rounds_aborted", "total", "Rounds aborted (deadline with too few messages, failed unmasking)."))
        bytesReceived = registry.makeCounter(descriptor: Self.name("bytes_received", "total", "Request body bytes received."))
    }

    func request(route: String, status: Int) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "HTTP requests by route and status."),
                             labels: [("route", route), ("status", String(status))]).increment()
    }

    func received(bytes: Int) { bytesReceived.increment(by: Int64(bytes)) }

    func observe(_ o: Coordinator.Observation) {
        switch o {
        case .roundFinished(let stage):
            if stage == .completed { roundsCompleted.increment() } else { roundsAborted.increment() }
        case .stageClosed(let stage, let seconds):
            registry.makeValueHistogram(descriptor: Self.name("stage_duration", "seconds", "Seconds from a stage's opening to its closing."),
                                        labels: [("stage", stage.rawValue)],
                                        buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800]).record(seconds)
        }
    }

    public func render() -> [UInt8] { registry.emitToBuffer() }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "pcoord", metricName: metric, unitName: unit, helpText: help)
    }
}
