import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// Five-society linkage pages and API. Both call the same `LinkageService` use cases.
struct LinkageRoutes {
    let linkage: LinkageService
    let renderer: Renderer
    /// WeChat Pay's notifications, when the merchant is configured (LINLI_WECHATPAY_*).
    var wechatPay: WeChatPayV3? = nil

    func register(_ r: Routes) {
        registerVolunteering(r)
        registerNeedsAndProjects(r)
        registerFunds(r)
        registerVentures(r)
        registerAPI(r)
    }

    // MARK: Community choice and tabs

    struct Picked { var id: Int64?; var options: [[String: Any]]; var query: String }

    /// The community a list page shows: `?community=` when the actor may see it (else 404), or their first.
    func pick(_ req: Request, _ c: AppContext, _ action: Action = .linkageView) async throws -> Picked {
        let actor = try c.requireActor()
        let options = try await linkage.communityOptions(actor: actor, action)
        let asked = try Input.id(req.uri.queryParameters.get("community").map { String($0) }, field: "community")
        if let asked, !options.contains(where: { $0.id == asked }) { throw LinliError.notFound }
        let id = asked ?? options.first?.id
        return Picked(id: id, options: options.map { ["value": $0.id, "label": $0.name, "selected": $0.id == id] }, query: id.map { "?community=\($0)" } ?? "")
    }

    func tabs(_ current: String, _ p: Picked, _ c: AppContext) -> [[String: Any]] {
        let t = I18n.table(c.lang)
        let actor = c.actor
        var out: [(String, String)] = [("tasks", "/tasks"), ("needs", "/needs"), ("projects", "/projects"), ("gap", "/gap"), ("social_workers", "/social-workers"), ("funds", "/funds"), ("ventures", "/ventures")]
        if actor?.may(.volunteerManage) == true { out.insert(("volunteers", "/volunteers"), at: 1) }
        // The office's side of community enterprises (a services page): their returns reach these funds.
        if actor?.may(.fundManage) == true { out.append(("enterprises", "/enterprises")) }
        if let id = p.id { out.append(("public_ledger", "/ledger/\(id)")) }
        return out.map { key, href in
            ["label": t["tab_" + key] ?? key, "href": href.hasPrefix("/ledger") ? href : href + p.query, "current": key == current]
        }
    }

    func base(_ current: String, _ p: Picked, _ c: AppContext) -> [String: Any] {
        ["tabs": tabs(current, p, c), "communities": p.options, "community_id": p.id ?? 0, "has_community": p.id != nil,
         "picker_action": "/" + (current == "social_workers" ? "social-workers" : current), "many_communities": p.options.count > 1]
    }

    /// Runs a step; refused input or a refused step comes back on the page (422 or 409) beside its form.
    func step(_ c: AppContext, prefix: String, page: @escaping ([String: String]) async throws -> Response, _ action: () async throws -> Response) async throws -> Response {
        do {
            return try await formOrErrors(prefix: prefix, action, page: page)
        } catch let e as LinliError where e.status == .conflict || (e.status == .forbidden && !["forbidden", "csrf"].contains(e.code)) {
            var resp = try await page(["\(prefix)_form": e.message])
            resp.status = e.status
            return resp
        }
    }

    static func options(_ list: [(String, String, String)], _ lang: Lang, selected: Set<String> = []) -> [[String: Any]] {
        list.map { ["value": $0.0, "label": lang == .zh ? $0.1 : $0.2, "selected": selected.contains($0.0)] }
    }

    // MARK: Volunteering pages

    func registerVolunteering(_ r: Routes) {
        r.get("/volunteer", .action(.volunteerJoin)) { _, c in try await volunteerPage(c, errors: nil) }
        r.post("/volunteer", .action(.volunteerJoin)) { _, c in
            try await step(c, prefix: "vol", page: { try await volunteerPage(c, errors: $0) }) {
                _ = try await linkage.registerVolunteer(Self.volunteerInput(c.form), actor: try c.requireActor())
                return redirect("/volunteer?saved=1")
            }
        }
        r.get("/volunteer/certificate", .action(.volunteerJoin)) { _, c in
            let cert = try await linkage.certificate(volunteerID: nil, actor: try c.requireActor())
            return renderer.page("volunteer_certificate", ["c": Renderer.data(cert, c.lang)], context: c, title: I18n.table(c.lang)["certificate"]!)
        }
        r.post("/assignments/:id/answer", .action(.volunteerJoin)) { _, c in
            try await step(c, prefix: "my", page: { try await volunteerPage(c, errors: $0) }) {
                try await linkage.answer(assignmentID: try c.id("id"), accept: c.form["accept"] == "1", actor: try c.requireActor())
                return redirect("/volunteer#shifts")
            }
        }
        r.post("/assignments/:id/check-in", .action(.volunteerJoin)) { _, c in
            try await step(c, prefix: "my", page: { try await volunteerPage(c, errors: $0) }) {
                try await linkage.checkIn(try c.id("id"), code: c.form["code"], actor: try c.requireActor())
                return redirect("/volunteer#shifts")
            }
        }
        r.post("/assignments/:id/check-out", .action(.volunteerJoin)) { _, c in
            try await step(c, prefix: "my", page: { try await volunteerPage(c, errors: $0) }) {
                try await linkage.checkOut(try c.id("id"), actor: try c.requireActor())
                return redirect("/volunteer#shifts")
            }
        }
        r.post("/rewards/:id/redeem", .action(.volunteerJoin)) { _, c in
            try await step(c, prefix: "pts", page: { try await volunteerPage(c, errors: $0) }) {
                try await linkage.redeem(rewardID: try c.id("id"), actor: try c.requireActor())
                return redirect("/volunteer?redeemed=1#points")
            }
        }
        r.post("/shifts/:id/sign-up", .action(.volunteerJoin)) { _, c in
            _ = try await linkage.signUp(shiftID: try c.id("id"), actor: try c.requireActor())
            return redirect("/volunteer#shifts")
        }

        r.get("/tasks", .action(.linkageView)) { req, c in try await tasksPage(req, c, errors: nil) }
        r.post("/tasks", .action(.volunteerManage)) { req, c in
            try await step(c, prefix: "task", page: { try await tasksPage(req, c, errors: $0) }) {
                let id = try await linkage.postTask(Self.taskInput(c.form), actor: try c.requireActor())
                return redirect("/tasks/\(id)")
            }
        }
        r.post("/tasks/fill", .action(.volunteerManage)) { req, c in
            try await step(c, prefix: "fill", page: { try await tasksPage(req, c, errors: $0) }) {
                let result = try await linkage.fillMonth(communityID: c.form.int("community_id"), taskID: nil, month: c.form["month"], actor: try c.requireActor())
                return try await tasksPage(req, c, errors: nil, filled: result)
            }
        }
        r.get("/tasks/:id", .action(.linkageView)) { req, c in try await taskPage(c, id: try c.id("id"), month: req.uri.queryParameters.get("month"), errors: nil) }
        r.post("/tasks/:id/fill", .action(.volunteerManage)) { _, c in
            let id = try c.id("id")
            return try await step(c, prefix: "fill", page: { try await taskPage(c, id: id, month: c.form["month"], errors: $0) }) {
                let result = try await linkage.fillMonth(communityID: nil, taskID: id, month: c.form["month"], actor: try c.requireActor())
                return try await taskPage(c, id: id, month: c.form["month"], errors: nil, filled: result)
            }
        }
        r.post("/tasks/:id/call", .action(.volunteerManage)) { _, c in
            let id = try c.id("id")
            let told = try await linkage.callForVolunteers(taskID: id, actor: try c.requireActor())
            return try await taskPage(c, id: id, month: c.form["month"], errors: nil, called: told)
        }
        r.get("/shifts/:id/candidates", .action(.volunteerManage)) { _, c in try await candidatesPage(c, shift: try c.id("id"), errors: nil) }
        r.post("/shifts/:id/propose", .action(.volunteerManage)) { _, c in
            let shift = try c.id("id")
            return try await step(c, prefix: "prop", page: { try await candidatesPage(c, shift: shift, errors: $0) }) {
                _ = try await linkage.propose(shiftID: shift, volunteerID: c.form.int("volunteer_id"), actor: try c.requireActor())
                return try await candidatesPage(c, shift: shift, errors: nil, proposed: true)
            }
        }
        r.post("/assignments/:id/confirm", .action(.volunteerManage)) { _, c in
            try await assignmentStep(c) { id, actor in try await linkage.confirmAssignment(id, actor: actor) }
        }
        r.post("/assignments/:id/staff-check-in", .action(.volunteerManage)) { _, c in
            try await assignmentStep(c) { id, actor in try await linkage.checkIn(id, code: nil, at: c.form["at"], actor: actor) }
        }
        r.post("/assignments/:id/staff-check-out", .action(.volunteerManage)) { _, c in
            try await assignmentStep(c) { id, actor in try await linkage.checkOut(id, at: c.form["at"], actor: actor) }
        }
        r.post("/assignments/:id/hours", .action(.volunteerManage)) { _, c in
            try await assignmentStep(c) { id, actor in
                let minutes = c.form.nonEmpty("minutes").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 }
                _ = try await linkage.confirmHours(id, minutes: minutes, actor: actor)
            }
        }

        r.get("/volunteers", .action(.volunteerManage)) { req, c in try await volunteersPage(req, c, errors: nil) }
        r.get("/volunteers/:id/certificate", .action(.volunteerManage)) { _, c in
            let cert = try await linkage.certificate(volunteerID: try c.id("id"), actor: try c.requireActor())
            return renderer.page("volunteer_certificate", ["c": Renderer.data(cert, c.lang)], context: c, title: I18n.table(c.lang)["certificate"]!)
        }
        r.post("/teams", .action(.volunteerManage)) { req, c in
            try await step(c, prefix: "team", page: { try await volunteersPage(req, c, errors: $0) }) {
                _ = try await linkage.createTeam(communityID: c.form.int("community_id"), name: c.form["name"], kind: c.form["kind"],
                                                 organisationID: c.form.int("organisation_id"), actor: try c.requireActor())
                return redirect("/volunteers?community=\(c.form["community_id"] ?? "")#teams")
            }
        }
        r.post("/teams/:id/members", .action(.volunteerManage)) { req, c in
            let team = try c.id("id")
            return try await step(c, prefix: "member", page: { try await volunteersPage(req, c, errors: $0) }) {
                try await linkage.addTeamMember(teamID: team, volunteerID: c.form.int("volunteer_id"), actor: try c.requireActor())
                return redirect("/volunteers?community=\(c.form["community_id"] ?? "")#teams")
            }
        }
        r.post("/rewards", .action(.volunteerManage)) { req, c in
            try await step(c, prefix: "reward", page: { try await volunteersPage(req, c, errors: $0) }) {
                _ = try await linkage.addReward(communityID: c.form.int("community_id"), name: c.form["name"], points: c.form.int("points").map(Int.init),
                                                stock: c.form.int("stock").map(Int.init), actor: try c.requireActor())
                return redirect("/volunteers?community=\(c.form["community_id"] ?? "")#rewards")
            }
        }
    }


    /// Staff actions on one person's shift return to the task page, or show why not.
    func assignmentStep(_ c: AppContext, _ action: (Int64, Actor) async throws -> Void) async throws -> Response {
        let id = try c.id("id")
        let actor = try c.requireActor()
        let task = try await linkage.store.read { db in try await linkage.fetchAssignment(db, id).taskID }
        return try await step(c, prefix: "shift", page: { try await taskPage(c, id: task, month: c.form["month"], errors: $0) }) {
            try await action(id, actor)
            return redirect("/tasks/\(task)\(c.form.nonEmpty("month").map { "?month=\($0)" } ?? "")#a\(id)")
        }
    }

    static func volunteerInput(_ f: FormData) -> LinkageService.VolunteerInput {
        var i = LinkageService.VolunteerInput()
        i.name = f["name"]
        var skills = f.all("skills")
        if let extra = f.nonEmpty("other_skills") { skills += extra.split(whereSeparator: { "，,、 ".contains($0) }).map(String.init) }
        i.skills = skills
        i.languages = f["languages"]
        i.availability = f.all("availability")
        i.canCarry = f["can_carry"] == "1"
        i.canDrive = f["can_drive"] == "1"
        return i
    }

    static func taskInput(_ f: FormData) -> LinkageService.TaskInput {
        var i = LinkageService.TaskInput()
        i.communityID = f.int("community_id")
        i.title = f["title"]
        i.description = f["description"]
        i.kind = f["kind"]
        i.skills = f.all("skills")
        i.placeID = f.int("place_id")
        i.address = f["address"]
        i.headcount = f.nonEmpty("headcount").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 }
        i.startsAt = f["starts_at"]
        i.firstDay = f["first_day"]
        i.lastDay = f["last_day"]
        i.weekdays = f.all("weekdays").compactMap { Int($0) }
        i.startTime = f["start_time"]
        i.durationMinutes = f.nonEmpty("duration_minutes").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 }
        i.pointsPerHour = f.nonEmpty("points_per_hour").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 }
        i.teamID = f.int("team_id")
        i.projectID = f.int("project_id")
        i.households = f["households"].map { $0.split(whereSeparator: { "\n\r,， ".contains($0) }).map(String.init) }
        return i
    }

    func volunteerPage(_ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let me = try await linkage.ownVolunteer(actor: actor)
        let shifts = try await linkage.myShifts(actor: actor)
        let community = LinkageService.ownCommunity(actor)
        var rewards: [LinkageService.RewardView] = []
        if let community { rewards = try await linkage.rewards(communityID: community.id, actor: actor) }
        var form: [String: Any] = ["name": me?.name ?? actor.displayName, "languages": me?.languages ?? ""]
        let keys = Set(me?.availabilityKeys ?? [])
        let days = c.lang == .zh ? ["一", "二", "三", "四", "五", "六", "日"] : ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        form["days"] = (1...7).map { d in
            ["label": (c.lang == .zh ? "周" : "") + days[d - 1],
             "periods": Availability.periods.map { p in ["key": "\(d)\(p.code)", "label": I18n.table(c.lang)["period_" + p.code]!, "checked": keys.contains("\(d)\(p.code)")] }] as [String: Any]
        }
        let mySkills = Set(me?.skills ?? [])
        form["skills"] = Self.options(VolunteerSkills.common.filter { !["carry", "drive"].contains($0.0) }, c.lang, selected: mySkills)
        form["other_skills"] = (me?.skills ?? []).filter { s in !VolunteerSkills.common.contains { $0.0 == s } }.joined(separator: "，")
        form["can_carry"] = me?.canCarry ?? false
        form["can_drive"] = me?.canDrive ?? false
        let upcoming = shifts.filter { !$0.confirmed && $0.status != "declined" }
        return renderer.page("volunteer", [
            "me": me.map { Renderer.data($0, c.lang) } ?? false, "registered": me != nil, "form": form, "errors": errors ?? [:],
            "shifts": Renderer.data(upcoming, c.lang), "no_shifts": upcoming.isEmpty,
            "history": Renderer.data(shifts.filter(\.confirmed), c.lang), "no_history": !shifts.contains(where: \.confirmed),
            "rewards": Renderer.data(rewards, c.lang), "has_rewards": !rewards.isEmpty,
            "tasks_href": community.map { "/tasks?community=\($0.id)" } ?? "/tasks",
        ], context: c, title: I18n.table(c.lang)["my_volunteering"]!)
    }

    func tasksPage(_ req: Request, _ c: AppContext, errors: [String: String]?, filled: LinkageService.FillResult? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("tasks", p, c)
        data["errors"] = errors ?? [:]
        data["open_form"] = errors.map { $0.keys.contains { $0.hasPrefix("task_") } } ?? false
        data["form"] = c.form.values.mapValues { $0.first ?? "" }
        if let id = p.id {
            let tasks = try await linkage.tasks(communityID: id, actor: actor)
            data["tasks"] = Renderer.data(tasks, c.lang)
            data["no_tasks"] = tasks.isEmpty
            let manage = LinkageService.covers(actor, .volunteerManage, try await communityPath(id))
            data["manage"] = manage
            if manage {
                data["places"] = try await placeChoices(id)
                data["teams"] = Renderer.data(try await linkage.teams(communityID: id, actor: actor), c.lang)
                data["task_projects"] = try await linkage.projects(communityID: id, actor: actor).filter { $0.stage != "done" }.map { ["value": $0.id, "label": $0.title] }
                data["skills"] = Self.options(VolunteerSkills.common, c.lang)
                data["weekday_options"] = (1...7).map { ["value": $0, "label": I18n.table(c.lang)["wd\($0)"]!] }
                data["month"] = String(ChinaTime.iso(day: LocalDay.of(linkage.env.nowSeconds)).prefix(7))
            }
        }
        if let filled { data["filled"] = Self.fillData(filled, c.lang) }
        return renderer.page("tasks", data, context: c, title: I18n.table(c.lang)["tab_tasks"]!)
    }

    /// A fill's result for the page: for each shift still short, why, in words ("3 人技能不符、
    /// 2 人时间冲突"); and why nothing was proposed at all when that is the case.
    static func fillData(_ f: LinkageService.FillResult, _ lang: Lang) -> [String: Any] {
        let t = I18n.table(lang)
        var d: [String: Any] = ["shifts": f.shifts, "proposed": f.proposed]
        let order = ["skills", "team", "unavailable", "too_far", "busy", "overloaded", "declined"]
        d["uncovered"] = f.uncovered.map { u -> [String: Any] in
            let parts = order.compactMap { k in u.reasons[k].map { "\($0) \(t["people"]!)\(t["unfit_" + k]!)" } }
            return ["task_id": u.taskID, "task": u.task, "when": u.when, "missing": u.missing,
                    "why": parts.isEmpty ? (f.volunteers == 0 ? t["fill_no_volunteers"]! : t["fill_everyone_on_it"]!) : parts.joined(separator: "、")]
        }
        if f.shifts == 0 { d["why_none"] = t["fill_no_shifts"]! }
        else if f.volunteers == 0 { d["why_none"] = t["fill_no_volunteers"]! }
        return d
    }

    func communityPath(_ id: Int64) async throws -> String {
        try await linkage.store.read { db in try await db.raw("SELECT path FROM places WHERE id = \(bind: id)").first()?.decode(column: "path", as: String.self) ?? "-" }
    }

    /// The community and the areas above it (street, district, city) where the actor may take
    /// `action`: who buys a service, which area a pool covers.
    func areaChoices(above path: String, _ actor: Actor, _ action: Action) async throws -> [[String: Any]] {
        let places = try await linkage.store.read { db in
            try await db.raw("SELECT id, name, path FROM places WHERE id IN (\(unsafeRaw: PlacePath.ids(path).map(String.init).joined(separator: ","))) ORDER BY path").all()
                .map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "name", as: String.self), try $0.decode(column: "path", as: String.self)) }
        }
        return places.filter { LinkageService.covers(actor, action, $0.2) }.map { ["value": $0.0, "label": $0.1] }
    }

    /// The community and its compounds and buildings, as a task's or need's place.
    func placeChoices(_ communityID: Int64) async throws -> [[String: Any]] {
        let rows = try await linkage.store.read { db in
            let path = try await db.raw("SELECT path FROM places WHERE id = \(bind: communityID)").first()!.decode(column: "path", as: String.self)
            return try await db.raw("""
                SELECT id, name, kind FROM places WHERE \(linkage.store.dialect.startsWith("path", path)) AND kind IN ('community', 'village', 'compound', 'villager_group', 'building') ORDER BY path LIMIT 400
                """).all().map { r in
                (try r.decode(column: "id", as: Int64.self), (try r.decode(column: "kind", as: String.self) == "building" ? "　" : "") + (try r.decode(column: "name", as: String.self)))
            }
        }
        return rows.map { ["value": $0.0, "label": $0.1] }
    }

    func taskPage(_ c: AppContext, id: Int64, month: String?, errors: [String: String]?, filled: LinkageService.FillResult? = nil, called: Int? = nil) async throws -> Response {
        let t = try await linkage.task(id, month: month, actor: try c.requireActor())
        let m = LocalDay.month(t.month) ?? LocalDay.month(of: LocalDay.of(linkage.env.nowSeconds))
        let prev = String(ChinaTime.iso(day: m.first - 1).prefix(7)), next = String(ChinaTime.iso(day: m.last + 1).prefix(7))
        var data: [String: Any] = ["t_": Renderer.data(t, c.lang), "errors": errors ?? [:], "prev": prev, "next": next,
                                   "uncovered": t.shifts.filter { $0.missing > 0 && !$0.past }.count]
        if let filled { data["filled"] = Self.fillData(filled, c.lang) }
        if let called { data["called"] = called }
        return renderer.page("task", data, context: c, title: t.title)
    }

    func candidatesPage(_ c: AppContext, shift: Int64, errors: [String: String]?, proposed: Bool = false) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await linkage.rank(shiftID: shift, actor: actor)
        let info = try await linkage.store.read { db in
            try await db.raw("SELECT s.task_id, s.starts_at, t.title FROM task_shifts s JOIN volunteer_tasks t ON t.id = s.task_id WHERE s.id = \(bind: shift)").first()!
        }
        return renderer.page("candidates", [
            "shift_id": shift, "task_id": try info.decode(column: "task_id", as: Int64.self), "task": try info.decode(column: "title", as: String.self),
            "when": LocalTime.text(try info.decode(column: "starts_at", as: Int64.self)), "rows": Renderer.data(list, c.lang), "errors": errors ?? [:], "proposed": proposed,
        ], context: c, title: I18n.table(c.lang)["candidates"]!)
    }

    func volunteersPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        var p = try await pick(req, c, .volunteerManage)
        if p.id == nil, let f = c.form.int("community_id") { p.id = f }
        var data = base("volunteers", p, c)
        data["errors"] = errors ?? [:]
        if let id = p.id {
            let list = try await linkage.volunteers(communityID: id, actor: actor)
            data["volunteers"] = Renderer.data(list, c.lang)
            data["no_volunteers"] = list.isEmpty
            data["teams"] = Renderer.data(try await linkage.teams(communityID: id, actor: actor), c.lang)
            data["rewards"] = Renderer.data(try await linkage.rewards(communityID: id, actor: actor), c.lang)
            data["organisations"] = try await linkage.organisationWork(communityID: id, actor: actor).map { ["value": $0.id, "label": $0.name] }
        }
        return renderer.page("volunteers", data, context: c, title: I18n.table(c.lang)["tab_volunteers"]!)
    }

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
            data["needs"] = Renderer.data(needs, c.lang)
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
            data["rows"] = Renderer.data(rows, c.lang)
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
            data["projects"] = Renderer.data(list, c.lang)
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
        var data: [String: Any] = ["p": Renderer.data(p, c.lang), "errors": errors ?? [:], "form": c.form.values.mapValues { $0.first ?? "" },
                                   "idempotency_key": linkage.env.token(bytes: 12), "given": receipt != nil,
                                   "stage_label": I18n.label("stage_" + p.stage, c.lang)]
        if let pledge { data["pledge"] = Renderer.data(pledge, c.lang) }
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
            data["workers"] = Renderer.data(workers, c.lang)
            data["no_workers"] = workers.isEmpty
            let orgs = try await linkage.organisationWork(communityID: id, actor: actor)
            data["orgs"] = Renderer.data(orgs, c.lang)
            let manage = LinkageService.covers(actor, .projectManage, try await communityPath(id))
            data["manage"] = manage
            data["levels"] = LinkageService.certificateLevels.map { ["value": $0, "label": I18n.label("cert_" + $0, c.lang)] }
            data["programmes"] = LinkageService.programmes.map { ["value": $0, "label": I18n.label("prog_" + $0, c.lang)] }
            data["supervisors"] = workers.map { ["value": $0.id, "label": $0.name] }
            data["org_options"] = orgs.map { ["value": $0.id, "label": $0.name] }
        }
        return renderer.page("workers", data, context: c, title: I18n.table(c.lang)["tab_social_workers"]!)
    }

    // MARK: Funds

    func registerFunds(_ r: Routes) {
        r.get("/funds", .action(.linkageView)) { req, c in try await fundsPage(req, c, errors: nil) }
        // Staff say what became of a payment held (arrived, but not bookable).
        r.post("/funds/held/:id/resolve", .action(.fundManage)) { req, c in
            do {
                _ = try await linkage.resolveHeldPayment(try c.id("id"), note: c.form["note"], actor: try c.requireActor())
            } catch let e as LinliError where e.status == .unprocessableContent || e.status == .conflict {
                var page = try await fundsPage(req, c, errors: ["held_\(try c.id("id"))": e.message])
                page.status = .unprocessableContent
                return page
            }
            return redirect("/funds" + (req.uri.query.map { "?" + $0 } ?? "") + "#held")
        }
        // Staff reconcile the bank statement: each line quoting a pledge's reference books it once.
        r.post("/funds/reconcile", .action(.fundManage)) { req, c in
            let file = c.files.first { $0.field == "statement" }?.bytes ?? []
            guard !file.isEmpty else { return try await fundsPage(req, c, errors: ["rec_statement": "请选择银行对账单（CSV）"]) }
            let lines = try await linkage.reconcileBankStatement(String(decoding: file, as: UTF8.self), actor: try c.requireActor())
            return try await fundsPage(req, c, errors: nil, reconciled: lines)
        }
        r.post("/pools", .action(.fundPool)) { req, c in
            try await step(c, prefix: "pool", page: { try await fundsPage(req, c, errors: $0) }) {
                var i = LinkageService.PoolInput()
                i.placeID = c.form.int("place_id"); i.name = c.form["name"]; i.ratioPercent = c.form.nonEmpty("ratio_percent").map { Int($0) ?? 0 }
                i.projectCap = c.form["project_cap"]; i.amount = c.form["amount"]
                _ = try await linkage.createPool(i, actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/pools/:id/top-up", .action(.fundPool)) { req, c in
            let id = try c.id("id")
            return try await step(c, prefix: "top\(id)", page: { try await fundsPage(req, c, errors: $0) }) {
                try await linkage.topUpPool(id, amount: c.form["amount"], actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/funds/settings", .action(.fundManage)) { req, c in
            try await step(c, prefix: "set", page: { try await fundsPage(req, c, errors: $0) }) {
                try await linkage.setApprovals(communityID: c.form.int("community_id"), count: c.form.nonEmpty("approvals_needed").map { Int($0) ?? 0 }, actor: try c.requireActor())
                return redirect("/funds?community=\(c.form["community_id"] ?? "")")
            }
        }
        r.post("/projects/:id/campaign", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "camp") { id, actor in
                try await linkage.openCampaign(projectID: id, goal: c.form["goal"], seed: c.form["seed"], poolID: c.form.int("pool_id"), actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/campaign/close", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "camp") { id, actor in
                try await linkage.closeCampaign(projectID: id, actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/donate", .action(.linkageView)) { _, c in
            try await projectStep(c, prefix: "give") { id, actor in
                var i = LinkageService.DonationInput()
                i.amount = c.form["amount"]; i.name = c.form["name"]; i.publicName = c.form["public"] == "1"
                i.donorKind = c.form.nonEmpty("donor_kind"); i.idempotencyKey = c.form["idempotency_key"]
                let receipt = try await linkage.donate(projectID: id, i, actor: actor)
                if let pledge = receipt.pledgeID { return redirect("/projects/\(id)?pledged=\(pledge)#money") }
                return redirect("/projects/\(id)?given=\(receipt.transactionID)#money")
            }
        }
        r.post("/projects/:id/match", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "match") { id, actor in
                _ = try await linkage.match(projectID: id, amount: c.form["amount"], actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/projects/:id/expenses", .action(.fundManage)) { _, c in
            try await projectStep(c, prefix: "exp") { id, actor in
                let receipt = c.files.first { $0.field == "receipt" }?.bytes
                _ = try await linkage.requestExpense(projectID: id, amount: c.form["amount"], payee: c.form["payee"], purpose: c.form["purpose"], receipt: receipt, actor: actor)
                return redirect("/projects/\(id)#money")
            }
        }
        r.post("/expenses/:id/approve", .action(.fundManage)) { _, c in try await expenseStep(c) { id, actor in _ = try await linkage.approveExpense(id, actor: actor) } }
        r.post("/expenses/:id/reject", .action(.fundManage)) { _, c in try await expenseStep(c) { id, actor in try await linkage.rejectExpense(id, reason: c.form["reason"], actor: actor) } }
        r.get("/expenses/:id/receipt", .action(.linkageView)) { _, c in
            let bytes = try await linkage.receipt(expenseID: try c.id("id"), actor: try c.requireActor())
            return Picture.jpeg(bytes)
        }
        r.get("/ledger/:id", .open) { req, c in
            let before = try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before")
            let l = try await linkage.publicLedger(communityID: try c.id("id"), before: before)
            return renderer.page("ledger", ["name": l.name, "lines": Renderer.data(l.lines, c.lang), "empty": l.lines.isEmpty, "totals": l.totals,
                                            "community_id": try c.id("id"), "more": l.lines.count == 100 ? (l.lines.last?.id).map { $0 as Any } ?? false : false],
                                 context: c, title: I18n.table(c.lang)["tab_public_ledger"]! + " · " + l.name)
        }
    }

    func expenseStep(_ c: AppContext, _ action: (Int64, Actor) async throws -> Void) async throws -> Response {
        let id = try c.id("id")
        let actor = try c.requireActor()
        let project = try await linkage.store.read { db in
            try await db.raw("SELECT project_id FROM expenses WHERE id = \(bind: id)").first()?.decode(column: "project_id", as: Int64.self)
        }
        guard let project else { throw LinliError.notFound }
        return try await step(c, prefix: "expense", page: { try await projectPage(c, id: project, errors: $0) }) {
            try await action(id, actor)
            return redirect("/projects/\(project)#money")
        }
    }

    func fundsPage(_ req: Request, _ c: AppContext, errors: [String: String]?, reconciled: [LinkageService.StatementLine]? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("funds", p, c)
        data["errors"] = errors ?? [:]
        if let reconciled {
            data["reconciled"] = Renderer.data(reconciled, c.lang)
            data["reconciled_booked"] = reconciled.filter { $0.outcome == "booked" }.count
            data["has_reconciled"] = true
        }
        if let id = p.id {
            let path = try await communityPath(id)
            let pools = try await linkage.pools(communityPath: path)
            data["pools"] = Renderer.data(pools, c.lang)
            data["no_pools"] = pools.isEmpty
            data["can_pool"] = actor.may(.fundPool)
            data["can_manage"] = LinkageService.covers(actor, .fundManage, path)
            data["approvals_needed"] = try await linkage.store.read { db in
                try await db.raw("SELECT approvals_needed FROM fund_settings WHERE community_id = \(bind: id)").first()?.decode(column: "approvals_needed", as: Int.self)
            } ?? LinkageService.defaultApprovals
            if actor.may(.fundPool) {
                data["pool_places"] = try await areaChoices(above: path, actor, .fundPool)
            }
            let projects = try await linkage.projects(communityID: id, actor: actor)
            data["projects"] = Renderer.data(projects, c.lang)
        }
        // Payments that arrived and could not be booked, for whoever keeps funds.
        if actor.may(.fundManage) {
            let held = try await linkage.heldPayments(actor: actor)
            let errs = errors ?? [:]
            data["held"] = held.map { h -> [String: Any] in
                ["id": h.id, "provider": I18n.label("provider_" + h.provider, c.lang), "reference": h.reference, "amount_text": h.amountText,
                 "message": h.message, "received_text": h.receivedText, "resolution": h.resolution ?? false, "open": h.resolution == nil,
                 "error": errs["held_\(h.id)"] ?? false]
            }
            data["has_held"] = !held.isEmpty
            data["held_open"] = held.filter { $0.resolution == nil }.count
        }
        return renderer.page("funds", data, context: c, title: I18n.table(c.lang)["tab_funds"]!)
    }

    // MARK: Venture grants

    func registerVentures(_ r: Routes) {
        r.get("/ventures", .action(.linkageView)) { req, c in try await venturesPage(req, c, errors: nil) }
        r.post("/ventures", .action(.fundPool)) { req, c in
            try await step(c, prefix: "round", page: { try await venturesPage(req, c, errors: $0) }) {
                var i = LinkageService.RoundInput()
                i.placeID = c.form.int("place_id"); i.name = c.form["name"]; i.budget = c.form["budget"]
                i.scoresNeeded = c.form.nonEmpty("scores_needed").map { Int($0) ?? 0 }; i.instalments = c.form.nonEmpty("instalments").map { Int($0) ?? 0 }
                let id = try await linkage.openRound(i, actor: try c.requireActor())
                return redirect("/ventures/\(id)")
            }
        }
        r.get("/ventures/:id", .action(.linkageView)) { _, c in try await venturePage(c, id: try c.id("id"), errors: nil) }
        r.post("/ventures/:id/apply", .action(.fundManage)) { _, c in
            let id = try c.id("id")
            return try await step(c, prefix: "apply", page: { try await venturePage(c, id: id, errors: $0) }) {
                _ = try await linkage.apply(roundID: id, projectID: c.form.int("project_id"), requested: c.form["requested"], plan: c.form["plan"], actor: try c.requireActor())
                return redirect("/ventures/\(id)")
            }
        }
        r.post("/ventures/:id/close", .action(.fundPool)) { _, c in
            let id = try c.id("id")
            try await linkage.closeRound(id, actor: try c.requireActor())
            return redirect("/ventures/\(id)")
        }
        r.post("/venture-applications/:id/score", .action(.fundPool)) { _, c in
            try await applicationStep(c) { id, actor in try await linkage.score(applicationID: id, score: c.form.nonEmpty("score").map { Int($0) ?? -1 }, comment: c.form["comment"], actor: actor) }
        }
        r.post("/venture-applications/:id/award", .action(.fundPool)) { _, c in
            try await applicationStep(c) { id, actor in try await linkage.award(applicationID: id, amount: c.form["amount"], actor: actor) }
        }
        r.post("/venture-applications/:id/pay", .action(.fundPool)) { _, c in
            try await applicationStep(c) { id, actor in _ = try await linkage.payInstalment(applicationID: id, actor: actor) }
        }
        r.post("/venture-applications/:id/evaluate", .action(.fundPool)) { _, c in
            try await applicationStep(c) { id, actor in
                try await linkage.evaluateGrant(applicationID: id, evaluation: c.form["evaluation"], rating: c.form.nonEmpty("rating").map { Int($0) ?? 0 }, actor: actor)
            }
        }
    }

    func applicationStep(_ c: AppContext, _ action: (Int64, Actor) async throws -> Void) async throws -> Response {
        let id = try c.id("id")
        let actor = try c.requireActor()
        let round = try await linkage.store.read { db in
            try await db.raw("SELECT round_id FROM venture_applications WHERE id = \(bind: id)").first()?.decode(column: "round_id", as: Int64.self)
        }
        guard let round else { throw LinliError.notFound }
        return try await step(c, prefix: "app\(id)", page: { try await venturePage(c, id: round, errors: $0) }) {
            try await action(id, actor)
            return redirect("/ventures/\(round)#app\(id)")
        }
    }

    func venturesPage(_ req: Request, _ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let p = try await pick(req, c)
        var data = base("ventures", p, c)
        data["errors"] = errors ?? [:]
        let rounds = try await linkage.rounds(actor: actor)
        data["rounds"] = Renderer.data(rounds, c.lang)
        data["no_rounds"] = rounds.isEmpty
        data["can_open"] = actor.may(.fundPool)
        if actor.may(.fundPool) {
            let places = try await linkage.store.read { db in
                try await db.raw("SELECT id, name, path FROM places WHERE kind IN ('city', 'district', 'street', 'town') ORDER BY path LIMIT 200").all()
                    .map { (try $0.decode(column: "id", as: Int64.self), try $0.decode(column: "name", as: String.self), try $0.decode(column: "path", as: String.self)) }
            }
            data["round_places"] = places.filter { LinkageService.covers(actor, .fundPool, $0.2) }.map { ["value": $0.0, "label": $0.1] }
        }
        return renderer.page("ventures", data, context: c, title: I18n.table(c.lang)["tab_ventures"]!)
    }

    func venturePage(_ c: AppContext, id: Int64, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let v = try await linkage.round(id, actor: actor)
        var data: [String: Any] = ["v": Renderer.data(v, c.lang), "errors": errors ?? [:], "can_apply": false]
        if actor.may(.fundManage), v.isOpen {
            let options = try await linkage.communityOptions(actor: actor, .fundManage)
            var projects: [[String: Any]] = []
            for o in options.prefix(20) {
                for p in try await linkage.projects(communityID: o.id, actor: actor) where p.stage != "done" {
                    projects.append(["value": p.id, "label": "\(o.name) · \(p.title)"])
                }
            }
            data["projects"] = projects
            data["can_apply"] = !projects.isEmpty
        }
        return renderer.page("venture", data, context: c, title: v.name)
    }

    // MARK: JSON API

    func registerAPI(_ r: Routes) {
        r.post("/api/v1/volunteer", .action(.volunteerJoin), body: LinkageService.VolunteerInput.self) { req, c, input in
            _ = try await linkage.registerVolunteer(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.ownVolunteer(actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/volunteer/shifts", .action(.volunteerJoin)) { _, c in try JSON.response(try await linkage.myShifts(actor: try c.requireActor())) }
        r.post("/api/v1/tasks", .action(.volunteerManage), body: LinkageService.TaskInput.self) { req, c, input in
            let id = try await linkage.postTask(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.task(id, month: nil, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/tasks/:id", .action(.linkageView)) { req, c in
            try JSON.response(try await linkage.task(try c.id("id"), month: req.uri.queryParameters.get("month"), actor: try c.requireActor()))
        }
        struct PostTasksFillBody: Decodable { var month: String? }
        r.post("/api/v1/tasks/:id/fill", .action(.volunteerManage), body: PostTasksFillBody.self) { req, c, b in
            return try JSON.response(try await linkage.fillMonth(communityID: nil, taskID: try c.id("id"), month: b.month, actor: try c.requireActor()))
        }
        r.post("/api/v1/tasks/:id/call", .action(.volunteerManage)) { _, c in
            try JSON.response(["told": try await linkage.callForVolunteers(taskID: try c.id("id"), actor: try c.requireActor())])
        }
        r.get("/api/v1/shifts/:id/candidates", .action(.volunteerManage)) { _, c in try JSON.response(try await linkage.rank(shiftID: try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/shifts/:id/sign-up", .action(.volunteerJoin)) { _, c in
            try JSON.response(["assignment_id": try await linkage.signUp(shiftID: try c.id("id"), actor: try c.requireActor())], status: .created)
        }
        struct PostAssignmentsAnswerBody: Decodable { var accept: Bool? }
        r.post("/api/v1/assignments/:id/answer", .action(.volunteerJoin), body: PostAssignmentsAnswerBody.self) { req, c, b in
            guard let accept = b.accept else { throw LinliError.invalid("accept", "required", "请说明接受或谢绝") }
            try await linkage.answer(assignmentID: try c.id("id"), accept: accept, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // The volunteer's own check-in (the served household's code) and check-out, and staff
        // recording them (with the time, afterwards) — split as on the console.
        struct PostAssignmentsCheckInBody: Decodable { var code: String? }
        r.post("/api/v1/assignments/:id/check-in", .action(.volunteerJoin), optionalBody: PostAssignmentsCheckInBody.self) { req, c, b in
            try await linkage.checkIn(try c.id("id"), code: b?.code, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/check-out", .action(.volunteerJoin)) { _, c in
            try await linkage.checkOut(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct StaffTime: Decodable { var at: String? }
        r.post("/api/v1/assignments/:id/staff-check-in", .action(.volunteerManage), optionalBody: StaffTime.self) { req, c, b in
            try await linkage.checkIn(try c.id("id"), code: nil, at: b?.at, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/staff-check-out", .action(.volunteerManage), optionalBody: StaffTime.self) { req, c, b in
            try await linkage.checkOut(try c.id("id"), at: b?.at, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/assignments/:id/confirm", .action(.volunteerManage)) { _, c in
            try await linkage.confirmAssignment(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // JSON twins of the console's remaining steps: the same use case, fields named as on the form.
        struct PostCommunitiesFillBody: Decodable { var month: String? }
        r.post("/api/v1/communities/:id/fill", .action(.volunteerManage), optionalBody: PostCommunitiesFillBody.self) { req, c, b in
            return try JSON.response(try await linkage.fillMonth(communityID: try c.id("id"), taskID: nil, month: b?.month, actor: try c.requireActor()))
        }
        struct PostShiftsProposeBody: Decodable { var volunteerID: Int64?; enum CodingKeys: String, CodingKey { case volunteerID = "volunteer_id" } }
        r.post("/api/v1/shifts/:id/propose", .action(.volunteerManage), body: PostShiftsProposeBody.self) { req, c, b in
            return try JSON.response(["assignment_id": try await linkage.propose(shiftID: try c.id("id"), volunteerID: b.volunteerID, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/services", .action(.projectManage), body: LinkageService.ServiceInput.self) { req, c, i in
            return try JSON.response(["id": try await linkage.addService(i, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/social-workers", .action(.projectManage), body: LinkageService.WorkerInput.self) { req, c, i in
            return try JSON.response(["id": try await linkage.addWorker(i, actor: try c.requireActor())], status: .created)
        }
        struct PostSocialWorkersTrainingsBody: Decodable { var programme: String?; var title: String?; var hours: Int?; var day: String? }
        r.post("/api/v1/social-workers/:id/trainings", .action(.projectManage), body: PostSocialWorkersTrainingsBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addTraining(workerID: try c.id("id"), programme: b.programme, title: b.title, hours: b.hours, day: b.day, actor: try c.requireActor())], status: .created)
        }
        struct PostOrganisationsMembersBody: Decodable { var name: String?; var role: String?; var joined: String? }
        r.post("/api/v1/organisations/:id/members", .action(.projectManage), body: PostOrganisationsMembersBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addOrganisationMember(try c.id("id"), name: b.name, role: b.role, joined: b.joined, actor: try c.requireActor())], status: .created)
        }
        struct PostProjectsMilestonesBody: Decodable { var title: String?; var dueDay: String?; enum CodingKeys: String, CodingKey { case title, dueDay = "due_day" } }
        r.post("/api/v1/projects/:id/milestones", .action(.projectManage), body: PostProjectsMilestonesBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.addProjectMilestone(try c.id("id"), title: b.title, dueDay: b.dueDay, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/project-milestones/:id/done", .action(.projectManage)) { _, c in
            try JSON.response(["project_id": try await linkage.completeProjectMilestone(try c.id("id"), actor: try c.requireActor())])
        }
        struct PostProjectsExpensesBody: Decodable {
            var amount: String?; var payee: String?; var purpose: String?; var receiptBase64: String?
            enum CodingKeys: String, CodingKey { case amount, payee, purpose, receiptBase64 = "receipt_base64" }
        }
        r.post("/api/v1/projects/:id/expenses", .action(.fundManage), body: PostProjectsExpensesBody.self, upTo: RequestLimits.apiBodyMax) { req, c, b in
            // The receipt's photo travels as base64, as a request's photos do.
            let receipt = try Input.base64(b.receiptBase64, field: "receipt_base64", message: "票据照片不是 base64 编码")
            let id = try await linkage.requestExpense(projectID: try c.id("id"), amount: b.amount, payee: b.payee, purpose: b.purpose, receipt: receipt, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PostExpensesRejectBody: Decodable { var reason: String? }
        r.post("/api/v1/expenses/:id/reject", .action(.fundManage), body: PostExpensesRejectBody.self) { req, c, b in
            try await linkage.rejectExpense(try c.id("id"), reason: b.reason, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PutCommunitiesFundSettingsBody: Decodable { var approvalsNeeded: Int?; enum CodingKeys: String, CodingKey { case approvalsNeeded = "approvals_needed" } }
        r.put("/api/v1/communities/:id/fund-settings", .action(.fundManage), body: PutCommunitiesFundSettingsBody.self) { req, c, b in
            try await linkage.setApprovals(communityID: try c.id("id"), count: b.approvalsNeeded, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/ventures/:id/close", .action(.fundPool)) { _, c in
            try await linkage.closeRound(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostVentureApplicationsEvaluateBody: Decodable { var evaluation: String?; var rating: Int? }
        r.post("/api/v1/venture-applications/:id/evaluate", .action(.fundPool), body: PostVentureApplicationsEvaluateBody.self) { req, c, b in
            try await linkage.evaluateGrant(applicationID: try c.id("id"), evaluation: b.evaluation, rating: b.rating, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostAssignmentsHoursBody: Decodable { var minutes: Int? }
        r.post("/api/v1/assignments/:id/hours", .action(.volunteerManage), optionalBody: PostAssignmentsHoursBody.self) { req, c, b in
            return try JSON.response(["points": try await linkage.confirmHours(try c.id("id"), minutes: b?.minutes, actor: try c.requireActor())])
        }
        r.get("/api/v1/needs", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.NeedView]()) }
            return try JSON.response(try await linkage.needs(communityID: id, uncoveredOnly: req.uri.queryParameters.get("uncovered") == "1", actor: try c.requireActor()))
        }
        r.post("/api/v1/needs", .action(.needPost), body: LinkageService.NeedInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.postNeed(input, actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/gap", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.GapRow]()) }
            return try JSON.response(try await linkage.gap(communityID: id, actor: try c.requireActor()))
        }
        r.post("/api/v1/projects", .action(.projectManage), body: LinkageService.ProjectInput.self) { req, c, input in
            let id = try await linkage.createProject(input, actor: try c.requireActor())
            return try JSON.response(try await linkage.project(id, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/projects", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.ProjectSummary]()) }
            return try JSON.response(try await linkage.projects(communityID: id, actor: try c.requireActor()))
        }
        r.get("/api/v1/tasks", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.TaskSummary]()) }
            return try JSON.response(try await linkage.tasks(communityID: id, actor: try c.requireActor()))
        }
        r.get("/api/v1/projects/:id", .action(.linkageView)) { _, c in try JSON.response(try await linkage.project(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/projects/:id/donations", .action(.linkageView), body: LinkageService.DonationInput.self) { req, c, input in
            let receipt = try await linkage.donate(projectID: try c.id("id"), input, actor: try c.requireActor())
            return try JSON.response(receipt, status: receipt.repeated ? .ok : .created)
        }
        // JSON twins of the console's remaining actions, each calling the same use case.
        struct PostTeamsBody: Decodable { var community_id: Int64?; var name: String?; var kind: String?; var organisation_id: Int64? }
        r.post("/api/v1/teams", .action(.volunteerManage), body: PostTeamsBody.self) { req, c, b in
            let id = try await linkage.createTeam(communityID: b.community_id, name: b.name, kind: b.kind, organisationID: b.organisation_id, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct PostTeamsMembersBody: Decodable { var volunteer_id: Int64? }
        r.post("/api/v1/teams/:id/members", .action(.volunteerManage), body: PostTeamsMembersBody.self) { req, c, b in
            try await linkage.addTeamMember(teamID: try c.id("id"), volunteerID: b.volunteer_id, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostRewardsBody: Decodable { var community_id: Int64?; var name: String?; var points: Int?; var stock: Int? }
        r.post("/api/v1/rewards", .action(.volunteerManage), body: PostRewardsBody.self) { req, c, b in
            let id = try await linkage.addReward(communityID: b.community_id, name: b.name, points: b.points, stock: b.stock, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        r.post("/api/v1/rewards/:id/redeem", .action(.volunteerJoin)) { _, c in
            try await linkage.redeem(rewardID: try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/volunteer/certificate", .action(.volunteerJoin)) { _, c in
            try JSON.response(try await linkage.certificate(volunteerID: nil, actor: try c.requireActor()))
        }
        r.get("/api/v1/volunteers/:id/certificate", .action(.volunteerManage)) { _, c in
            try JSON.response(try await linkage.certificate(volunteerID: try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/api/v1/needs/:id/support", .action(.needPost)) { _, c in
            try JSON.response(["supporters": try await linkage.support(needID: try c.id("id"), actor: try c.requireActor())])
        }
        struct PostProjectsAdvanceBody: Decodable { var note: String?; var evaluation: String?; var rating: Int? }
        r.post("/api/v1/projects/:id/advance", .action(.projectManage), optionalBody: PostProjectsAdvanceBody.self) { req, c, b in
            let stage = try await linkage.advanceProject(try c.id("id"), note: b?.note, evaluation: b?.evaluation, rating: b?.rating, actor: try c.requireActor())
            return try JSON.response(["stage": stage.rawValue])
        }
        struct PostProjectsCampaignBody: Decodable { var goal: String?; var seed: String?; var pool_id: Int64? }
        r.post("/api/v1/projects/:id/campaign", .action(.fundManage), body: PostProjectsCampaignBody.self) { req, c, b in
            try await linkage.openCampaign(projectID: try c.id("id"), goal: b.goal, seed: b.seed, poolID: b.pool_id, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/projects/:id/campaign/close", .action(.fundManage)) { _, c in
            try await linkage.closeCampaign(projectID: try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/pools", .action(.linkageView)) { req, c in
            let p = try await pick(req, c)
            guard let id = p.id else { return try JSON.response([LinkageService.PoolView]()) }
            return try JSON.response(try await linkage.pools(communityPath: try await communityPath(id)))
        }
        struct PostPoolsTopUpBody: Decodable { var amount: String? }
        r.post("/api/v1/pools/:id/top-up", .action(.fundPool), body: PostPoolsTopUpBody.self) { req, c, b in
            try await linkage.topUpPool(try c.id("id"), amount: b.amount, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/pledges", .action(.fundDonate)) { _, c in try JSON.response(try await linkage.myPledges(actor: try c.requireActor())) }
        // The twin of the console's reconciliation: the statement as the body (text/csv).
        r.post("/api/v1/payments/bank-statement", .action(.fundManage), raw: ["text/csv"]) { req, c in
            let buffer = try await req.body.collect(upTo: 4 * 1024 * 1024)
            guard buffer.readableBytes > 0 else { throw LinliError.invalid("file", "empty", "对账单为空") }
            return try JSON.response(try await linkage.reconcileBankStatement(String(buffer: buffer), actor: try c.requireActor()))
        }
        // WeChat Pay calls this with a signed, encrypted notification (no account: the signature is the credential).
        r.post("/api/v1/payments/wechatpay/notify", .open, raw: ["application/json"]) { req, c in
            guard let wechatPay else { throw LinliError.notFound }
            let buffer = try await req.body.collect(upTo: 64 * 1024)
            var headers: [String: String] = [:]
            for f in req.headers { headers[f.name.canonicalName] = f.value }
            let paid = try wechatPay.verify(headers: headers, body: Array(buffer.readableBytesView), now: linkage.env.nowSeconds)
            // Authentic money that cannot be booked is held for a person, and the provider hears
            // it was received (a retry would be refused the same way, then dropped).
            try await linkage.receiveProviderPayment(paid)
            return Response(status: .noContent)
        }
        r.get("/api/v1/payments/held", .action(.fundManage)) { _, c in try JSON.response(try await linkage.heldPayments(actor: try c.requireActor())) }
        struct PostHeldResolveBody: Decodable { var note: String? }
        r.post("/api/v1/payments/held/:id/resolve", .action(.fundManage), body: PostHeldResolveBody.self) { _, c, b in
            try JSON.response(try await linkage.resolveHeldPayment(try c.id("id"), note: b.note, actor: try c.requireActor()))
        }
        struct PostProjectsMatchBody: Decodable { var amount: String? }
        r.post("/api/v1/projects/:id/match", .action(.fundManage), optionalBody: PostProjectsMatchBody.self) { req, c, b in
            return try JSON.response(["matched": try await linkage.match(projectID: try c.id("id"), amount: b?.amount, actor: try c.requireActor())], status: .created)
        }
        r.post("/api/v1/expenses/:id/approve", .action(.fundManage)) { _, c in
            try JSON.response(["status": try await linkage.approveExpense(try c.id("id"), actor: try c.requireActor())])
        }
        r.post("/api/v1/pools", .action(.fundPool), body: LinkageService.PoolInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.createPool(input, actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/ventures/:id", .action(.linkageView)) { _, c in try JSON.response(try await linkage.round(try c.id("id"), actor: try c.requireActor())) }
        r.post("/api/v1/ventures", .action(.fundPool), body: LinkageService.RoundInput.self) { req, c, input in
            return try JSON.response(["id": try await linkage.openRound(input, actor: try c.requireActor())], status: .created)
        }
        struct PostVenturesApplicationsBody: Decodable { var projectID: Int64?; var requested: String?; var plan: String?
            enum CodingKeys: String, CodingKey { case projectID = "project_id", requested, plan } }
        r.post("/api/v1/ventures/:id/applications", .action(.fundManage), body: PostVenturesApplicationsBody.self) { req, c, b in
            return try JSON.response(["id": try await linkage.apply(roundID: try c.id("id"), projectID: b.projectID, requested: b.requested, plan: b.plan, actor: try c.requireActor())],
                                     status: .created)
        }
        struct PostVentureApplicationsScoreBody: Decodable { var score: Int?; var comment: String? }
        r.post("/api/v1/venture-applications/:id/score", .action(.fundPool), body: PostVentureApplicationsScoreBody.self) { req, c, b in
            try await linkage.score(applicationID: try c.id("id"), score: b.score, comment: b.comment, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostVentureApplicationsAwardBody: Decodable { var amount: String? }
        r.post("/api/v1/venture-applications/:id/award", .action(.fundPool), body: PostVentureApplicationsAwardBody.self) { req, c, b in
            try await linkage.award(applicationID: try c.id("id"), amount: b.amount, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.post("/api/v1/venture-applications/:id/pay", .action(.fundPool)) { _, c in
            try JSON.response(["transaction_id": try await linkage.payInstalment(applicationID: try c.id("id"), actor: try c.requireActor())], status: .created)
        }
        r.get("/api/v1/ledger/:id", .open) { req, c in
            let l = try await linkage.publicLedger(communityID: try c.id("id"), before: try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before"))
            struct Out: Encodable { var community: String; var transactions: [LinkageService.LedgerLine]; var totals: [String: String] }
            return try JSON.response(Out(community: l.name, transactions: l.lines, totals: l.totals))
        }
    }

}
