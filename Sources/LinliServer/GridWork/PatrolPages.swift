import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Patrols (巡查): a grid's routes against their schedule, a route's check points (set by the
/// grid worker or the community), the form walked on the phone point by point, and the record
/// of each patrol with the requests its findings became. Each with its JSON twin.
extension GridWorkRoutes {
    func registerPatrols(_ r: Routes) {
        r.get("/patrols", .action(.visitLog)) { req, c in
            try await patrolsPage(req, c)
        }
        r.get("/api/v1/patrol-routes", .action(.visitLog)) { req, c in
            let community = try Input.id(req.uri.queryParameters.get("community"), field: "community")
            return try JSON.response(try await gridWork.routes(community: community, actor: try c.requireActor(), retired: req.uri.queryParameters.get("retired") == "1"))
        }
        r.get("/patrol-routes/new", .action(.visitLog)) { req, c in
            try await routeForm(c, route: nil, grid: try Input.id(req.uri.queryParameters.get("grid"), field: "grid"), values: nil, errors: [:])
        }
        r.post("/patrol-routes", .action(.visitLog)) { _, c in
            let input = Self.routeInput(c.form)
            do {
                let saved = try await gridWork.saveRoute(nil, input, actor: try c.requireActor())
                return redirect("/patrol-routes/\(saved.id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                var resp = try await routeForm(c, route: nil, grid: input.gridID, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.post("/api/v1/patrol-routes", .action(.visitLog), body: PatrolRouteInput.self) { _, c, input in
            try JSON.response(try await gridWork.saveRoute(nil, input, actor: try c.requireActor()), status: .created)
        }
        r.get("/patrol-routes/:id", .action(.visitLog)) { _, c in
            let (route, patrols) = try await gridWork.route(try c.id("id"), actor: try c.requireActor())
            return try await routePage(c, route, patrols)
        }
        r.get("/api/v1/patrol-routes/:id", .action(.visitLog)) { _, c in
            let (route, patrols) = try await gridWork.route(try c.id("id"), actor: try c.requireActor())
            return try JSON.response(RouteDetail(route: route, patrols: patrols))
        }
        r.get("/patrol-routes/:id/edit", .action(.visitLog)) { _, c in
            let (route, _) = try await gridWork.route(try c.id("id"), actor: try c.requireActor())
            return try await routeForm(c, route: route, grid: route.gridID, values: nil, errors: [:])
        }
        r.post("/patrol-routes/:id", .action(.visitLog)) { _, c in
            let id = try c.id("id"), actor = try c.requireActor()
            var input = Self.routeInput(c.form)
            input.active = c.form["active"] != "0"
            do {
                _ = try await gridWork.saveRoute(id, input, actor: actor)
                return redirect("/patrol-routes/\(id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                let (route, _) = try await gridWork.route(id, actor: actor)
                var resp = try await routeForm(c, route: route, grid: route.gridID, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.put("/api/v1/patrol-routes/:id", .action(.visitLog), body: PatrolRouteInput.self) { _, c, input in
            try JSON.response(try await gridWork.saveRoute(try c.id("id"), input, actor: try c.requireActor()))
        }
        r.get("/patrol-routes/:id/walk", .action(.visitLog)) { _, c in
            let (route, _) = try await gridWork.route(try c.id("id"), actor: try c.requireActor())
            return try await walkForm(c, route, values: FormData(), errors: [:])
        }
        r.post("/patrols", .action(.visitLog)) { _, c in
            let actor = try c.requireActor()
            let input = Self.patrolInput(c.form)
            do {
                // Each point's photos come as files named `check.N.photos`.
                var photos: [Int: [[UInt8]]] = [:]
                for f in c.files where !f.bytes.isEmpty {
                    let parts = f.field.split(separator: ".")
                    if parts.count == 3, parts[0] == "check", parts[2] == "photos", let n = Int(parts[1]), (1...PatrolRules.pointsMax).contains(n) {
                        photos[n, default: []].append(f.bytes)
                    }
                }
                let (p, _) = try await gridWork.recordPatrol(input, photos: photos, actor: actor)
                return redirect("/patrols/\(p.id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error), let id = input.routeID else { throw error }
                let (route, _) = try await gridWork.route(id, actor: actor)
                var resp = try await walkForm(c, route, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        // Photos travel as base64, so a patrol's body may be larger than others.
        r.post("/api/v1/patrols", .action(.visitLog), body: PatrolInput.self, upTo: RequestLimits.apiBodyMax) { _, c, input in
            let (p, created) = try await gridWork.recordPatrol(input, actor: try c.requireActor())
            return try JSON.response(p, status: created ? .created : .ok)
        }
        r.get("/patrols/:id", .action(.visitLog)) { _, c in
            let p = try await gridWork.patrol(try c.id("id"), actor: try c.requireActor())
            let unfiled = p.checks.contains { $0.result == .finding && !$0.handled && $0.requestID == nil }
            return renderer.page("patrol", ["id": p.id, "route_id": p.routeID, "route": p.routeName, "by": p.by, "at": p.patrolledAt, "findings": p.findings,
                                            "checks": p.checks.map { checkItem($0, c.lang) }, "unfiled": unfiled, "erased": p.erased,
                                            "has_track": (p.track?.count ?? 0) > 0, "track_json": JSON.string(p.track ?? []),
                                            "track_km": String(format: "%.1f", Double(p.trackMetres ?? 0) / 1000)], context: c,
                                 title: I18n.table(c.lang)["patrol_record"]! + " · " + p.routeName)
        }
        r.post("/patrols/:id/file", .action(.visitLog)) { _, c in
            let id = try c.id("id")
            _ = try await gridWork.fileFindings(patrol: id, actor: try c.requireActor())
            return redirect("/patrols/\(id)")
        }
        r.post("/api/v1/patrols/:id/file", .action(.visitLog)) { _, c in
            try JSON.response(try await gridWork.fileFindings(patrol: try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/api/v1/patrols/:id", .action(.visitLog)) { _, c in
            try JSON.response(try await gridWork.patrol(try c.id("id"), actor: try c.requireActor()))
        }
    }

    struct RouteDetail: Codable { var route: PatrolRouteView; var patrols: [PatrolView] }

    /// Rows of the points form: `point.N.label` and `point.N.place` (a place picked or typed).
    static func routeInput(_ f: FormData) -> PatrolRouteInput {
        var i = PatrolRouteInput()
        i.gridID = f.int("grid_id"); i.name = f["name"]; i.period = f.nonEmpty("period")
        var points: [PatrolRules.Point] = []
        for n in Self.filledRows(f) {
            let label = (f["point.\(n).label"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            points.append(PatrolRules.Point(label: label, placeID: f.int("point.\(n).place")))
        }
        i.points = points
        return i
    }

    /// The rows of the points form with anything in them (a place without a name is kept, so
    /// that the missing name is asked for, not the place silently dropped); `points[i]` is the
    /// i-th of these rows.
    static func filledRows(_ f: FormData) -> [Int] {
        (1...PatrolRules.pointsMax + 10).filter { n in
            !(f["point.\(n).label"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || !(f["point.\(n).place"] ?? "").isEmpty
        }
    }

    /// The walk form's fields: `check.N.result`, `.finding`, `.note`, `.handled`, `.category`.
    static func patrolInput(_ f: FormData) -> PatrolInput {
        var i = PatrolInput()
        i.routeID = f.int("route_id"); i.clientKey = f.nonEmpty("client_key"); i.patrolledAt = f.nonEmpty("patrolled_at")
        // The track the page's script recorded, as JSON; anything else is no track (the box is the script's, not typed).
        i.track = f.nonEmpty("track").flatMap { try? JSONDecoder().decode([[Double]].self, from: Data($0.utf8)) }
        let positions = Set(f.values.keys.compactMap { k -> Int? in
            let parts = k.split(separator: ".")
            return parts.count == 3 && parts[0] == "check" ? Int(parts[1]) : nil
        }).sorted()
        i.checks = positions.map { n in
            var c = PatrolCheckInput()
            c.position = n; c.result = f.nonEmpty("check.\(n).result"); c.finding = f.nonEmpty("check.\(n).finding")
            c.note = f["check.\(n).note"]; c.handled = f["check.\(n).handled"] == "1"; c.requestCategory = f.nonEmpty("check.\(n).category")
            return c
        }
        return i
    }


    func routeItem(_ r: PatrolRouteView, _ lang: Lang) -> TemplateValue { .object(VisitsPage.routeItem(r, lang)) }

    func checkItem(_ c: PatrolCheckView, _ lang: Lang) -> [String: Any] {
        var d: [String: Any] = ["position": c.position, "label": c.label, "result": I18n.label("patrol_result_" + c.result.rawValue, lang),
                                "finding": c.result == .finding, "note": c.note, "handled": c.handled, "photos": c.photos, "has_photos": !c.photos.isEmpty]
        if let f = c.finding { d["kind"] = I18n.label("patrol_finding_" + f.rawValue, lang) }
        if let id = c.requestID { d["request_id"] = id }
        d["not_filed"] = c.result == .finding && !c.handled && c.requestID == nil
        return d
    }

    func patrolsPage(_ req: Request, _ c: AppContext) async throws -> Response {
        let actor = try c.requireActor()
        let t = I18n.table(c.lang)
        var data: [String: Any] = [:]
        if !GridWorkService.workerGrids(actor).isEmpty {
            let mine = try await gridWork.routes(community: nil, actor: actor)
            data["worker"] = true
            data["mine"] = mine.map { routeItem($0, c.lang) }
            data["mine_none"] = mine.isEmpty
        }
        if actor.may(.visitPlan) {
            let picked = try await pick(req, c)
            if let community = picked.id {
                let list = try await gridWork.routes(community: community, actor: actor, retired: true)
                data["staff"] = true
                data["communities"] = picked.options
                data["many_communities"] = picked.options.count > 1
                data["items"] = list.map { routeItem($0, c.lang) }
                data["none"] = list.isEmpty
            }
        }
        return renderer.page("patrols", data, context: c, title: t["patrols"]!)
    }

    func routeForm(_ c: AppContext, route: PatrolRouteView?, grid: Int64?, values: FormData?, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let t = I18n.table(c.lang)
        // The grids the actor may give a route to: a worker's own, staff's whole community's.
        let choices = try await gridWork.patrolGridChoices(actor: actor)
        if let grid, !choices.contains(where: { $0.id == grid }) { throw LinliError.notFound }
        let chosen = grid ?? route?.gridID ?? choices.first?.id
        let points = route?.points ?? []
        let rows = max(8, points.count + 4)
        let period = values?["period"] ?? route?.period.rawValue ?? "week"
        // The picked places by name, as the picker shows them once chosen.
        let names = try await gridWork.placeNames(points.compactMap(\.placeID) + (1...rows).compactMap { values?.int("point.\($0).place") }, actor: actor)
        var data: [String: Any] = [
            "editing": route != nil, "id": route?.id ?? 0, "name": values?["name"] ?? route?.name ?? "",
            "grids": choices.map { ["value": $0.id, "label": $0.name, "selected": $0.id == chosen] }, "fixed_grid": route?.gridName ?? "",
            "periods": PatrolPeriod.allCases.map { ["value": $0.rawValue, "label": I18n.label("patrol_period_" + $0.rawValue, c.lang), "checked": $0.rawValue == period] },
            "points": (1...rows).map { n -> [String: Any] in
                let p = n <= points.count ? points[n - 1] : nil
                let place = values?["point.\(n).place"] ?? p?.placeID.map(String.init) ?? ""
                // Errors name the i-th filled row; shown beside that row.
                let i = values.flatMap { Self.filledRows($0).firstIndex(of: n) } ?? (n - 1)
                let error = errors["points[\(i)].label"] ?? errors["points[\(i)].place_id"]
                return ["n": n, "label": values?["point.\(n).label"] ?? p?.label ?? "", "place": place,
                        "place_name": Int64(place).flatMap { names[$0] } ?? place, "error": error ?? "", "has_error": error != nil]
            },
            "active": route?.active ?? true, "no_grid": choices.isEmpty,
        ]
        for (k, v) in errors { data["error_" + k] = v }
        return renderer.page("patrol_route_form", data, context: c, title: route.map { t["patrol_route_edit"]! + " · " + $0.name } ?? t["patrol_route_new"]!)
    }

    func routePage(_ c: AppContext, _ r: PatrolRouteView, _ patrols: [PatrolView]) async throws -> Response {
        let t = I18n.table(c.lang)
        var data = VisitsPage.routeItem(r, c.lang).dictionary
        data["point_list"] = r.points.enumerated().map { ["n": $0.offset + 1, "label": $0.element.label] as [String: Any] }
        data["patrols"] = patrols.map { p -> [String: Any] in
            ["id": p.id, "at": p.patrolledAt, "by": p.by, "findings": p.findings, "has_findings": p.findings > 0]
        }
        data["has_patrols"] = !patrols.isEmpty
        return renderer.page("patrol_route", data, context: c, title: t["patrol_route"]! + " · " + r.name)
    }

    func walkForm(_ c: AppContext, _ r: PatrolRouteView, values: FormData, errors: [String: String]) async throws -> Response {
        let t = I18n.table(c.lang)
        let categories = try await gridWork.requestCategories()
        let names = Dictionary(try await requests.categories(lang: c.lang).map { ($0.code, $0.name) }, uniquingKeysWith: { a, _ in a })
        var data: [String: Any] = [
            "route_id": r.id, "name": r.name, "grid": r.gridName, "active": r.active,
            "client_key": values["client_key"] ?? gridWork.env.token(), "patrolled_at": values["patrolled_at"] ?? "",
            // A track recorded before a refusal is kept on the page, to be sent with the patrol.
            "track": values["track"] ?? "",
            "checks": r.points.enumerated().map { i, p -> [String: Any] in
                let n = i + 1
                let result = values["check.\(n).result"] ?? ""
                let finding = values["check.\(n).finding"] ?? ""
                let category = values["check.\(n).category"] ?? ""
                var d: [String: Any] = [
                    "n": n, "label": p.label,
                    "results": PatrolResult.allCases.map { ["value": $0.rawValue, "label": I18n.label("patrol_result_" + $0.rawValue, c.lang), "checked": $0.rawValue == result] },
                    "findings": PatrolFinding.allCases.map { ["value": $0.rawValue, "label": I18n.label("patrol_finding_" + $0.rawValue, c.lang), "selected": $0.rawValue == finding] },
                    // Empty: the kind's usual category (the use case picks it).
                    "categories": categories.map { ["value": $0.code, "label": names[$0.code] ?? $0.name, "selected": $0.code == category] },
                    "note": values["check.\(n).note"] ?? "", "handled": values["check.\(n).handled"] == "1",
                ]
                for k in ["result", "finding", "note", "category", "photos"] { if let e = errors["checks[\(i)].\(k)"] { d["error_" + k] = e } }
                return d
            },
        ]
        for (k, v) in errors where !k.hasPrefix("checks[") { data["error_" + k] = v }
        return renderer.page("patrol_walk", data, context: c, title: t["patrol_walk"]! + " · " + r.name)
    }
}
