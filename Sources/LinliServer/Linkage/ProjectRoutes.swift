import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The pages of needs, the service gap, micro-projects and social workers.
extension LinkageRoutes {
    // MARK: Needs, projects, social workers

    func registerNeedsAndProjects(_ r: Routes) {
        r.get("/needs", .action(.linkageView)) { req, c in try await needsPage(req, c, errors: nil) }
        r.post("/needs", .action(.needPost)) { req, c in
            try await step(c, prefix: "need", page: { try await needsPage(req, c, errors: $0) }) {
                var i = LinkageService.NeedInput()
                i.communityID = c.form.int("community_id"); i.placeID = c.form.int("place_id"); i.kind = c.form["kind"]
                i.domain = c.form["domain"]; i.title = c.form["title"]; i.body = c.form["body"]
                let id = try await linkage.postNeed(i, actor: try c.requireActor())
                return redirect("/needs?community=\(c.form["community_id"] ?? "")#need-\(id)")
            }
        }
        r.post("/needs/:id/support", .action(.needPost)) { _, c in
            let id = try c.id("id")
            _ = try await linkage.support(needID: id, actor: try c.requireActor())
            return redirect("/needs?community=\(c.form["community_id"] ?? "")#need-\(id)")
        }
        r.get("/gap", .action(.linkageView)) { req, c in try await gapPage(req, c, errors: nil) }
        r.post("/services", .action(.projectManage)) { req, c in
            try await step(c, prefix: "svc", page: { try await gapPage(req, c, errors: $0) }) {
                var i = LinkageService.ServiceInput()
                i.placeID = c.form.int("place_id"); i.domain = c.form["domain"]; i.name = c.form["name"]; i.provider = c.form["provider"]
                i.communityIDs = c.form.all("community_ids").compactMap { Int64($0) }
                _ = try await linkage.addService(i, actor: try c.requireActor())
                return redirect("/gap?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.get("/projects", .action(.linkageView)) { req, c in try await projectsPage(req, c, errors: nil) }
        r.post("/projects", .action(.projectManage)) { req, c in
            try await step(c, prefix: "proj", page: { try await projectsPage(req, c, errors: $0) }) {
                var i = LinkageService.ProjectInput()
                i.communityID = c.form.int("community_id"); i.needID = c.form.int("need_id"); i.title = c.form["title"]; i.summary = c.form["summary"]
                i.domain = c.form["domain"]; i.budget = c.form["budget"]; i.organisationID = c.form.int("organisation_id"); i.socialWorkerID = c.form.int("social_worker_id")
                let id = try await linkage.createProject(i, actor: try c.requireActor())
                return redirect("/projects/\(id)")
            }
        }
        r.get("/projects/:id", .action(.linkageView)) { req, c in
            try await projectPage(c, id: try c.id("id"), errors: nil, receipt: req.uri.queryParameters.get("given").flatMap { Int64($0) },
                                  pledged: req.uri.queryParameters.get("pledged").flatMap { Int64($0) })
        }
        r.post("/projects/:id/advance", .action(.projectManage)) { _, c in
            try await projectStep(c, prefix: "adv") { id, actor in
                _ = try await linkage.advanceProject(id, note: c.form["note"], evaluation: c.form["evaluation"],
                                                     rating: c.form.nonEmpty("rating").map { Int($0) ?? 0 }, actor: actor)
                return redirect("/projects/\(id)")
            }
        }
        r.post("/projects/:id/milestones", .action(.projectManage)) { _, c in
            try await projectStep(c, prefix: "ms") { id, actor in
                try await linkage.addProjectMilestone(id, title: c.form["title"], dueDay: c.form["due_day"], actor: actor)
                return redirect("/projects/\(id)#milestones")
            }
        }
        r.post("/project-milestones/:id/done", .action(.projectManage)) { _, c in
            let project = try await linkage.completeProjectMilestone(try c.id("id"), actor: try c.requireActor())
            return redirect("/projects/\(project)#milestones")
        }
        r.get("/social-workers", .action(.linkageView)) { req, c in try await workersPage(req, c, errors: nil) }
        r.post("/social-workers", .action(.projectManage)) { req, c in
            try await step(c, prefix: "sw", page: { try await workersPage(req, c, errors: $0) }) {
                var i = LinkageService.WorkerInput()
                i.communityID = c.form.int("community_id"); i.name = c.form["name"]; i.certificateLevel = c.form["certificate_level"]
                i.supervisorID = c.form.int("supervisor_id"); i.organisationID = c.form.int("organisation_id")
                _ = try await linkage.addWorker(i, actor: try c.requireActor())
                return redirect("/social-workers?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/organisations/:id/members", .action(.projectManage)) { req, c in
            let id = try c.id("id")
            return try await step(c, prefix: "om\(id)", page: { try await workersPage(req, c, errors: $0) }) {
                try await linkage.addOrganisationMember(id, name: c.form["name"], role: c.form["role"], joined: c.form["joined"], actor: try c.requireActor())
                return redirect("/social-workers?community=\(c.form["community_id"] ?? "")#o\(id)")
            }
        }
        r.post("/social-workers/:id/trainings", .action(.projectManage)) { req, c in
            let id = try c.id("id")
            return try await step(c, prefix: "tr\(id)", page: { try await workersPage(req, c, errors: $0) }) {
                try await linkage.addTraining(workerID: id, programme: c.form["programme"], title: c.form["title"],
                                              hours: c.form.nonEmpty("hours").map { Int($0) ?? 0 }, day: c.form["day"], actor: try c.requireActor())
                return redirect("/social-workers?community=\(c.form["community_id"] ?? "")#w\(id)")
            }
        }
    }

    func projectStep(_ c: AppContext, prefix: String, _ action: (Int64, Actor) async throws -> Response) async throws -> Response {
        let id = try c.id("id")
        let actor = try c.requireActor()
        return try await step(c, prefix: prefix, page: { try await projectPage(c, id: id, errors: $0) }) { try await action(id, actor) }
    }

    func needsPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("needs", p, c)
        data["errors"] = errors ?? [:]
        data["form"] = c.form.values.mapValues { $0.first ?? "" }
        let uncovered = req.uri.queryParameters.get("uncovered") == "1"
        data["uncovered_only"] = uncovered
        if let id = p.id {
            let needs = try await linkage.needs(communityID: id, uncoveredOnly: uncovered, actor: actor)
            data["needs"] = renderer.data(needs, c.lang)
            data["no_needs"] = needs.isEmpty
            let path = try await communityPath(id)
            data["can_post"] = LinkageService.covers(actor, .needPost, path)
            data["can_project"] = LinkageService.covers(actor, .projectManage, path)
            data["places"] = try await placeChoices(id)
            data["domains"] = Self.options(LinkageService.domains, c.lang, selected: [c.form["domain"] ?? ""])
        }
        return renderer.page("needs", data, context: c, title: I18n.table(c.lang)["tab_needs"]!)
    }

    func gapPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("gap", p, c)
        data["errors"] = errors ?? [:]
        if let id = p.id {
            let rows = try await linkage.gap(communityID: id, actor: actor)
            data["rows"] = renderer.data(rows, c.lang)
            data["no_rows"] = rows.isEmpty
            let manage = actor.may(.projectManage)
            data["manage"] = manage
            if manage {
                data["domains"] = Self.options(LinkageService.domains, c.lang)
                data["buyers"] = try await areaChoices(above: try await communityPath(id), actor, .projectManage)
                data["reach"] = p.options
            }
        }
        return renderer.page("gap", data, context: c, title: I18n.table(c.lang)["tab_gap"]!)
    }

    func projectsPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("projects", p, c)
        data["errors"] = errors ?? [:]
        data["form"] = c.form.values.mapValues { $0.first ?? "" }
        if let id = p.id {
            let list = try await linkage.projects(communityID: id, actor: actor)
            data["projects"] = renderer.data(list, c.lang)
            data["no_projects"] = list.isEmpty
            let manage = LinkageService.covers(actor, .projectManage, try await communityPath(id))
            data["manage"] = manage
            if manage {
                let from = try Input.id(req.uri.queryParameters.get("need").map { String($0) }, field: "need") ?? c.form.int("need_id")
                let needs = try await linkage.needs(communityID: id, actor: actor).filter { $0.status == "open" }
                data["needs"] = needs.map { ["value": $0.id, "label": $0.title + "（\($0.supporters)）", "selected": $0.id == from] }
                let chosen = needs.first { $0.id == from }
                data["domains"] = Self.options(LinkageService.domains, c.lang, selected: [chosen?.domain ?? c.form["domain"] ?? ""])
                if let chosen, c.form["title"] == nil { data["form"] = ["title": chosen.title, "summary": chosen.body] }
                data["organisations"] = try await linkage.organisationWork(communityID: id, actor: actor).map { ["value": $0.id, "label": $0.name] }
                data["workers"] = try await linkage.workers(communityID: id, actor: actor).map { ["value": $0.id, "label": $0.name] }
            }
        }
        return renderer.page("projects", data, context: c, title: I18n.table(c.lang)["tab_projects"]!)
    }

    func projectPage(_ c: AppContext, id: Int64, errors: [String: String]?, receipt: Int64? = nil, pledged: Int64? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await linkage.project(id, actor: actor)
        // One's own pledge just made: how to pay it, and that it counts only once paid.
        let pledge = pledged == nil ? nil : try await linkage.myPledges(actor: actor).first { $0.id == pledged && $0.projectID == id }
        var data: [String: Any] = ["p": renderer.data(p, c.lang), "errors": errors ?? [:], "form": c.form.values.mapValues { $0.first ?? "" },
                                   "idempotency_key": linkage.env.token(bytes: 12), "given": receipt != nil,
                                   "stage_label": I18n.label("stage_" + p.stage, c.lang)]
        if let pledge { data["pledge"] = renderer.data(pledge, c.lang) }
        if p.money.raised + p.money.matched + p.money.granted + p.money.spent > 0 {
            data["money_chart"] = Self.moneyChart(p.money, c.lang)
        }
        if p.manageMoney {
            let path = try await communityPath(p.communityID)
            data["pools"] = try await linkage.pools(communityPath: path).map { ["value": $0.id, "label": "\($0.name)（\($0.ratioPercent)%，\(I18n.table(c.lang)["pool_left"]!) \($0.balanceText)）"] }
        }
        return renderer.page("project", data, context: c, title: p.title)
    }

    /// A project's money in two stacked bars, in yuan: where it came from (gifts, matching, a
    /// venture grant) and where it went (spent, left). Only money that has arrived is counted,
    /// as in the figures beside it, which are the chart's text alternative.
    static func moneyChart(_ m: LinkageService.MoneyView, _ lang: Lang) -> String {
        let t = I18n.table(lang)
        func yuan(_ fen: Int64) -> Double { Double(fen) / 100 }
        var sets: [ChartSpec.Series] = [
            .init(label: t["raised"]!, data: [yuan(m.raised), nil], axis: "count", kind: nil),
            .init(label: t["matched"]!, data: [yuan(m.matched), nil], axis: "count", kind: nil),
        ]
        if m.granted > 0 { sets.append(.init(label: t["tab_ventures"]!, data: [yuan(m.granted), nil], axis: "count", kind: nil)) }
        sets += [.init(label: t["spent"]!, data: [nil, yuan(m.spent)], axis: "count", kind: nil),
                 .init(label: t["left"]!, data: [nil, yuan(max(m.left, 0))], axis: "count", kind: nil)]
        return FigureCharts.json(ChartSpec(type: "bar", labels: [t["money_in"]!, t["money_out"]!], datasets: sets, horizontal: true, stacked: true))
    }

    func workersPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("social_workers", p, c)
        data["errors"] = errors ?? [:]
        if let id = p.id {
            let workers = try await linkage.workers(communityID: id, actor: actor)
            data["workers"] = renderer.data(workers, c.lang)
            data["no_workers"] = workers.isEmpty
            let orgs = try await linkage.organisationWork(communityID: id, actor: actor)
            data["orgs"] = renderer.data(orgs, c.lang)
            let manage = LinkageService.covers(actor, .projectManage, try await communityPath(id))
            data["manage"] = manage
            data["levels"] = LinkageService.certificateLevels.map { ["value": $0, "label": I18n.label("cert_" + $0, c.lang)] }
            data["programmes"] = LinkageService.programmes.map { ["value": $0, "label": I18n.label("prog_" + $0, c.lang)] }
            data["supervisors"] = workers.map { ["value": $0.id, "label": $0.name] }
            data["org_options"] = orgs.map { ["value": $0.id, "label": $0.name] }
        }
        return renderer.page("workers", data, context: c, title: I18n.table(c.lang)["tab_social_workers"]!)
    }
}
