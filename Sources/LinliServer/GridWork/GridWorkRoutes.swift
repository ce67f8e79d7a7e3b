import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Grid work's pages and their API twins: the due list, the visit form (which keeps a visit on
/// the phone while there is no signal), a household's visit record, the community's plan and
/// its coverage by grid.
struct GridWorkRoutes {
    let gridWork: GridWorkService
    let requests: RequestsService
    let renderer: Renderer

    func register(_ r: Routes) {
        registerAnnouncements(r)
        registerTasks(r)
        registerPatrols(r)
        r.get("/visits", .action(.visitLog)) { req, c in
            let actor = try c.requireActor()
            let grid = try Input.id(req.uri.queryParameters.get("grid"), field: "grid")
            // Staff without a grid of their own start from the community's coverage, which links each grid.
            if grid == nil, !actor.grants(for: .visitLog).contains(where: { $0.gridID != nil }) { return redirect("/visits/coverage") }
            return try await duePage(c, gridID: grid, all: req.uri.queryParameters.get("all") == "1", errors: [:], code: nil)
        }
        r.get("/api/v1/visits/due", .action(.visitLog)) { req, c in
            let q = req.uri.queryParameters
            return try JSON.response(try await gridWork.due(gridID: try Input.id(q.get("grid"), field: "grid"), actor: try c.requireActor(), all: q.get("all") == "1"))
        }
        r.get("/visits/new", .action(.visitLog)) { req, c in
            let q = req.uri.queryParameters
            let id = try Input.id(q.get("household"), field: "household")
            do {
                let code: String? = q.get("code").map { String($0) }
                let target = try await gridWork.visitTarget(householdID: id, code: code, actor: try c.requireActor())
                // The grid whose list the visit was opened from: the form returns there.
                var values = FormData()
                if let grid = q.get("grid").flatMap({ Int64($0) }) { values.values["return_grid"] = [String(grid)] }
                return try await formPage(c, target.household, followUpPending: target.followUpPending, values: values, errors: [:])
            } catch let e as LinliError where e.status == .unprocessableContent {
                // A code that names no household of the grid: back to the list, the message beside the field.
                var resp = try await duePage(c, gridID: q.get("grid").flatMap { Int64($0) }, all: false, errors: ["code": e.message], code: q.get("code").map { String($0) })
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.post("/visits", .action(.visitLog)) { _, c in
            let actor = try c.requireActor()
            let input = Self.input(c.form)
            do {
                _ = try await gridWork.logVisit(input, photos: c.files.filter { $0.field == "photos" }.map(\.bytes), actor: actor)
                return redirect(c.form.int("return_grid").map { "/visits?grid=\($0)" } ?? "/visits")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error), let id = input.householdID else { throw error }
                let target = try await gridWork.visitTarget(householdID: id, code: nil, actor: actor)
                var resp = try await formPage(c, target.household, followUpPending: target.followUpPending, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        // Photos travel as base64, so a visit's body may be larger than others.
        r.post("/api/v1/visits", .action(.visitLog), body: VisitInput.self, upTo: RequestLimits.apiBodyMax) { req, c, input in
            let (visit, created) = try await gridWork.logVisit(input, actor: try c.requireActor())
            return try JSON.response(visit, status: created ? .created : .ok)
        }
        r.get("/households/:id/visits", .action(.visitLog)) { _, c in
            let (h, visits) = try await gridWork.history(household: try c.id("id"), actor: try c.requireActor())
            let t = I18n.table(c.lang)
            let rows = visits.map { v -> [String: Any] in
                var d: [String: Any] = ["when": v.visitedAt, "by": v.by, "kind": I18n.label("visit_kind_" + v.kind, c.lang),
                                        "outcome": I18n.label("outcome_" + v.outcome, c.lang), "attention": v.outcome == "needs_help" || v.outcome == "refused",
                                        "note": v.note]
                if let x = v.careGiven { d["care"] = x + (v.carePaidBy.map { "（\($0)）" } ?? "") }
                if let x = v.followUpOn { d["follow_up"] = x }
                if let x = v.followResult { d["follow_result"] = I18n.label("follow_" + x, c.lang) }
                if let x = v.referralTo { d["referral"] = x }
                if let x = v.requestID { d["request_id"] = x }
                if v.needID != nil { d["need_posted"] = true }
                d["has_photos"] = !v.photos.isEmpty
                d["photos"] = v.photos
                d["erased"] = v.erased
                return d
            }
            return renderer.page("visit_history", ["household_id": h.id, "address": h.address, "visits": rows, "none": rows.isEmpty],
                                 context: c, title: t["visit_history"]! + " · " + h.address)
        }
        // Photos of visits and patrol findings, only through the use case that checks who asks.
        r.get("/gridwork-photos/:id", .action(.visitLog)) { _, c in
            let bytes = try await gridWork.photo(try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        r.get("/api/v1/households/:id/visits", .action(.visitLog)) { _, c in
            try JSON.response(try await gridWork.history(household: try c.id("id"), actor: try c.requireActor()).1)
        }
        r.get("/visits/plan", .action(.visitPlan)) { req, c in
            let picked = try await pick(req, c)
            guard let id = picked.id else { return renderer.page("visit_plan", ["no_community": true], context: c, title: I18n.table(c.lang)["visit_plan"]!) }
            return try await planPage(c, try await gridWork.rules(community: id, actor: try c.requireActor()), picked: picked, errors: [:])
        }
        r.post("/visits/plan", .action(.visitPlan)) { _, c in
            let actor = try c.requireActor()
            guard let community = c.form.int("community_id") else { throw LinliError.invalid("community_id", "required", "请选择社区") }
            let current = try await gridWork.rules(community: community, actor: actor)
            do {
                try await gridWork.setRules(community: community, try Self.rules(c.form, grids: current.grids), actor: actor)
                return redirect("/visits/plan?community=\(community)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                let picked = Picked(id: community, options: [])
                var resp = try await planPage(c, current, picked: picked, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        // How long visit and patrol notes and photos are kept (the sweep erases older ones).
        r.post("/visits/retention", .action(.visitPlan)) { _, c in
            let actor = try c.requireActor()
            guard let community = c.form.int("community_id") else { throw LinliError.invalid("community_id", "required", "请选择社区") }
            do {
                _ = try await gridWork.setRetention(community: community, RetentionInput(months: c.form.int("months").map(Int.init)), actor: actor)
                return redirect("/visits/plan?community=\(community)#retention")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                var resp = try await planPage(c, try await gridWork.rules(community: community, actor: actor), picked: Picked(id: community, options: []), errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/api/v1/communities/:id/gridwork-retention", .action(.visitPlan)) { _, c in
            try JSON.response(try await gridWork.retention(community: try c.id("id"), actor: try c.requireActor()))
        }
        r.put("/api/v1/communities/:id/gridwork-retention", .action(.visitPlan), body: RetentionInput.self) { _, c, input in
            try JSON.response(try await gridWork.setRetention(community: try c.id("id"), input, actor: try c.requireActor()))
        }
        r.get("/api/v1/communities/:id/visit-rules", .action(.visitPlan)) { _, c in
            try JSON.response(try await gridWork.rules(community: try c.id("id"), actor: try c.requireActor()))
        }
        r.put("/api/v1/communities/:id/visit-rules", .action(.visitPlan), body: RulesBody.self) { req, c, body in
            let actor = try c.requireActor(), community = try c.id("id")
            try await gridWork.setRules(community: community, body.rules, actor: actor)
            return try JSON.response(try await gridWork.rules(community: community, actor: actor))
        }
        r.get("/visits/coverage", .action(.visitPlan)) { req, c in
            let picked = try await pick(req, c)
            let t = I18n.table(c.lang)
            guard let id = picked.id else { return renderer.page("visit_coverage", ["no_community": true], context: c, title: t["visit_coverage"]!) }
            let (plan, lines) = try await gridWork.coverage(community: id, actor: try c.requireActor())
            let moved = try await gridWork.movedAway(community: id, actor: try c.requireActor()).map {
                ["household_id": $0.householdID, "address": $0.address, "reported_on": Self.dayText($0.reportedOn)] as [String: Any]
            }
            let rows = lines.map { l -> [String: Any] in
                ["grid_id": l.gridID, "grid": l.gridName, "situation": situationLabel(l.situation, c.lang),
                 "period": I18n.label("period_" + l.period, c.lang), "own_rule": l.ownRule, "households": l.households, "covered": l.covered,
                 "rate": l.households == 0 ? "—" : "\(l.covered * 100 / l.households)%", "overdue": l.overdue, "has_overdue": l.overdue > 0]
            }
            return renderer.page("visit_coverage", ["community_id": id, "community_name": plan.communityName, "rows": rows, "none": rows.isEmpty,
                                                    "moved": moved, "has_moved": !moved.isEmpty,
                                                    "communities": picked.options, "many_communities": picked.options.count > 1],
                                 context: c, title: t["visit_coverage"]! + " · " + plan.communityName)
        }
        r.get("/api/v1/communities/:id/visit-coverage", .action(.visitPlan)) { _, c in
            try JSON.response(try await gridWork.coverage(community: try c.id("id"), actor: try c.requireActor()).1)
        }
        r.get("/api/v1/communities/:id/moved-away", .action(.visitPlan)) { _, c in
            try JSON.response(try await gridWork.movedAway(community: try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/households/:id/still-there", .action(.visitPlan)) { _, c in
            try await gridWork.stillLivesThere(household: try c.id("id"), actor: try c.requireActor())
            return redirect(c.form.int("community_id").map { "/visits/coverage?community=\($0)#moved" } ?? "/visits/coverage#moved")
        }
        r.post("/api/v1/households/:id/still-there", .action(.visitPlan)) { _, c in
            try await gridWork.stillLivesThere(household: try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
    }

    struct RulesBody: Codable { var rules: [VisitRule] }

    struct Picked { var id: Int64?; var options: [[String: Any]] }

    /// The community a page shows: `?community=` (or the form's, when it comes back refused) when
    /// the actor may take `action` there (else 404), or their first.
    func pick(_ req: Request, _ c: AppContext, _ action: Action = .visitPlan, form: FormData? = nil) async throws -> Picked {
        let options = try await gridWork.communities(actor: try c.requireActor(), action)
        let asked = try Input.id(req.uri.queryParameters.get("community"), field: "community") ?? form?.int("community_id")
        if let asked, !options.contains(where: { $0.id == asked }) { throw LinliError.notFound }
        let id = asked ?? options.first?.id
        return Picked(id: id, options: options.map { ["value": $0.id, "label": $0.name, "selected": $0.id == id] })
    }

    func situationLabel(_ s: String, _ lang: Lang) -> String { I18n.label(s == VisitSituation.everyone ? "situation_all" : s, lang) }

    static func input(_ f: FormData) -> VisitInput {
        var i = VisitInput()
        i.householdID = f.int("household_id")
        i.householdCode = f.nonEmpty("household_code")
        i.kind = f.nonEmpty("kind"); i.outcome = f.nonEmpty("outcome"); i.note = f["note"]
        i.careGiven = f["care_given"]; i.carePaidBy = f["care_paid_by"]; i.followUpOn = f.nonEmpty("follow_up_on")
        i.followResult = f.nonEmpty("follow_result"); i.referralTo = f["referral_to"]
        i.fileRequest = f["file_request"] == "1"; i.requestCategory = f.nonEmpty("request_category")
        i.contactName = f["contact_name"]; i.contactPhone = f.nonEmpty("contact_phone")
        i.postNeed = f["post_need"] == "1"; i.needTitle = f["need_title"]; i.needDomain = f.nonEmpty("need_domain")
        i.visitedAt = f.nonEmpty("visited_at"); i.clientKey = f.nonEmpty("client_key")
        return i
    }

    /// The plan form: `rule.<situation>` for the community, `grid.<grid>.<situation>` for each
    /// grid's own rule already set, and one new grid rule (`new_grid`, `new_situation`, `new_period`).
    /// An empty period means no rule.
    static func rules(_ f: FormData, grids: [GridSummary]) throws -> [VisitRule] {
        var out: [VisitRule] = []
        func period(_ key: String) throws -> VisitPeriod? {
            guard let raw = f.nonEmpty(key) else { return nil }
            guard let p = VisitPeriod(rawValue: raw) else { throw LinliError.invalid(key, "invalid_choice", "频次无效") }
            return p
        }
        for s in VisitSituation.all { if let p = try period("rule.\(s)") { out.append(VisitRule(situation: s, period: p)) } }
        for g in grids {
            for s in VisitSituation.all { if let p = try period("grid.\(g.id).\(s)") { out.append(VisitRule(situation: s, period: p, gridID: g.id)) } }
        }
        if let g = f.int("new_grid"), let s = f.nonEmpty("new_situation"), let p = try period("new_period") {
            out.removeAll { $0.gridID == g && $0.situation == s }
            out.append(VisitRule(situation: s, period: p, gridID: g))
        }
        return out
    }

    static func dueItems(_ list: DueList, _ lang: Lang) -> [TemplateValue] { list.items.map { VisitsPage.dueItem($0, lang) } }

    /// "2026-12-06" as "12月6日".
    static func dayText(_ iso: String) -> String {
        guard let day = Input.day(iso) else { return iso }
        let (_, m, d) = ChinaTime.civil(day: day)
        return "\(m)月\(d)日"
    }

    func duePage(_ c: AppContext, gridID: Int64?, all: Bool, errors: [String: String], code: String?) async throws -> Response {
        let actor = try c.requireActor()
        // The due list, the notices unread for two days, the community's open tasks in the
        // worker's grids (above the visits) and the patrol routes not yet walked: one read.
        let (list, unread, tasks, routes) = try await gridWork.visitsPage(gridID: gridID, actor: actor, all: all)
        let page = VisitsPage(list: list, unread: unread, tasks: tasks, routes: routes, gridID: gridID, code: code, errorCode: errors["code"],
                              canPlan: actor.may(.visitPlan))
        return renderer.page("visits", fields: page.fields(c.lang), context: c, title: I18n.table(c.lang)["visits_due"]!)
    }

    func formPage(_ c: AppContext, _ h: HouseholdFacts, followUpPending: Bool, values: FormData, errors: [String: String]) async throws -> Response {
        let t = I18n.table(c.lang)
        let categories = try await requests.categories(lang: c.lang).filter(\.active)
            .map { ["value": $0.code, "label": $0.name, "selected": $0.code == values["request_category"]] as [String: Any] }
        let outcome = values["outcome"] ?? ""
        let kind = values["kind"] ?? "visit"
        var data: [String: Any] = [
            "household_id": h.id, "address": h.address,
            "situations": VisitSituation.all.filter { h.situations.contains($0) }.map { I18n.label($0, c.lang) }.joined(separator: "、"),
            "outcomes": VisitOutcome.allCases.map { ["value": $0.rawValue, "label": I18n.label("outcome_" + $0.rawValue, c.lang), "checked": $0.rawValue == outcome] },
            "kinds": GridWorkService.kinds.map { ["value": $0, "label": I18n.label("visit_kind_" + $0, c.lang), "checked": $0 == kind] },
            "follow_results": FollowResult.allCases.map { ["value": $0.rawValue, "label": I18n.label("follow_" + $0.rawValue, c.lang),
                                                          "checked": $0.rawValue == values["follow_result"]] },
            "follow_up_pending": followUpPending, "categories": categories,
            // A fresh key per form shown: the phone sends it with the visit, and a resend is the same visit.
            "client_key": values["client_key"] ?? gridWork.env.token(),
            "file_request": values["file_request"] == "1", "return_grid": values["return_grid"] ?? "",
            "post_need": values["post_need"] == "1",
            "domains": LinkageRoutes.options(LinkageService.domains, c.lang, selected: [values["need_domain"] ?? ""]),
        ]
        for k in ["note", "care_given", "care_paid_by", "follow_up_on", "referral_to", "contact_name", "contact_phone", "need_title"] { data[k] = values[k] ?? "" }
        for (k, v) in errors { data["error_" + k] = v }
        return renderer.page("visit_new", data, context: c, title: t["visit_log"]! + " · " + h.address)
    }

    func planPage(_ c: AppContext, _ plan: VisitRulesView, picked: Picked, errors: [String: String]) async throws -> Response {
        let t = I18n.table(c.lang)
        func options(_ chosen: VisitPeriod?) -> [[String: Any]] {
            [["value": "", "label": t["visit_no_rule"]!, "selected": chosen == nil]] + VisitPeriod.allCases.map {
                ["value": $0.rawValue, "label": I18n.label("period_" + $0.rawValue, c.lang), "selected": $0 == chosen]
            }
        }
        let community = VisitSituation.all.map { s -> [String: Any] in
            ["name": "rule.\(s)", "label": situationLabel(s, c.lang), "options": options(plan.rules.first { $0.gridID == nil && $0.situation == s }?.period)]
        }
        let gridNames = Dictionary(plan.grids.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let own = plan.rules.filter { $0.gridID != nil }.map { r -> [String: Any] in
            ["name": "grid.\(r.gridID!).\(r.situation)", "grid": gridNames[r.gridID!] ?? "#\(r.gridID!)", "label": situationLabel(r.situation, c.lang),
             "options": options(r.period)]
        }
        let kept = try await gridWork.retention(community: plan.communityID, actor: try c.requireActor())
        return renderer.page("visit_plan", [
            "retention_options": RetentionRules.choices.map { m -> [String: Any] in
                ["value": m, "label": "\(m) " + t["retention_months_unit"]! + (m == RetentionRules.defaultMonths ? t["retention_default"]! : ""), "selected": m == kept.months]
            },
            "kept_from": kept.keptFrom, "error_months": errors["months"] ?? "", "has_error_months": errors["months"] != nil,
            "community_id": plan.communityID, "community_name": plan.communityName, "defaults": plan.defaults,
            "community_rules": community, "grid_rules": own, "has_grid_rules": !own.isEmpty,
            "grids": plan.grids.filter { $0.level == "grid" }.map { ["value": $0.id, "label": $0.name] },
            "situations": VisitSituation.all.map { ["value": $0, "label": situationLabel($0, c.lang)] },
            "periods": VisitPeriod.allCases.map { ["value": $0.rawValue, "label": I18n.label("period_" + $0.rawValue, c.lang)] },
            "communities": picked.options, "many_communities": picked.options.count > 1,
            "errors": errors.map { ["message": $0.value] }, "has_errors": !errors.isEmpty,
        ], context: c, title: t["visit_plan"]! + " · " + plan.communityName)
    }
}
