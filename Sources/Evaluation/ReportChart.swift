public import Foundation

/// An SVG bar chart of `peval` reports: one panel per task (and per choices setting), one bar per
/// method, the task's headline metric (accuracy, MAE or ROUGE-1) with its value and the number of
/// users and questions behind it. Plain SVG 1.1 text: it renders in browsers and on GitHub, and
/// converts to PNG with any SVG tool.
public enum ReportChart {
    /// Bar colours by method, in `PersonalizationMethod.allCases` order.
    static let palette = ["#9e9e9e", "#64b5f6", "#ba68c8", "#ffb74d", "#e57373", "#4db6ac", "#3f51b5"]

    public static func svg(_ reports: [ExperimentReport], title: String) -> String {
        struct Panel { var label: String; var metric: String; var bars: [(method: PersonalizationMethod, value: Double, users: Int, questions: Int)] }
        var panels: [Panel] = []
        for r in reports {
            guard let metric = r.task.metricNames.first, let value = r.metrics.first(where: { $0.name == metric })?.value else { continue }
            let choices = r.task.kind == .classification ? (r.settings.constrained ? ", answers limited to the labels" : ", free text") : ""
            let label = "\(r.task.description)\(choices)"
            if let i = panels.firstIndex(where: { $0.label == label && $0.metric == metric }) {
                panels[i].bars.append((r.method, value, r.users, r.questions))
            } else {
                panels.append(Panel(label: label, metric: metric, bars: [(r.method, value, r.users, r.questions)]))
            }
        }
        let order = PersonalizationMethod.allCases
        for i in panels.indices { panels[i].bars.sort { (order.firstIndex(of: $0.method) ?? 0) < (order.firstIndex(of: $1.method) ?? 0) } }

        let panelWidth = 420.0, panelHeight = 260.0, top = 84.0, left = 50.0, gap = 50.0
        let width = left + Double(max(1, panels.count)) * (panelWidth + gap)
        let height = top + panelHeight + 90
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(left))" y="30" font-size="18" font-weight="bold">\(escape(title))</text>

        """
        for (p, panel) in panels.enumerated() {
            let x0 = left + Double(p) * (panelWidth + gap)
            let higher = LaMPTask.higherIsBetter(panel.metric)
            let maxValue = panel.bars.map(\.value).max() ?? 0
            let axisMax = higher ? 1.0 : max(1, (maxValue * 1.15).rounded(.up))
            out += "<text x=\"\(f(x0))\" y=\"\(f(top - 26))\" font-size=\"13\">\(escape(panel.label))</text>\n"
            out += "<text x=\"\(f(x0))\" y=\"\(f(top - 10))\" font-size=\"12\" fill=\"#444\">\(escape(panel.metric))\(higher ? " (higher is better)" : " (lower is better)")</text>\n"
            // Axis and grid.
            for tick in 0...4 {
                let v = axisMax * Double(tick) / 4
                let y = top + panelHeight - panelHeight * v / axisMax
                out += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelWidth))\" y2=\"\(f(y))\" stroke=\"#e0e0e0\"/>\n"
                out += "<text x=\"\(f(x0 - 6))\" y=\"\(f(y + 4))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>\n"
            }
            let slot = panelWidth / Double(max(1, panel.bars.count))
            for (b, bar) in panel.bars.enumerated() {
                let h = panelHeight * min(bar.value, axisMax) / axisMax
                let x = x0 + Double(b) * slot + slot * 0.15
                let y = top + panelHeight - h
                let colour = palette[(order.firstIndex(of: bar.method) ?? 0) % palette.count]
                out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(slot * 0.7))\" height=\"\(f(h))\" fill=\"\(colour)\"/>\n"
                out += "<text x=\"\(f(x + slot * 0.35))\" y=\"\(f(y - 4))\" font-size=\"11\" text-anchor=\"middle\">\(String(format: "%.2f", bar.value))</text>\n"
                out += "<text x=\"\(f(x + slot * 0.35))\" y=\"\(f(top + panelHeight + 16))\" font-size=\"11\" text-anchor=\"middle\">\(escape(bar.method.rawValue))</text>\n"
            }
            let counts = Set(panel.bars.map { "\($0.users) users, \($0.questions) questions" }).sorted().joined(separator: "; ")
            out += "<text x=\"\(f(x0))\" y=\"\(f(top + panelHeight + 40))\" font-size=\"11\" fill=\"#555\">\(escape(counts)) per method</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
