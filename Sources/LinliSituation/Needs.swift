import Foundation
import LinliCore
import LinliStore
import LinliServer

/// What residents ask for, where and when: a street's or community's requests by month and
/// category, the categories rising, and the buildings asking again and again.
public struct NeedsReport: Codable, Sendable {
    public struct Category: Codable, Sendable {
        public var code: String
        public var name: String
        public var total: Int
        /// One count per month of `months`.
        public var byMonth: [Int]
        enum CodingKeys: String, CodingKey { case code, name, total, byMonth = "by_month" }
    }
    public struct Area: Codable, Sendable {
        public var id: Int64
        public var name: String
        public var total: Int
        /// The category asked for most there.
        public var top: String?
    }
    public struct Rising: Codable, Sendable {
        public var code: String
        public var name: String
        public var recent: Int
        public var before: Int
        public var change: Int
        public var percent: Int?
    }
    public struct Repeated: Codable, Sendable {
        public var placeID: Int64
        public var name: String
        public var code: String
        public var category: String
        public var count: Int
        enum CodingKeys: String, CodingKey { case placeID = "place_id", name, code, category, count }
    }
    public var placeID: Int64
    public var placeName: String
    /// "street" or "community".
    public var level: String
    public var months: [String]
    public var total: Int
    /// Per month, every category together.
    public var monthTotals: [Int]
    public var categories: [Category]
    /// The communities of a street (a community's own analysis has none).
    public var areas: [Area]
    public var rising: [Rising]
    /// Buildings with at least `NeedsModel.repeatAtLeast` requests of one category in
    /// [repeatedFrom, repeatedTo] (a community's analysis only).
    public var repeated: [Repeated]
    public var repeatedFrom: String
    public var repeatedTo: String
    /// Service domains residents ask for in the needs pool (open needs, as they stand today),
    /// and where no purchased service covers them: the uncovered first.
    public var gaps: [Gap]
    public struct Gap: Codable, Sendable {
        public var domain: String
        public var label: String
        public var needs: Int
        public var supporters: Int
        public var communities: Int
        public var uncoveredCommunities: Int
        public var uncoveredNeeds: Int
        enum CodingKeys: String, CodingKey {
            case domain, label, needs, supporters, communities, uncoveredCommunities = "uncovered_communities", uncoveredNeeds = "uncovered_needs"
        }
    }
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", placeName = "place_name", level, months, total, monthTotals = "month_totals", categories, areas, rising, repeated
        case repeatedFrom = "repeated_from", repeatedTo = "repeated_to", gaps
    }
}

extension SituationService {
    public func needs(place id: Int64, fromMonth: String?, toMonth: String?, actor: Actor, lang: Lang) async throws -> NeedsReport {
        try await needs(try await place(id, actor: actor), fromMonth: fromMonth, toMonth: toMonth, lang: lang)
    }

    func needs(_ p: SituationPlace, fromMonth: String?, toMonth: String?, lang: Lang) async throws -> NeedsReport {
        let today = LocalDay.of(env.nowSeconds)
        let months = try NeedsModel.range(from: fromMonth, to: toMonth, today: today)
        let isCommunity = p.kind.rank >= 3
        let counts = try await requests.needCounts(communities: try await communities(p), fromMonth: months.first!, toMonth: months.last!)
        let names = Dictionary(try await requests.categories(lang: lang).map { ($0.code, $0.name) }, uniquingKeysWith: { a, _ in a })
        let index = Dictionary(uniqueKeysWithValues: months.enumerated().map { ($1, $0) })
        var byCategory: [String: [Int: Int]] = [:], byArea: [Int64: [String: Int]] = [:]
        var monthTotals = [Int](repeating: 0, count: months.count)
        for c in counts {
            byCategory[c.category, default: [:]][c.month, default: 0] += c.count
            byArea[c.communityID, default: [:]][c.category, default: 0] += c.count
            if let i = index[c.month] { monthTotals[i] += c.count }
        }
        let categories = byCategory.map { code, m in
            NeedsReport.Category(code: code, name: names[code] ?? code, total: m.values.reduce(0, +), byMonth: months.map { m[$0] ?? 0 })
        }.sorted { ($0.total, $1.code) > ($1.total, $0.code) }
        var areas: [NeedsReport.Area] = []
        if !isCommunity {
            let areaNames = try await registry.placeSpots(Array(byArea.keys)).mapValues(\.name)
            areas = byArea.map { id, cats in
                let top = cats.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
                return NeedsReport.Area(id: id, name: areaNames[id] ?? "#\(id)", total: cats.values.reduce(0, +), top: top.map { names[$0] ?? $0 })
            }.sorted { ($0.total, $1.id) > ($1.total, $0.id) }
        }
        let rising = NeedsModel.rising(byCategory, months: months).prefix(5).map {
            NeedsReport.Rising(code: $0.category, name: names[$0.category] ?? $0.category, recent: $0.recent, before: $0.before, change: $0.change, percent: $0.percent)
        }
        // Repeated requests from one building: the last 90 days of the range (up to today).
        let end = min(NeedsModel.days(months.last!).last, today)
        let start = end - NeedsModel.repeatDays + 1
        var repeated: [NeedsReport.Repeated] = []
        if isCommunity {
            let found = try await requests.placeNeedCounts(communities: [p.id], from: start, to: end + 1, atLeast: 1)
            let blocks = try await registry.blocks(of: Array(Set(found.map(\.placeID))))
            var folded: [String: NeedsReport.Repeated] = [:]
            // Requests filed at a compound or the community itself are nobody's building.
            for f in found {
                guard let b = blocks[f.placeID], b.isBuilding else { continue }
                let key = "\(b.id)|\(f.category)"
                var r = folded[key] ?? .init(placeID: b.id, name: b.name, code: f.category, category: names[f.category] ?? f.category, count: 0)
                r.count += f.count
                folded[key] = r
            }
            repeated = folded.values.filter { $0.count >= NeedsModel.repeatAtLeast }
                .sorted { ($0.count, $1.name, $1.code) > ($1.count, $0.name, $0.code) }
        }
        let gaps = try await linkage.serviceGaps(communities: try await communities(p)).map { g in
            NeedsReport.Gap(domain: g.domain, label: LinkageService.domains.first { $0.0 == g.domain }.map { lang == .en ? $0.2 : $0.1 } ?? g.domain,
                            needs: g.needs, supporters: g.supporters, communities: g.communities, uncoveredCommunities: g.uncoveredCommunities,
                            uncoveredNeeds: g.uncoveredNeeds)
        }
        return NeedsReport(placeID: p.id, placeName: p.name, level: isCommunity ? "community" : "street", months: months.map(NeedsModel.text), total: monthTotals.reduce(0, +),
                           monthTotals: monthTotals, categories: categories, areas: areas, rising: Array(rising), repeated: Array(repeated.prefix(50)),
                           repeatedFrom: ChinaTime.iso(day: start), repeatedTo: ChinaTime.iso(day: end), gaps: gaps)
    }

    /// The report as CSV: the months by category, then the rising categories and repeated buildings.
    static func needsCSV(_ r: NeedsReport, lang: Lang) -> String {
        let t = SituationCapability.words.table(lang)
        func line(_ cells: [String]) -> String { cells.map(CSVReader.escape).joined(separator: ",") }
        var lines = [line([t["requests_category"]!] + r.months + [t["needs_total"]!])]
        for c in r.categories { lines.append(line([c.name] + c.byMonth.map(String.init) + [String(c.total)])) }
        lines.append(line([t["needs_total"]!] + r.monthTotals.map(String.init) + [String(r.total)]))
        if !r.areas.isEmpty {
            lines.append("")
            lines.append(line([t["situation_area"]!, t["needs_total"]!, t["needs_top"]!]))
            for a in r.areas { lines.append(line([a.name, String(a.total), a.top ?? ""])) }
        }
        if !r.rising.isEmpty {
            lines.append("")
            lines.append(line([t["needs_rising"]!, t["needs_recent"]!, t["needs_before"]!, t["needs_change"]!]))
            for x in r.rising { lines.append(line([x.name, String(x.recent), String(x.before), "+\(x.change)"])) }
        }
        if !r.gaps.isEmpty {
            lines.append("")
            lines.append(line([t["needs_gap_domain"]!, t["needs_gap_needs"]!, t["needs_gap_supporters"]!, t["needs_gap_communities"]!, t["needs_gap_uncovered"]!]))
            for g in r.gaps { lines.append(line([g.label, String(g.needs), String(g.supporters), String(g.communities), String(g.uncoveredCommunities)])) }
        }
        if !r.repeated.isEmpty {
            lines.append("")
            lines.append(line([t["needs_repeated"]! + " \(r.repeatedFrom)–\(r.repeatedTo)", t["requests_category"]!, t["hotspot_count"]!]))
            for x in r.repeated { lines.append(line([x.name, x.category, String(x.count)])) }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
