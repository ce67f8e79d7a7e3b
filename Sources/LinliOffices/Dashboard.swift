import Foundation
import SQLKit
import LinliCore
import LinliServer
import LinliDeliberation
import LinliStore

public struct DashboardRow: Codable, Sendable {
    public var placeID: Int64
    public var name: String
    public var kind: String
    /// The next level's dashboard, or the community's own page.
    public var link: String
    public var figures: AreaFigures
    public var onTime: String
    public var satisfaction: String
    public var visitCoverage: String
    public var propertyCoverage: String
    public var ownersCommitteeCoverage: String
    public var partyBranchCoverage: String
    public var volunteerHours: String
    public var raised: String
    public var matched: String
    enum CodingKeys: String, CodingKey {
        case placeID = "place_id", name, kind, link, figures, onTime = "on_time", satisfaction, visitCoverage = "visit_coverage"
        case propertyCoverage = "property_coverage", ownersCommitteeCoverage = "owners_committee_coverage", partyBranchCoverage = "party_branch_coverage"
        case volunteerHours = "volunteer_hours", raised, matched
    }

    init(placeID: Int64, name: String, kind: String, link: String, figures f: AreaFigures) {
        self.placeID = placeID; self.name = name; self.kind = kind; self.link = link; self.figures = f
        onTime = DashboardRules.share(f.onTime, f.resolved)
        satisfaction = DashboardRules.average(f.ratingSum, f.rated)
        visitCoverage = DashboardRules.share(f.visited, f.households)
        propertyCoverage = DashboardRules.share(f.withProperty, f.compounds)
        ownersCommitteeCoverage = DashboardRules.share(f.withOwnersCommittee, f.compounds)
        partyBranchCoverage = DashboardRules.share(f.withPartyBranch, f.compounds)
        volunteerHours = IndicatorRules.text(f.volunteerMinutes * 100 / 60)
        raised = Fen.text(f.raised); matched = Fen.text(f.matched)
    }
}

public struct DashboardView: Codable, Sendable {
    public var placeID: Int64
    public var name: String
    public var kind: String
    public var from: String
    public var to: String
    /// The level above, when the viewer may see it.
    public var upID: Int64?
    public var total: DashboardRow
    public var rows: [DashboardRow]
    enum CodingKeys: String, CodingKey { case placeID = "place_id", name, kind, from, to, upID = "up_id", total, rows }
}

extension OfficesService {
    /// A city's, district's or street's figures for a period, by the places one level below,
    /// every capability's part read in a few grouped queries over all of the area's communities.
    public func dashboard(placeID: Int64, from rawFrom: String?, to rawTo: String?, actor: Actor) async throws -> DashboardView {
        let today = LocalDay.of(env.nowSeconds)
        let fromDay = try Input.day(rawFrom, field: "from") ?? LocalDay.month(of: today).first
        let toDay = try Input.day(rawTo, field: "to") ?? today
        guard toDay >= fromDay, toDay - fromDay <= 3660 else { throw LinliError.invalid("to", "invalid", "截止日应在起始日之后，跨度不超过十年") }
        let from = LocalDay.start(fromDay), to = LocalDay.start(toDay + 1)
        return try await store.readHeavy { db in
            guard let p = try await place(db, placeID), Self.listPlaceKinds.contains(p.kind) else { throw LinliError.notFound }
            try actor.require(.dashboardView, on: ObjectScope(path: p.path))
            let depth = PlacePath.ids(p.path).count
            let children = try await db.query("SELECT id, kind, name FROM places WHERE parent_id = \(placeID) ORDER BY id").all().map {
                (id: try $0.decode(column: "id", as: Int64.self), kind: try $0.decode(column: "kind", as: String.self), name: try $0.decode(column: "name", as: String.self))
            }
            var childOf: [Int64: Int64] = [:]
            for r in try await db.query("SELECT id, path FROM places WHERE kind IN ('community', 'village') AND path LIKE \(p.path + "%")").all() {
                let ids = PlacePath.ids(try r.decode(column: "path", as: String.self))
                if ids.count > depth { childOf[try r.decode(column: "id", as: Int64.self)] = ids[depth] }
            }
            let communities = Array(childOf.keys)
            var figures: [Int64: AreaFigures] = Dictionary(uniqueKeysWithValues: communities.map { c in var f = AreaFigures(); f.communities = 1; return (c, f) })
            func each<T>(_ m: [Int64: T], _ set: (inout AreaFigures, T) -> Void) { for (c, v) in m where figures[c] != nil { set(&figures[c]!, v) } }
            each(try await RequestsService.areaCounts(db, communityIDs: communities, from: from, to: to)) {
                $0.requests = $1.made; $0.escalated = $1.escalated; $0.ratingSum = $1.ratingSum; $0.rated = $1.rated; $0.resolved = $1.resolved; $0.onTime = $1.onTime
            }
            each(try await DeliberationService.deliberationCounts(db, under: p.path, from: from, to: to)) { $0.matters = $1.matters; $0.votes = $1.votes; $0.decisionsDone = $1.done }
            each(try await LinkageService.linkageCounts(db, communityIDs: communities, from: from, to: to)) { $0.volunteers = $1.volunteers; $0.raised = $1.raised; $0.matched = $1.matched }
            each(try await LinkageService.volunteerMinutes(db, communityIDs: communities, from: from, to: to)) { $0.volunteerMinutes = $1 }
            each(try await GridWorkService.householdsVisited(db, communityIDs: communities, from: from, to: to)) { $0.visited = $1 }
            each(try await RegistryService.population(db, communityIDs: communities)) { $0.residents = $1.residents; $0.households = $1.households }
            each(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .propertyCompany)) { $0.withProperty = $1.0; $0.compounds = $1.1 }
            each(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .ownersCommittee)) { $0.withOwnersCommittee = $1.0 }
            each(try await RegistryService.compoundCoverage(db, communityIDs: communities, kind: .partyBranch)) { $0.withPartyBranch = $1.0 }
            let rolled = DashboardRules.roll(figures, childOf: childOf)
            let rows = children.filter { rolled[$0.id] != nil || ["district", "street", "town"].contains($0.kind) }.map { c in
                DashboardRow(placeID: c.id, name: c.name, kind: c.kind,
                             link: ["district", "street", "town"].contains(c.kind) ? "/dashboard/\(c.id)" : "/places/\(c.id)", figures: rolled[c.id] ?? AreaFigures())
            }
            let total = rows.reduce(AreaFigures()) { $0 + $1.figures }
            let parent = PlacePath.ids(p.path).dropLast().last
            let up = parent.flatMap { id -> Int64? in
                let path = PlacePath.ids(p.path).dropLast().map(String.init).joined(separator: "/")
                return actor.may(.dashboardView, on: ObjectScope(path: "/" + path + "/")) ? id : nil
            }
            return DashboardView(placeID: placeID, name: p.name, kind: p.kind, from: Self.dayText(fromDay), to: Self.dayText(toDay), upID: up,
                                 total: DashboardRow(placeID: placeID, name: p.name, kind: p.kind, link: "/dashboard/\(placeID)", figures: total), rows: rows)
        }
    }

    /// The same as a spreadsheet (UTF-8 with a byte-order mark, so that Excel reads the Chinese).
    public static func csv(_ v: DashboardView) -> String {
        let head = ["地区", "诉求件数", "升级督办", "办结", "按期办结率", "满意度", "议题", "表决", "决议落实", "志愿者", "志愿时长（小时）",
                    "募集（元）", "配捐（元）", "走访覆盖率", "住户", "居民", "小区", "物业覆盖率", "业委会覆盖率", "党支部覆盖率"]
        func line(_ r: DashboardRow) -> [String] {
            let f = r.figures
            return [r.name, String(f.requests), String(f.escalated), String(f.resolved), r.onTime, r.satisfaction, String(f.matters), String(f.votes),
                    String(f.decisionsDone), String(f.volunteers), r.volunteerHours, r.raised.replacingOccurrences(of: ",", with: ""),
                    r.matched.replacingOccurrences(of: ",", with: ""), r.visitCoverage, String(f.households), String(f.residents), String(f.compounds),
                    r.propertyCoverage, r.ownersCommitteeCoverage, r.partyBranchCoverage]
        }
        // One escaping for every export: a leading formula character (= + - @, tab, CR) is
        // neutralised (CSV injection), quotes where the cell needs them.
        let cell = CSVReader.escape
        var out = "\u{FEFF}" + head.map(cell).joined(separator: ",") + "\r\n"
        for r in v.rows + [v.total] { out += line(r).map(cell).joined(separator: ",") + "\r\n" }
        return out
    }
}
