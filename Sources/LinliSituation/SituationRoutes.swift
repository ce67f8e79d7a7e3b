import Foundation
import Hummingbird
import LinliCore
import LinliStore
import LinliServer

/// The situation map's page and its layers as JSON (the page's map draws from them; the tables
/// on the page are the same figures for a screen reader, a printout or a browser without the map).
struct SituationRoutes {
    let situation: SituationService
    let requests: RequestsService
    let renderer: Renderer

    func register(_ r: Routes) {
        r.get("/situation", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            let (place, places) = try await chosen(req, c)
            guard let place else {
                return renderer.page("situation", ["no_place": true], context: c, title: SituationCapability.words.table(c.lang)["situation_map"]!)
            }
            return try await page(c, place: place, places: places, from: q.get("from"), to: q.get("to"),
                                  category: q.get("category"), openOnly: q.get("open") == "1")
        }
        r.get("/api/v1/places/:id/situation/households", .action(.situationView)) { _, c in
            try JSON.response(try await situation.households(place: try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        r.get("/api/v1/places/:id/situation/grids", .action(.situationView)) { _, c in
            try JSON.response(try await situation.grids(place: try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/api/v1/places/:id/situation/requests", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await situation.requestLayer(place: try c.id("id"), from: q.get("from"), to: q.get("to"),
                                                                      category: q.get("category"), openOnly: q.get("open") == "1", actor: try c.requireActor()))
        }
        r.get("/api/v1/places/:id/situation/facilities", .action(.situationView)) { _, c in
            try JSON.response(try await situation.facilities(place: try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        r.get("/api/v1/places/:id/situation/uncovered", .action(.situationView)) { _, c in
            try JSON.response(try await situation.uncovered(place: try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        registerNeeds(r)
    }

    /// The place a page shows: `?place=` when the actor may see it (else 404; the choice lists at
    /// most 500 a grant, the check is the API's), or the first of their choice — community staff
    /// start at their community, street staff at their street; nil when they have none.
    func chosen(_ req: Request, _ c: AppContext) async throws -> (SituationPlace?, [SituationPlace]) {
        let actor = try c.requireActor()
        let places = try await situation.places(actor: actor)
        if let asked = try Input.id(req.uri.queryParameters.get("place"), field: "place") {
            return (try await situation.place(asked, actor: actor), places)
        }
        return (places.first, places)
    }

    func page(_ c: AppContext, place: SituationPlace, places: [SituationPlace], from: String?, to: String?, category: String?, openOnly: Bool) async throws -> Response {
        let t = SituationCapability.words.table(c.lang)
        let placeID = place.id
        let categories = try await requests.categories(lang: c.lang)
        var errors: [String: String] = [:]
        var layer: RequestLayerView?
        do {
            layer = try await situation.requestLayer(place, from: from, to: to, category: category, openOnly: openOnly)
        } catch {
            guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
            errors = fe
            // The map and tables still show, for the default period.
            layer = try await situation.requestLayer(place, from: nil, to: nil, category: nil, openOnly: openOnly)
        }
        // Households are counted once, for their table and for the grids' squares, beside the
        // coverage (two reads at once).
        async let coverage = situation.coverage(place)
        let counted = try await situation.blocks(place)
        let blocks = SituationService.views(counted, lang: c.lang)
        let grids = try await situation.grids(place, blocks: counted, coverage: try await coverage)
        let uncovered = try await situation.uncovered(place, lang: c.lang)
        let facilities = try await situation.registry.situationFacilities(place, lang: c.lang)
        let tags = ResidentTag.allCases.map(\.rawValue)
        let requestLayer = layer!
        var tagTotals: [String: Int] = [:]
        for b in blocks { for s in b.situations { tagTotals[s.situation, default: 0] += s.households } }
        let commonest = tags.max { (tagTotals[$0] ?? 0) < (tagTotals[$1] ?? 0) }
        // A square's name is the nearest building (compound, on a street's map) to its middle.
        let positioned = blocks.compactMap { b in b.lat.flatMap { lat in b.lng.map { (name: b.name, lat: lat, lng: $0) } } }
        let square = String(format: t["hotspot_square"]!, Int((requestLayer.cell * 111_000).rounded()))
        func near(_ lat: Double, _ lng: Double) -> String {
            SituationModel.nearest(positioned, lat: lat, lng: lng).map { "\($0) · \(square)" } ?? square
        }
        let hotspots = requestLayer.cells.prefix(20).map { cell -> [String: Any] in
            ["where": cell.place ?? near(cell.lat, cell.lng), "count": cell.count]
        }
        var query = "from=\(requestLayer.from)&to=\(requestLayer.to)"
        if let cat = requestLayer.category { query += "&category=" + (cat.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") }
        if openOnly { query += "&open=1" }
        let categoryName = requestLayer.category.flatMap { code in categories.first { $0.code == code }?.name } ?? t["requests_all_categories"]!
        var data: [String: Any] = [
            "place_id": placeID, "place_name": place.name, "query": query,
            "places": places.map { ["value": $0.id, "label": $0.name, "selected": $0.id == placeID] }, "many_places": places.count > 1,
            "from": requestLayer.from, "to": requestLayer.to, "open_only": openOnly,
            "period": "\(requestLayer.from) – \(requestLayer.to)", "category_name": categoryName,
            "categories": categories.map { ["value": $0.code, "label": $0.name, "selected": $0.code == requestLayer.category] },
            // The map colours buildings by the situation most households have, until one is chosen.
            "situations": tags.map { ["value": $0, "label": SituationCapability.words.label($0, c.lang), "selected": $0 == commonest] },
            "total": requestLayer.total, "unplaced": requestLayer.unplaced, "has_unplaced": requestLayer.unplaced > 0,
            "hotspots": hotspots, "has_hotspots": !hotspots.isEmpty,
            "grids": grids.map { g -> [String: Any] in
                ["name": g.name, "households": g.households, "planned": g.planned, "covered": g.covered,
                 "rate": g.rate.map { "\($0)%" } ?? "—", "band": g.band, "overdue": g.overdue, "has_overdue": g.overdue > 0]
            },
            "no_grids": grids.isEmpty,
            "uncovered": uncovered.map { ["name": $0.name, "lacks": $0.missing.joined(separator: "、")] }, "no_uncovered": uncovered.isEmpty,
            "block_heading": place.kind.rank >= 3 ? t["situation_block"]! : t["situation_compound"]!,
            "blocks": blocks.map { b -> [String: Any] in
                let counts = Dictionary(b.situations.map { ($0.situation, $0.households) }, uniquingKeysWith: +)
                return ["name": b.name, "households": b.households, "counts": tags.map { String(counts[$0] ?? 0) }]
            },
            "no_blocks": blocks.isEmpty,
            "facilities": facilities.map { ["name": $0.name, "label": $0.label] }, "no_facilities": facilities.isEmpty,
        ]
        for (k, v) in errors { data["error_" + k] = v }
        // A refused period stays in its fields as typed, beside its message (the map shows the default).
        if !errors.isEmpty { data["from"] = from ?? ""; data["to"] = to ?? "" }
        var resp = renderer.page("situation", data, context: c, title: t["situation_map"]! + " · " + place.name)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }
}

extension SituationRoutes {
    func registerNeeds(_ r: Routes) {
        r.get("/needs-analysis", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            let t = SituationCapability.words.table(c.lang)
            let (place, places) = try await chosen(req, c)
            guard let place else {
                return renderer.page("needs_analysis", ["no_place": true], context: c, title: t["needs_analysis"]!)
            }
            var errors: [String: String] = [:]
            let report: NeedsReport
            do {
                report = try await situation.needs(place, fromMonth: q.get("from_month"), toMonth: q.get("to_month"), lang: c.lang)
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                errors = fe
                report = try await situation.needs(place, fromMonth: nil, toMonth: nil, lang: c.lang)
            }
            var data = needsFields(report, places: places, lang: c.lang)
            data["from_month"] = q.get("from_month").map { String($0) } ?? report.months.first ?? ""
            data["to_month"] = q.get("to_month").map { String($0) } ?? report.months.last ?? ""
            for (k, v) in errors { data["error_" + k] = v }
            var resp = renderer.page("needs_analysis", data, context: c, title: t["needs_analysis"]! + " · " + report.placeName)
            if !errors.isEmpty { resp.status = .unprocessableContent }
            return resp
        }
        r.get("/needs-analysis.csv", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            guard let id = try Input.id(q.get("place"), field: "place") else { throw LinliError.invalid("place", "required", "请选择地区") }
            let report = try await situation.needs(place: id, fromMonth: q.get("from_month"), toMonth: q.get("to_month"), actor: try c.requireActor(), lang: c.lang)
            return RequestsRoutes.csv(SituationService.needsCSV(report, lang: c.lang),
                                      name: "needs-\(id)-\(report.months.first ?? "")-\(report.months.last ?? "").csv")
        }
        r.get("/api/v1/places/:id/needs", .action(.situationView)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await situation.needs(place: try c.id("id"), fromMonth: q.get("from_month"), toMonth: q.get("to_month"),
                                                               actor: try c.requireActor(), lang: c.lang))
        }
    }

    func needsFields(_ r: NeedsReport, places: [SituationPlace], lang: Lang) -> [String: Any] {
        let t = SituationCapability.words.table(lang)
        // The five categories asked for most, one line each (the month's total, ten times larger,
        // would flatten them; it is in the table).
        let top = Array(r.categories.prefix(5))
        let chart = ChartSpec(type: "line", labels: r.months, datasets:
            top.map { .init(label: $0.name, data: $0.byMonth.map(Double.init), axis: "count", kind: "line") })
        return [
            "place_id": r.placeID, "place_name": r.placeName,
            "places": places.map { ["value": $0.id, "label": $0.name, "selected": $0.id == r.placeID] }, "many_places": places.count > 1,
            "months": r.months, "total": r.total, "none": r.total == 0,
            "trend_chart": FigureCharts.json(chart),
            "month_rows": r.months.enumerated().map { i, m -> [String: Any] in
                ["month": m, "total": r.monthTotals[i], "counts": top.map { String($0.byMonth[i]) }]
            },
            "top_names": top.map(\.name),
            "categories": r.categories.map { ["name": $0.name, "total": $0.total] },
            "areas": r.areas.map { ["name": $0.name, "total": $0.total, "top": $0.top ?? "—"] }, "has_areas": !r.areas.isEmpty,
            "rising": r.rising.map { x -> [String: Any] in
                ["name": x.name, "recent": x.recent, "before": x.before, "change": "+\(x.change)",
                 "percent": x.percent.map { "+\($0)%" } ?? t["needs_new"]!]
            },
            "has_rising": !r.rising.isEmpty,
            "repeated": r.repeated.map { ["name": $0.name, "category": $0.category, "count": $0.count] }, "has_repeated": !r.repeated.isEmpty,
            "repeated_from": r.repeatedFrom, "repeated_to": r.repeatedTo, "is_street": r.level == "street",
            "gaps": r.gaps.map { g -> [String: Any] in
                ["label": g.label, "needs": g.needs, "supporters": g.supporters, "communities": g.communities,
                 "uncovered_communities": g.uncoveredCommunities, "gap": g.uncoveredCommunities > 0]
            },
            "has_gaps": !r.gaps.isEmpty,
            "csv_query": "place=\(r.placeID)&from_month=\(r.months.first ?? "")&to_month=\(r.months.last ?? "")",
        ]
    }
}
