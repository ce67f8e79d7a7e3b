import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Tasks from the community to its grid workers (网格任务): staff give one to a building, some
/// grids or the households of a kind, with a deadline, and follow it grid by grid; a grid worker
/// records each household of their grid with one tap (done, a problem found, nobody home).
extension GridWorkRoutes {
    func registerTasks(_ r: Routes) {
        r.get("/grid-tasks", .action(.visitLog)) { req, c in
            try await tasksPage(req, c, values: FormData(), errors: [:])
        }
        r.get("/api/v1/grid-tasks", .action(.visitLog)) { req, c in
            let actor = try c.requireActor()
            var community = try Input.id(req.uri.queryParameters.get("community"), field: "community")
            // Staff without a grid of their own read their (first) community's, as the page shows.
            if community == nil, GridWorkService.workerGrids(actor).isEmpty, actor.may(.visitPlan) {
                community = try await gridWork.communities(actor: actor, .visitPlan).first?.id
            }
            return try JSON.response(try await gridWork.tasks(community: community, actor: actor))
        }
        r.post("/grid-tasks", .action(.visitPlan)) { req, c in
            do {
                let t = try await gridWork.assignTask(Self.taskInput(c.form), actor: try c.requireActor())
                return redirect("/grid-tasks/\(t.id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                var resp = try await tasksPage(req, c, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.post("/api/v1/grid-tasks", .action(.visitPlan), body: GridTaskInput.self) { _, c, input in
            try JSON.response(try await gridWork.assignTask(input, actor: try c.requireActor()), status: .created)
        }
        r.get("/grid-tasks/:id", .action(.visitLog)) { req, c in
            let grid = try Input.id(req.uri.queryParameters.get("grid"), field: "grid")
            return try await taskPage(c, try await gridWork.task(try c.id("id"), gridID: grid, actor: try c.requireActor()), grid: grid, errors: [:])
        }
        r.get("/api/v1/grid-tasks/:id", .action(.visitLog)) { req, c in
            let grid = try Input.id(req.uri.queryParameters.get("grid"), field: "grid")
            return try JSON.response(try await gridWork.task(try c.id("id"), gridID: grid, actor: try c.requireActor()))
        }
        r.post("/grid-tasks/:id/households/:household", .action(.visitLog)) { _, c in
            let actor = try c.requireActor()
            let id = try c.id("id"), household = try c.id("household")
            let grid = c.form.int("return_grid")
            do {
                // Each door's box is named for its household: boxes of one name on a page read to
                // a screen reader (and axe) as one group.
                let mark = GridTaskMark(outcome: c.form.nonEmpty("outcome"), feedback: c.form["feedback"], fileRequest: c.form["file_request_\(household)"] == "1" || c.form["file_request"] == "1",
                                        requestCategory: c.form.nonEmpty("request_category"))
                _ = try await gridWork.markTask(id, household: household, mark, actor: actor)
                return redirect("/grid-tasks/\(id)" + (grid.map { "?grid=\($0)" } ?? "") + "#h\(household)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                // The message goes beside the household's own form, with what was typed kept.
                var resp = try await taskPage(c, try await gridWork.task(id, gridID: grid, actor: actor), grid: grid,
                                              errors: fe, at: household, typed: c.form["feedback"] ?? "")
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.post("/api/v1/grid-tasks/:id/households/:household", .action(.visitLog), body: GridTaskMark.self) { _, c, mark in
            try JSON.response(try await gridWork.markTask(try c.id("id"), household: try c.id("household"), mark, actor: try c.requireActor()))
        }
        r.post("/grid-tasks/:id/close", .action(.visitPlan)) { _, c in
            let id = try c.id("id")
            _ = try await gridWork.closeTask(id, actor: try c.requireActor())
            return redirect("/grid-tasks/\(id)")
        }
        r.post("/api/v1/grid-tasks/:id/close", .action(.visitPlan)) { _, c in
            try JSON.response(try await gridWork.closeTask(try c.id("id"), actor: try c.requireActor()))
        }
    }

    static func taskInput(_ f: FormData) -> GridTaskInput {
        var i = GridTaskInput()
        let a = announcementInput(f)
        i.communityID = a.communityID; i.title = f["title"]; i.body = f["body"]; i.deadline = f.nonEmpty("deadline")
        i.audienceKind = a.audienceKind; i.placeIDs = a.placeIDs; i.gridIDs = a.gridIDs; i.tag = a.tag
        return i
    }

    func stateLabel(_ s: GridTaskState, _ lang: Lang) -> String { I18n.label("task_state_" + s.rawValue, lang) }

    func taskItem(_ t: GridTaskView, _ lang: Lang) -> TemplateValue { VisitsPage.taskItem(t, lang) }

    /// Staff: their community's tasks and the form to give one; a grid worker: the tasks in their grids.
    func tasksPage(_ req: Request, _ c: AppContext, values: FormData, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let t = I18n.table(c.lang)
        var data: [String: Any] = [:]
        if !GridWorkService.workerGrids(actor).isEmpty {
            let mine = try await gridWork.tasks(community: nil, actor: actor)
            data["worker"] = true
            data["mine"] = mine.map { taskItem($0, c.lang) }
            data["mine_none"] = mine.isEmpty
        }
        if actor.may(.visitPlan) {
            let picked = try await pick(req, c, form: values)
            if let community = picked.id {
                let list = try await gridWork.tasks(community: community, actor: actor)
                let (grids, _) = try await gridWork.grids(community: community, actor: actor)
                let kind = values["audience_kind"] ?? "places"
                let chosen = Set(values.all("grid_ids"))
                data["staff"] = true
                data["community_id"] = community
                data["communities"] = picked.options
                data["many_communities"] = picked.options.count > 1
                data["kinds"] = AudienceKind.allCases.map { ["value": $0.rawValue, "label": t["audience_" + $0.rawValue]!, "checked": $0.rawValue == kind] }
                data["grids"] = grids.filter { $0.level == "grid" }.map { ["value": $0.id, "label": $0.name, "checked": chosen.contains(String($0.id))] }
                data["tags"] = RegistryService.audienceTags.map { ["value": $0, "label": I18n.label($0, c.lang), "selected": $0 == values["tag"]] }
                for k in ["title", "body", "place_ids", "deadline"] { data[k] = values[k] ?? "" }
                data["today"] = ChinaTime.iso(day: LocalDay.of(gridWork.env.nowSeconds))
                data["items"] = list.map { taskItem($0, c.lang) }
                data["none"] = list.isEmpty
            } else {
                data["no_community"] = data["worker"] == nil
            }
        }
        for (k, v) in errors { data["error_" + k] = v }
        return renderer.page("grid_tasks", data, context: c, title: t["grid_tasks"]!)
    }

    func taskPage(_ c: AppContext, _ d: GridTaskDetail, grid: Int64?, errors: [String: String], at household: Int64? = nil, typed: String = "") async throws -> Response {
        let t = I18n.table(c.lang)
        let task = d.task
        let open = task.state == .open || task.state == .overdue
        func row(_ h: GridTaskHousehold, form: Bool) -> [String: Any] {
            var x: [String: Any] = ["household_id": h.householdID, "address": h.address, "feedback": h.feedback, "by": h.by ?? "", "at": h.at ?? "",
                                    "settled": h.outcome?.settles == true, "problem": h.outcome == .problem,
                                    "outcome": h.outcome.map { I18n.label("task_outcome_" + $0.rawValue, c.lang) } ?? t["task_not_yet"]!,
                                    "attempts": h.attempts, "has_attempts": h.attempts > 0,
                                    "form": form && open && !(task.closedAt != nil), "typed": h.householdID == household ? typed : h.feedback,
                                    "request_id": h.requestID.map { $0 as Any } ?? false, "may_file": h.requestID == nil]
            if h.householdID == household {
                for (k, v) in errors { x["error_" + k] = v }
                // A refusal from filing the request (its own fields) is said beside the door too.
                let other = errors.filter { !["feedback", "outcome", "file_request", "request_category"].contains($0.key) }.map(\.value)
                if !other.isEmpty { x["error_other"] = other.sorted().joined(separator: "；") }
            }
            return x
        }
        let staff = task.counts != nil
        let n = task.counts ?? task.mine ?? GridTaskCounts(households: 0, done: 0, problems: 0)
        var data: [String: Any] = [
            "id": task.id, "title": task.title, "body": task.body, "has_body": !task.body.isEmpty, "deadline": Self.dayText(task.deadline),
            "state": stateLabel(task.state, c.lang), "overdue": task.state == .overdue, "from": task.from, "at": task.at,
            "community": task.communityName, "staff": staff, "can_close": staff && open,
            "households": n.households, "done": n.done, "problems_count": n.problems, "open_count": n.open,
            "grids": d.grids.map { g -> [String: Any] in
                ["grid_id": g.gridID, "grid": g.gridName, "households": g.counts.households, "done": g.counts.done, "problems": g.counts.problems,
                 "open": g.counts.open, "behind": g.counts.open > 0 && task.state == .overdue, "chosen": g.gridID == grid]
            },
            "has_grids": !d.grids.isEmpty,
            "rows": d.households.map { row($0, form: true) }, "has_rows": !d.households.isEmpty,
            "problems": d.problems.map { row($0, form: false) }, "has_problems": !d.problems.isEmpty,
            "return_grid": grid.map(String.init) ?? "", "outcomes_hint": t["task_mark_hint"]!,
        ]
        if let grid, let g = d.grids.first(where: { $0.gridID == grid }) { data["chosen_grid"] = g.gridName }
        // One list of categories for the page: the script copies the choice into the form sent.
        if data["has_rows"] as? Bool == true, open {
            let names = Dictionary(try await requests.categories(lang: c.lang).map { ($0.code, $0.name) }, uniquingKeysWith: { a, _ in a })
            data["categories"] = try await gridWork.requestCategories().map { ["value": $0.code, "label": names[$0.code] ?? $0.name] }
            data["has_categories"] = true
        }
        if let e = errors["_"] { data["error"] = e }
        return renderer.page("grid_task", data, context: c, title: t["grid_task"]! + " · " + task.title)
    }
}
