import Foundation
import LinliCore

/// What a chart draws, as `Scripts.charts` reads it from the canvas's `data-chart`.
package struct ChartSpec: Codable, Sendable {
    package struct Series: Codable, Sendable {
        var label: String
        var data: [Double?]
        /// "count" (left axis) or "pct" (0–100, right axis).
        var axis: String
        /// "bar" or "line" when the chart mixes them.
        var kind: String?

        package init(label: String, data: [Double?], axis: String, kind: String? = nil) {
            self.label = label; self.data = data; self.axis = axis; self.kind = kind
        }
    }
    var type: String
    var labels: [String]
    var datasets: [Series]
    var horizontal: Bool = false
    /// Bars of one row add up (a project's money: where it came from, where it went).
    var stacked: Bool = false

    package init(type: String, labels: [String], datasets: [Series], horizontal: Bool = false, stacked: Bool = false) {
        self.type = type; self.labels = labels; self.datasets = datasets; self.horizontal = horizontal; self.stacked = stacked
    }
}

/// The figures page's charts, their tables and CSV, from the figures the service counted.
package struct FigureCharts {
    let report: FiguresReport
    let months: [MonthFigures]
    let lang: Lang

    static func pct(_ x: Double?) -> Double? { x.map { ($0 * 1000).rounded() / 10 } }

    /// One row per month for the table beside the trend chart.
    var monthRows: [[String: Any]] {
        months.map { m in
            ["month": m.month, "received": m.total.received, "on_time": m.total.onTimeRate, "satisfaction": m.total.satisfactionRate]
        }
    }

    /// Volume as bars, on-time and satisfaction rates as lines (percent).
    var trendJSON: String {
        let t = I18n.table(lang)
        let spec = ChartSpec(type: "bar", labels: months.map(\.month), datasets: [
            .init(label: t["received"]!, data: months.map { Double($0.total.received) }, axis: "count", kind: "bar"),
            .init(label: t["on_time_rate"]!, data: months.map { Self.pct($0.total.figures.onTimeRate) }, axis: "pct", kind: "line"),
            .init(label: t["satisfaction_rate"]!, data: months.map { Self.pct($0.total.figures.satisfactionRate) }, axis: "pct", kind: "line"),
        ])
        return Self.json(spec)
    }

    /// Parties with anything resolved, best on-time rate first (ten at most).
    var ranked: [FiguresRow] {
        Array(report.parties.filter { $0.figures.resolved > 0 }
            .sorted { ($0.figures.onTimeRate ?? 0, $0.received) > ($1.figures.onTimeRate ?? 0, $1.received) }.prefix(10))
    }
    var hasRank: Bool { ranked.count > 1 }
    var rankJSON: String {
        let t = I18n.table(lang)
        return Self.json(ChartSpec(type: "bar", labels: ranked.map(\.name), datasets: [
            .init(label: t["on_time_rate"]!, data: ranked.map { Self.pct($0.figures.onTimeRate) }, axis: "pct", kind: nil),
        ], horizontal: true))
    }

    package static func json(_ spec: ChartSpec) -> String { JSON.string(spec, fallback: "{}") }

    static let header = ["csv_group", "csv_name", "csv_kind", "received", "response_rate", "on_time_rate", "satisfaction_rate", "median_hours", "returned", "escalated"]

    /// The period's figures by party, by area and in total.
    static func csv(_ report: FiguresReport, lang: Lang) -> String {
        let t = I18n.table(lang)
        var lines = [header.map { CSVReader.escape(t[$0]!) }.joined(separator: ",")]
        func line(_ group: String, _ r: FiguresRow) -> String {
            [t[group] ?? group, r.name, I18n.label(r.kind, lang), String(r.received), r.responseRate, r.onTimeRate, r.satisfactionRate,
             r.medianHours, String(r.returned), String(r.escalated)].map(CSVReader.escape).joined(separator: ",")
        }
        lines += report.parties.map { line("by_party", $0) }
        lines += report.areas.map { line("by_area", $0) }
        lines.append(line("total", report.total))
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Month by month.
    static func csv(_ months: [MonthFigures], lang: Lang) -> String {
        let t = I18n.table(lang)
        var lines = [["csv_month", "received", "on_time_rate", "satisfaction_rate", "median_hours"].map { CSVReader.escape(t[$0]!) }.joined(separator: ",")]
        for m in months {
            lines.append([m.month, String(m.total.received), m.total.onTimeRate, m.total.satisfactionRate, m.total.medianHours].map(CSVReader.escape).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
