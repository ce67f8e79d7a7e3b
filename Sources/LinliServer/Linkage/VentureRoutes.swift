import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// The venture grant pages: rounds, applications, scores, instalments.
extension LinkageRoutes {
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
        data["rounds"] = renderer.data(rounds, c.lang)
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
        var data: [String: Any] = ["v": renderer.data(v, c.lang), "errors": errors ?? [:], "can_apply": false]
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
}
