import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The volunteering pages: volunteers, teams, tasks and their shifts, candidates, the month's filling.
extension LinkageRoutes {
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
            return renderer.page("volunteer_certificate", ["c": renderer.data(cert, c.lang)], context: c, title: I18n.table(c.lang)["certificate"]!)
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
            return renderer.page("volunteer_certificate", ["c": renderer.data(cert, c.lang)], context: c, title: I18n.table(c.lang)["certificate"]!)
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
            "me": me.map { renderer.data($0, c.lang) } ?? false, "registered": me != nil, "form": form, "errors": errors ?? [:],
            "shifts": renderer.data(upcoming, c.lang), "no_shifts": upcoming.isEmpty,
            "history": renderer.data(shifts.filter(\.confirmed), c.lang), "no_history": !shifts.contains(where: \.confirmed),
            "rewards": renderer.data(rewards, c.lang), "has_rewards": !rewards.isEmpty,
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
            data["tasks"] = renderer.data(tasks, c.lang)
            data["no_tasks"] = tasks.isEmpty
            let manage = LinkageService.covers(actor, .volunteerManage, try await communityPath(id))
            data["manage"] = manage
            if manage {
                data["places"] = try await placeChoices(id)
                data["teams"] = renderer.data(try await linkage.teams(communityID: id, actor: actor), c.lang)
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
        var data: [String: Any] = ["t_": renderer.data(t, c.lang), "errors": errors ?? [:], "prev": prev, "next": next,
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
            "when": LocalTime.text(try info.decode(column: "starts_at", as: Int64.self)), "rows": renderer.data(list, c.lang), "errors": errors ?? [:], "proposed": proposed,
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
            data["volunteers"] = renderer.data(list, c.lang)
            data["no_volunteers"] = list.isEmpty
            data["teams"] = renderer.data(try await linkage.teams(communityID: id, actor: actor), c.lang)
            data["rewards"] = renderer.data(try await linkage.rewards(communityID: id, actor: actor), c.lang)
            data["organisations"] = try await linkage.organisationWork(communityID: id, actor: actor).map { ["value": $0.id, "label": $0.name] }
        }
        return renderer.page("volunteers", data, context: c, title: I18n.table(c.lang)["tab_volunteers"]!)
    }
}
