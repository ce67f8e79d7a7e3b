import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// Registering with a mobile number, resetting a password by SMS, and binding an account to a
/// household (with the community office confirming where the data disagree). The forms work
/// without script: "获取验证码" posts the same form to a sibling address, which sends the code
/// and shows the form again with what was typed.
struct PhoneRoutes {
    let accounts: AccountService
    let registry: RegistryService
    let renderer: Renderer
    let base: AccountRoutes

    static let cookie = "linli_phone"

    enum Mode: String { case register, reset }

    /// The form, its anti-forgery token (matched by a cookie, as the sign-in form is) and what was typed.
    func page(_ req: Request, _ c: AppContext, _ mode: Mode, token: String, notice: String? = nil, errors: [String: String] = [:], status: HTTPResponse.Status = .ok) -> Response {
        let f = c.form
        let t = I18n.table(c.lang)
        var resp = renderer.page("phone", [
            "register": mode == .register, "phone_csrf": token, "action": mode == .register ? "/register/phone" : "/password/reset",
            "phone": f["phone"] ?? "", "display_name": f["display_name"] ?? "", "community": f["community"] ?? req.uri.queryParameters.get("community").map { String($0) } ?? "",
            "notice": notice as Any, "errors": errors, "has_errors": !errors.isEmpty,
        ], context: c, title: t[mode == .register ? "register_phone" : "reset_password"]!)
        resp.status = status
        resp.setCookie(Cookie(name: Self.cookie, value: token, maxAge: 3600, path: "/", secure: base.secureCookies, httpOnly: true, sameSite: .strict))
        return resp
    }

    func token(_ req: Request) -> String? { req.cookies[Self.cookie].map { String($0.value) }.flatMap { $0.count == 32 ? $0 : nil } }

    /// The community a poster or page sent the person from (its path bounds where they may bind).
    func communityPath(_ raw: String?) async throws -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        guard let id = Int64(raw) else { throw LinliError.invalid("community", "invalid", "社区编号应为数字") }
        return try await registry.communityPath(id)
    }

    func register(_ r: Routes) {
        for mode in [Mode.register, .reset] {
            let path = mode == .register ? "/register/phone" : "/password/reset"
            r.get(path, .open) { req, c in page(req, c, mode, token: token(req) ?? accounts.newLoginToken()) }
            r.post(path + "/code", .open) { req, c in
                guard let expected = token(req), c.form["_csrf"] == expected else {
                    return page(req, c, mode, token: accounts.newLoginToken(), errors: ["form": "页面已过期，请重新打开"], status: .forbidden)
                }
                do {
                    let notice = try await accounts.requestSMSCode(phone: c.form["phone"] ?? "", purpose: mode == .register ? .register : .reset,
                                                                   address: base.clientAddress(req, c))
                    return page(req, c, mode, token: expected, notice: notice)
                } catch let e as LinliError {
                    return page(req, c, mode, token: expected, errors: [e.field ?? "form": e.message], status: e.status)
                }
            }
            r.post(path, .open) { req, c in
                guard let expected = token(req), c.form["_csrf"] == expected else {
                    return page(req, c, mode, token: accounts.newLoginToken(), errors: ["form": "页面已过期，请重新打开"], status: .forbidden)
                }
                do {
                    if mode == .register {
                        let s = try await accounts.registerByPhone(phone: c.form["phone"] ?? "", code: c.form["sms_code"] ?? "", displayName: c.form["display_name"] ?? "",
                                                                   password: c.form["password"] ?? "", communityPath: try await communityPath(c.form["community"]))
                        var resp = redirect("/bind")
                        resp.setCookie(base.sessionCookie(s.token, maxAge: Int(AccountService.sessionSeconds)))
                        return resp
                    }
                    try await accounts.resetPasswordBySMS(phone: c.form["phone"] ?? "", code: c.form["sms_code"] ?? "", password: c.form["password"] ?? "")
                    return redirect("/login?reset=1")
                } catch {
                    let status = (error as? LinliError)?.status ?? .unprocessableContent
                    guard let fe = RegistryRoutes.fieldErrors(error) ?? (error as? LinliError).map({ ["form": $0.message] }) else { throw error }
                    return page(req, c, mode, token: expected, errors: fe, status: status)
                }
            }
        }
        struct PostSmsCodeBody: Decodable { var phone: String?; var purpose: String? }
        r.post("/api/v1/sms/code", .open, body: PostSmsCodeBody.self) { req, c, b in
            struct Out: Encodable { var message: String }
            // A notice is not a one-time code anyone may ask for.
            guard let purpose = SMSPurpose(rawValue: b.purpose ?? ""), purpose != .notice else {
                throw LinliError.invalid("purpose", "invalid_choice", "purpose 应为 register 或 reset")
            }
            return try JSON.response(Out(message: try await accounts.requestSMSCode(phone: b.phone ?? "", purpose: purpose, address: base.clientAddress(req, c))), status: .accepted)
        }
        struct PostRegisterPhoneBody: Decodable { var phone: String?; var sms_code: String?; var display_name: String?; var password: String?; var community_id: Int64? }
        r.post("/api/v1/register/phone", .open, body: PostRegisterPhoneBody.self) { req, c, b in
            struct Out: Encodable { var token: String; var expires_in_days: Int }
            let s = try await accounts.registerByPhone(phone: b.phone ?? "", code: b.sms_code ?? "", displayName: b.display_name ?? "", password: b.password ?? "",
                                                       communityPath: try await communityPath(b.community_id.map(String.init)))
            let t = try await accounts.apiTokenReplacing(s, name: "register")
            return try JSON.response(Out(token: t, expires_in_days: AccountService.tokenDays), status: .created)
        }
        struct PostPasswordResetBody: Decodable { var phone: String?; var sms_code: String?; var password: String? }
        r.post("/api/v1/password/reset", .open, body: PostPasswordResetBody.self) { req, c, b in
            try await accounts.resetPasswordBySMS(phone: b.phone ?? "", code: b.sms_code ?? "", password: b.password ?? "")
            return Response(status: .noContent)
        }

        // MARK: Binding to a household
        r.get("/bind", .signedIn) { req, c in try await bindPage(req, c, errors: [:]) }
        r.post("/bind", .signedIn) { req, c in
            let actor = try c.requireActor()
            do {
                let outcome = try await bind(code: c.form["household_code"] ?? "", last4: c.form["id_last4"] ?? "", askStaff: c.form["ask_staff"] == "1", actor: actor)
                return redirect(outcome == .bound ? "/console" : "/bind?sent=1")
            } catch let e as LinliError where e.status != .notFound {
                var resp = try await bindPage(req, c, errors: [e.field ?? "form": e.message])
                resp.status = e.status
                return resp
            }
        }
        struct PostBindBody: Decodable { var household_code: String?; var id_last4: String?; var ask_staff: Bool? }
        r.post("/api/v1/bind", .signedIn, body: PostBindBody.self) { req, c, b in
            struct Out: Encodable { var status: String }
            let outcome = try await bind(code: b.household_code ?? "", last4: b.id_last4 ?? "", askStaff: b.ask_staff ?? false, actor: try c.requireActor())
            return try JSON.response(Out(status: outcome == .bound ? "bound" : "pending"), status: outcome == .bound ? .ok : .accepted)
        }
        r.get("/api/v1/binds", .signedIn) { req, c in
            try JSON.response(try await accounts.bindRequests(actor: try c.requireActor(), pendingOnly: req.uri.queryParameters.get("all") != "1"))
        }
        r.get("/binds", .action(.userManage)) { _, c in try await bindsPage(c, errors: [:]) }
        for verdict in ["approve", "refuse"] {
            r.post("/binds/:id/\(verdict)", .action(.userManage)) { _, c in
                let id = try c.id("id")
                return try await formOrErrors(prefix: "b\(id)", alsoShowing: [.conflict]) {
                    try await decide(id, approve: verdict == "approve", residentID: try c.form.optionalID("resident_id", "请选择居民"), reason: c.form["reason"], actor: try c.requireActor())
                    return redirect("/binds")
                } page: { errors in try await bindsPage(c, errors: errors) }
            }
            struct BindVerdictBody: Decodable { var resident_id: Int64?; var reason: String? }
            r.post("/api/v1/binds/:id/\(verdict)", .action(.userManage), body: BindVerdictBody.self) { req, c, b in
                try await decide(try c.id("id"), approve: verdict == "approve", residentID: b.resident_id, reason: b.reason, actor: try c.requireActor())
                return Response(status: .noContent)
            }
        }
    }

    func bind(code: String, last4: String, askStaff: Bool, actor: Actor) async throws -> BindOutcome {
        let reg = registry
        return try await accounts.bind(askStaff: askStaff, actor: actor) { phone in try await reg.bindCandidate(code: code, last4: last4, phoneIndex: phone) }
    }

    func decide(_ id: Int64, approve: Bool, residentID: Int64?, reason: String?, actor: Actor) async throws {
        let reg = registry
        try await accounts.decideBind(id, approve: approve, residentID: residentID, reason: reason,
                                      residentLives: { r, h in try await reg.residentLives(r, in: h) }, actor: actor)
    }

    func bindPage(_ req: Request, _ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let mine = try await accounts.bindRequests(actor: actor, mine: true, pendingOnly: false)
        let bound = actor.grants.contains { $0.role == .resident }
        return renderer.page("bind", [
            "household_code": c.form["household_code"] ?? req.uri.queryParameters.get("code").map { String($0) } ?? "", "bound": bound, "sent": req.uri.queryParameters.get("sent") == "1",
            "requests": mine.map { b in var d = renderer.fields(b, c.lang); d["status_text"] = I18n.label("bind_" + b.status, c.lang); return d }, "has_requests": !mine.isEmpty,
            "errors": errors, "has_errors": !errors.isEmpty,
        ], context: c, title: I18n.table(c.lang)["bind_household"]!)
    }

    func bindsPage(_ c: AppContext, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let list = try await accounts.bindRequests(actor: actor).filter { $0.userID != actor.userID }
        var rows: [[String: Any]] = [], residents: [Int64: [ResidentView]] = [:]
        for b in list {
            var d = renderer.fields(b, c.lang)
            if residents[b.householdID] == nil { residents[b.householdID] = try await registry.household(b.householdID, actor: actor).residents }
            d["residents"] = residents[b.householdID]!.map { ["id": $0.id, "name": $0.name, "selected": $0.id == b.residentID] }
            if let e = errors["b\(b.id)_resident_id"] ?? errors["b\(b.id)_status"] { d["error_approve"] = e }
            if let e = errors["b\(b.id)_reason"] { d["error_refuse"] = e }
            rows.append(d)
        }
        // Relatives who asked to look after someone here (亲属绑定): confirmed after a call to the person.
        let relatives: [[String: Any]] = try await accounts.relativeLinks(actor: actor).filter { $0.userID != actor.userID && $0.status != "refused" }.map { l in
            var d = renderer.fields(l, c.lang)
            d["relation_label"] = I18n.label("relation_" + l.relation, c.lang)
            d["status_label"] = I18n.label("relstatus_" + l.status, c.lang)
            d["pending"] = l.status == "pending"
            return d
        }
        return renderer.page("binds", ["requests": rows, "has_requests": !rows.isEmpty, "has_errors": !errors.isEmpty,
                                       "relatives": relatives, "has_relatives": !relatives.isEmpty],
                             context: c, title: I18n.table(c.lang)["bind_requests"]!)
    }
}
