import Evaluation
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@Suite struct ReportChartTests {
    func report(_ task: LaMPTask, _ method: PersonalizationMethod, _ metrics: [MetricValue], constrained: Bool = false) -> ExperimentReport {
        ExperimentReport(settings: RunSettings(task: task, method: method, k: 4, constrained: constrained), engine: "model",
                         users: 4, questions: 12, metrics: metrics, perUser: [:], predictions: [], seconds: 1)
    }

    @Test func oneWellFormedPanelPerTaskWithABarPerMethod() throws {
        let reports = [
            report(.movieTagging, .oppuRag, [MetricValue("accuracy", 0.75), MetricValue("f1", 0.5)], constrained: true),
            report(.movieTagging, .none, [MetricValue("accuracy", 0.0), MetricValue("f1", 0.0)], constrained: true),
            report(.productRating, .none, [MetricValue("mae", 1.25), MetricValue("rmse", 1.5)]),
            report(.productRating, .oppu, [MetricValue("mae", 0.5), MetricValue("rmse", 0.7)]),
        ]
        let svg = ReportChart.svg(reports, title: "A <test> & chart")
        // Well-formed XML (the title is escaped).
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(svg.contains("A &lt;test&gt; &amp; chart"))
        // Two panels; four bars (rect elements besides the background); values printed; methods in the canonical order.
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 5)
        #expect(svg.contains(">0.75<") && svg.contains(">1.25<") && svg.contains(">0.50<"))
        #expect(svg.contains("mae (lower is better)") && svg.contains("accuracy (higher is better)"))
        let none = try #require(svg.range(of: ">none<")), oppuRag = try #require(svg.range(of: ">oppu+rag<"))
        #expect(none.lowerBound < oppuRag.lowerBound)
        #expect(svg.contains("4 users, 12 questions"))
    }
}
