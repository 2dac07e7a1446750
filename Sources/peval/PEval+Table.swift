import Diagnostics
import ArgumentParser
import Evaluation
import Foundation
import Seal

extension PEval {
    struct Table: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one table of several `peval run` reports (e.g. every method on one task).")

        @Argument(help: "Report files written by `peval run --report`.")
        var reports: [String]

        @Option(help: "Also draw the reports' headline metrics as an SVG bar chart into this file.")
        var svg: String?

        @Option(help: "The chart's title.")
        var title = "Personalization methods on LaMP-format users"

        func validate() throws {
            guard !reports.isEmpty else { throw ValidationError("Please give at least one report file.") }
        }

        func run() async throws {
            var loaded: [ExperimentReport] = []
            for path in reports {
                let data: Data
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: path))
                } catch {
                    throw EvaluationError(.io, "cannot read \(path): \(error.localizedDescription)")
                }
                // One method's report, or the list `peval run --method a,b` writes.
                if let one = try? JSONDecoder().decode(ExperimentReport.self, from: data) {
                    loaded.append(one)
                } else {
                    do {
                        loaded += try JSONDecoder().decode([ExperimentReport].self, from: data)
                    } catch {
                        throw EvaluationError(.badFile, "\(path) is not a peval report: \(error)")
                    }
                }
            }
            loaded.sort { ($0.task.rawValue, PersonalizationMethod.allCases.firstIndex(of: $0.method) ?? 0)
                        < ($1.task.rawValue, PersonalizationMethod.allCases.firstIndex(of: $1.method) ?? 0) }
            print(ExperimentReport.table(loaded), terminator: "")
            if let svg {
                try AtomicFile.write(Data(ReportChart.svg(loaded, title: title).utf8), to: svg, permissions: 0o644)
                print("chart: \(svg)")
            }
        }
    }
}
