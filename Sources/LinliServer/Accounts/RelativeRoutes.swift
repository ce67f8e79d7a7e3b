import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Relatives who look after an elder in another household (亲属绑定): asked for with the elder's
/// household card and ID last four, confirmed by the community office on its bindings page,
/// then used to act for the elder (代办) for a short session, as staff do.
struct RelativeRoutes {
    let accounts: AccountService
    let registry: RegistryService
    let renderer: Renderer

    func register(_ r: Routes) {
        r.get("/relatives", .signedIn) { req, c in try await page(c, errors: [:], sent: req.uri.queryParameters.get("sent") == "1") }
        r.post("/relatives", .signedIn) { _, c in
            try await formOrErrors(prefix: "rel", alsoShowing: [.conflict, .tooManyRequests]) {
                _ = try await ask(code: c.form["household_code"], last4: c.form["id_last4"], relation: c.form["relation"], actor: try c.requireActor())
                return redirect("/relatives?sent=1")
            } page: { errors in try await page(c, errors: errors) }
        }
        r.post("/relatives/:id/acting", .signedIn) { req, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "act\(id)") {
                _ = try await start(id, last4: c.form["id_last4"], reason: c.form["reason"], actor: try c.requireActor(),
                                    sessionToken: req.cookies[AuthMiddleware.sessionCookie].map { String($0.value) })
                return redirect("/home")
            } page: { errors in try await page(c, errors: errors) }
        }
        r.post("/relatives/:id/end", .signedIn) { _, c in
            let actor = try c.requireActor()
            try await accounts.endRelative(try c.id("id"), actor: actor)
            return redirect(actor.may(.userManage) ? "/binds" : "/relatives")
        }
        for verdict in ["approve", "refuse"] {
            r.post("/relatives/:id/\(verdict)", .action(.userManage)) { _, c in
                let id = try c.id("id")
                // A refusal without its reason is answered on an error page naming the field.
                try await accounts.decideRelative(id, approve: verdict == "approve", reason: c.form["reason"], actor: try c.requireActor())
                return redirect("/binds")
            }
        }
        // The API twins.
        r.get("/api/v1/relatives", .signedIn) { req, c in
            try JSON.response(try await accounts.relativeLinks(actor: try c.requireActor(), pendingOnly: req.uri.queryParameters.get("pending") == "1"))
        }
        struct AskBody: Decodable { var household_code: String?; var id_last4: String?; var relation: String? }
        r.post("/api/v1/relatives", .signedIn, body: AskBody.self) { _, c, b in
            let id = try await ask(code: b.household_code, last4: b.id_last4, relation: b.relation, actor: try c.requireActor())
            return try JSON.response(["id": id], status: .created)
        }
        struct VerdictBody: Decodable { var reason: String? }
        for verdict in ["approve", "refuse"] {
            r.post("/api/v1/relatives/:id/\(verdict)", .action(.userManage), optionalBody: VerdictBody.self) { _, c, b in
                try await accounts.decideRelative(try c.id("id"), approve: verdict == "approve", reason: b?.reason, actor: try c.requireActor())
                return Response(status: .noContent)
            }
        }
        r.post("/api/v1/relatives/:id/end", .signedIn) { _, c in
            try await accounts.endRelative(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct ActBody: Decodable { var id_last4: String?; var reason: String? }
        r.post("/api/v1/relatives/:id/acting", .signedIn, body: ActBody.self) { _, c, b in
            try JSON.response(try await start(try c.id("id"), last4: b.id_last4, reason: b.reason, actor: try c.requireActor(), sessionToken: nil), status: .created)
        }
    }

    func ask(code: String?, last4: String?, relation: String?, actor: Actor) async throws -> Int64 {
        let reg = registry, code = code ?? "", last4 = last4 ?? ""
        return try await accounts.askRelative(relation: relation, actor: actor) { try await reg.relativeCandidate(code: code, last4: last4) }
    }

    func start(_ linkID: Int64, last4: String?, reason: String?, actor: Actor, sessionToken: String?) async throws -> ActingSessionView {
        guard actor.acting == nil else { throw LinliError.conflict("acting", "already_acting", "您正在代办，请先结束当前代办") }
        guard let resident = try await accounts.relativeResident(linkID, actor: actor) else { throw LinliError.notFound }
        let target = try await registry.relativeActingTarget(resident, last4: last4)
        return try await accounts.startActing(target, reason: reason, actor: actor, sessionToken: sessionToken)
    }

    func page(_ c: AppContext, errors: [String: String], sent: Bool = false) async throws -> Response {
        let actor = try c.requireActor()
        let links = try await accounts.relativeLinks(actor: actor).filter { $0.userID == actor.userID }
        let t = I18n.table(c.lang)
        let rows: [[String: Any]] = links.map { l in
            var row = renderer.fields(l, c.lang)
            row["relation_label"] = I18n.label("relation_" + l.relation, c.lang)
            row["status_label"] = I18n.label("relstatus_" + l.status, c.lang)
            row["approved"] = l.status == "approved"
            row["live"] = l.status == "approved" || l.status == "pending"
            row["error_last4"] = errors["act\(l.id)_id_last4"] ?? ""
            row["error_reason"] = errors["act\(l.id)_reason"] ?? ""
            return row
        }
        let data: [String: Any] = [
            "links": rows, "none": rows.isEmpty, "errors": errors, "sent": sent,
            "values": c.form.values.mapValues { $0.first ?? "" },
            "relations": RelativeRules.relations.map { ["value": $0, "label": I18n.label("relation_" + $0, c.lang)] },
            "acting": actor.acting != nil,
        ]
        var resp = renderer.page("relatives", data, context: c, title: t["relatives"]!)
        if !errors.isEmpty { resp.status = .unprocessableContent }
        return resp
    }
}
