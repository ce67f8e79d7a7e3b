import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Acting for a resident (代办): started from the resident's page after confirming the person,
/// ended from the banner every page shows meanwhile, and read back as a record by staff and by
/// the resident. The API twin opens a session with a short bearer token that acts for the resident.
struct ActingRoutes {
    let accounts: AccountService
    let registry: RegistryService
    let renderer: Renderer
    let residentPages: RegistryRoutes

    func register(_ r: Routes) {
        r.post("/residents/:id/acting", .action(.residentActFor)) { req, c in
            let actor = try c.requireActor()
            let id = try c.id("id")
            return try await formOrErrors(prefix: "acting", alsoShowing: [.conflict]) {
                let target = try await registry.actingTarget(id, code: c.form["household_code"], last4: c.form["id_last4"], actor: actor)
                _ = try await accounts.startActing(target, reason: c.form["reason"], actor: actor,
                                                   sessionToken: req.cookies[AuthMiddleware.sessionCookie].map { String($0.value) })
                return redirect("/home")
            } page: { errors in
                try await residentPages.residentPage(c, try await registry.resident(id, actor: actor), unmasked: false, errors: errors, actingValues: c.form)
            }
        }
        r.post("/api/v1/residents/:id/acting", .action(.residentActFor), body: ActingInput.self) { req, c, input in
            let actor = try c.requireActor()
            let target = try await registry.actingTarget(try c.id("id"), code: input.householdCode, last4: input.idLast4, actor: actor)
            return try JSON.response(try await accounts.startActing(target, reason: input.reason, actor: actor, sessionToken: nil), status: .created)
        }
        r.post("/acting/end", .signedIn) { _, c in
            let actor = try c.requireActor()
            let resident = try await accounts.endActing(actor: actor)
            // A relative goes back to their own list; staff to the resident's page.
            return redirect(actor.acting?.byRelative == true ? "/relatives" : "/residents/\(resident)")
        }
        r.post("/api/v1/acting/end", .signedIn) { _, c in
            _ = try await accounts.endActing(actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/acting", .signedIn) { _, c in
            let actor = try c.requireActor()
            let sessions = try await accounts.actingSessions(actor: actor)
            let t = I18n.table(c.lang)
            let now = accounts.env.nowSeconds
            let rows = sessions.map { s -> [String: Any] in
                let steps = s.steps.map { st -> [String: Any] in
                    var step: [String: Any] = ["at": LocalDay.hhmm(LocalDay.minute(st.at)), "what": I18n.label(I18n.values["step_" + st.action] == nil ? "step_other" : "step_" + st.action, c.lang)]
                    if st.objectType == "request", let id = st.objectID { step["link"] = "/requests/\(id)"; step["object"] = "#\(id)" }
                    return step
                }
                let ended: Int64 = min(s.endedAt ?? s.expiresAt, s.expiresAt)
                var row: [String: Any] = ["resident": s.residentName, "staff": s.staffName, "reason": s.reason]
                row["when"] = LocalTime.text(s.startedAt) + "–" + LocalDay.hhmm(LocalDay.minute(ended))
                row["running"] = ActingRules.live(expiresAt: s.expiresAt, endedAt: s.endedAt, now: now)
                row["method"] = I18n.label("method_" + s.method, c.lang)
                row["steps"] = steps
                row["has_steps"] = !steps.isEmpty
                return row
            }
            let forResident = actor.actsOnlyForThemselves
            return renderer.page("acting", ["sessions": rows, "none": rows.isEmpty, "for_resident": forResident],
                                 context: c, title: t[forResident ? "acting_history_resident" : "acting_history"]!)
        }
        r.get("/api/v1/acting", .signedIn) { _, c in
            try JSON.response(try await accounts.actingSessions(actor: try c.requireActor()))
        }
    }
}

struct ActingInput: Codable, Sendable {
    var householdCode: String?
    var idLast4: String?
    var reason: String?
    enum CodingKeys: String, CodingKey { case householdCode = "household_code", idLast4 = "id_last4", reason }
}
