import Foundation
import Hummingbird
import LinliCore
import LinliStore

struct AccountRoutes {
    let accounts: AccountService
    let renderer: Renderer
    let secureCookies: Bool

    static let loginCookie = "linli_login"
    static let registerCookie = "linli_register"
    /// The address of a reverse proxy whose X-Forwarded-For is believed (LINLI_TRUSTED_PROXY).
    var trustedProxy: String? = nil

    /// The client's address for the sign-in throttle: the peer, or the last address the trusted
    /// proxy appended (the ones before it are the client's own claims).
    func clientAddress(_ req: Request, _ c: AppContext) -> String? {
        if let proxy = trustedProxy, c.remoteAddress == proxy, let xff = req.headers[.init("X-Forwarded-For")!],
           let last = xff.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty {
            return last
        }
        return c.remoteAddress
    }

    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: AuthMiddleware.sessionCookie, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// Only local paths are accepted as a place to return to after sign-in.
    /// Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    /// `/\t/evil.example` is `//evil.example`: any control character, space or backslash is
    /// refused outright, and so is a second slash at the start.
    static func safeNext(_ s: String?) -> String {
        guard let s, s.hasPrefix("/"), !s.hasPrefix("//"), s.count <= 2000,
              !s.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || $0 == "\\" || $0.properties.isWhitespace }) else { return "/console" }
        return s
    }

    func register(_ r: Routes) {
        r.get("/health", .open) { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) }
        // The sign-in form carries a token that matches a cookie set with it (there is no session
        // yet to hold one), so another site cannot sign a browser in to an account of its choosing.
        r.get("/login", .open) { req, c in
            let token = (req.cookies[Self.loginCookie].map { String($0.value) }.flatMap { $0.count == 32 ? $0 : nil } ?? accounts.newLoginToken())
            var resp = renderer.page("login", ["next": Self.safeNext(req.uri.queryParameters.get("next")), "login_csrf": token,
                                               "reset": req.uri.queryParameters.get("reset") == "1"], context: c,
                                     title: I18n.table(c.lang)["login"]!)
            resp.setCookie(Cookie(name: Self.loginCookie, value: token, maxAge: 3600, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return resp
        }
        r.post("/login", .open) { req, c in
            let username = c.form["username"] ?? "", next = Self.safeNext(c.form["next"])
            let expected = req.cookies[Self.loginCookie].map { String($0.value) }
            guard let expected, let sent = c.form["_csrf"], sent == expected else {
                var resp = renderer.page("login", ["error": "页面已过期，请重新登录", "username": username, "next": next, "login_csrf": expected ?? ""],
                                         context: c, title: I18n.table(c.lang)["login"]!)
                resp.status = .forbidden
                return resp
            }
            do {
                let s = try await accounts.login(username: username, password: c.form["password"] ?? "", address: clientAddress(req, c))
                var resp = redirect(next)
                resp.setCookie(sessionCookie(s.token, maxAge: Int(AccountService.sessionSeconds)))
                return resp
            } catch let e as LinliError {
                var resp = renderer.page("login", ["error": e.message, "username": username, "next": next, "login_csrf": expected], context: c, title: I18n.table(c.lang)["login"]!)
                resp.status = e.status
                return resp
            }
        }
        // A resident makes their own account with the one-time code staff printed for them. The
        // form carries a token matched by a cookie, as the sign-in form does.
        r.get("/register", .open) { req, c in
            let token = (req.cookies[Self.registerCookie].map { String($0.value) }.flatMap { $0.count == 32 ? $0 : nil } ?? accounts.newLoginToken())
            var resp = renderer.page("register", ["register_csrf": token, "code": req.uri.queryParameters.get("code") ?? "", "errors": [String: String]()],
                                     context: c, title: I18n.table(c.lang)["register"]!)
            resp.setCookie(Cookie(name: Self.registerCookie, value: token, maxAge: 3600, path: "/register", secure: secureCookies, httpOnly: true, sameSite: .strict))
            return resp
        }
        r.post("/register", .open) { req, c in
            let expected = req.cookies[Self.registerCookie].map { String($0.value) }
            func page(_ errors: [String: String], _ status: HTTPResponse.Status) -> Response {
                var resp = renderer.page("register", ["register_csrf": expected ?? "", "code": c.form["code"] ?? "", "username": c.form["username"] ?? "",
                                                      "errors": errors], context: c, title: I18n.table(c.lang)["register"]!)
                resp.status = status
                return resp
            }
            guard let expected, let sent = c.form["_csrf"], sent == expected else { return page(["form": "页面已过期，请重新打开"], .forbidden) }
            do {
                let s = try await accounts.redeemInvite(code: c.form["code"] ?? "", username: c.form["username"] ?? "", password: c.form["password"] ?? "",
                                                        address: clientAddress(req, c))
                var resp = redirect("/console")
                resp.setCookie(sessionCookie(s.token, maxAge: Int(AccountService.sessionSeconds)))
                return resp
            } catch {
                if let e = error as? LinliError, e.field == nil { return page(["form": e.message], e.status) }
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                return page(fe, (error as? LinliError)?.status ?? .unprocessableContent)
            }
        }
        struct PostRegisterBody: Decodable { var code: String?; var username: String?; var password: String? }
        r.post("/api/v1/register", .open, body: PostRegisterBody.self) { req, c, b in
            struct Out: Encodable { var token: String; var expires_in_days: Int }
            let s = try await accounts.redeemInvite(code: b.code ?? "", username: b.username ?? "", password: b.password ?? "", address: clientAddress(req, c))
            let t = try await accounts.apiTokenReplacing(s, name: "register")
            return try JSON.response(Out(token: t, expires_in_days: AccountService.tokenDays), status: .created)
        }
        r.post("/logout", .signedIn) { req, _ in
            if let t = req.cookies[AuthMiddleware.sessionCookie]?.value { try await accounts.logout(token: t) }
            var resp = redirect("/login")
            resp.setCookie(sessionCookie("", maxAge: 0))
            return resp
        }
        // Display preferences: language and large print, remembered in a cookie.
        r.get("/prefs", .open) { req, _ in
            var resp = redirect(Self.safeNext(req.headers[.referer].flatMap { URL(string: $0)?.path }))
            if let l = req.uri.queryParameters.get("lang"), Lang(rawValue: l) != nil {
                resp.setCookie(Cookie(name: "linli_lang", value: l, maxAge: 365 * 86400, path: "/", httpOnly: false, sameSite: .lax))
            }
            if let p = req.uri.queryParameters.get("print"), p == "large" || p == "normal" {
                resp.setCookie(Cookie(name: "linli_print", value: p, maxAge: 365 * 86400, path: "/", httpOnly: false, sameSite: .lax))
            }
            return resp
        }
        r.get("/static/app.css", .open) { _, _ in
            Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: Stylesheet.css)))
        }
        for (name, js) in [("map.js", MapScript.js), ("app.js", Scripts.app), ("picker.js", Scripts.picker), ("request-form.js", Scripts.requestForm), ("scan.js", Scripts.scan), ("visits.js", Scripts.visits), ("tasks.js", Scripts.tasks), ("charts.js", Scripts.charts)] {
            r.script(name, js)
        }

        // API: exchange a username and password for a bearer token.
        struct PostTokensBody: Decodable { var username: String?; var password: String?; var name: String? }
        r.post("/api/v1/tokens", .open, body: PostTokensBody.self) { req, c, b in
            struct Out: Encodable { var token: String; var expires_in_days: Int }
            let s = try await accounts.login(username: b.username ?? "", password: b.password ?? "", address: clientAddress(req, c))
            try await accounts.logout(token: s.token)
            let t = try await accounts.createAPIToken(username: s.actor.username, name: b.name ?? "api")
            return try JSON.response(Out(token: t, expires_in_days: AccountService.tokenDays), status: .created)
        }
        // Ends the bearer token the request carries (an app signing out); a session ends at /logout.
        r.post("/api/v1/tokens/revoke", .signedIn) { req, _ in
            if let auth = req.headers[.authorization], auth.hasPrefix("Bearer ") { try await accounts.revokeToken(String(auth.dropFirst(7))) }
            return Response(status: .noContent)
        }
        r.get("/api/v1/me", .signedIn) { _, c in
            struct Grant: Encodable { var role: String; var place_id: Int64; var grid_id: Int64?; var household_id: Int64? }
            struct Me: Encodable { var username: String; var display_name: String; var grants: [Grant] }
            let a = try c.requireActor()
            return try JSON.response(Me(username: a.username, display_name: a.displayName,
                                        grants: a.grants.map { Grant(role: $0.role.rawValue, place_id: $0.placeID, grid_id: $0.gridID, household_id: $0.householdID) }))
        }
    }
}

struct AuditRoutes {
    let audit: AuditLog
    let store: any Store
    let renderer: Renderer

    func register(_ r: Routes) {
        r.get("/audit", .action(.auditView)) { req, c in
            let before = try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before")
            let entries = try await audit.list(store, actor: try c.requireActor(), limit: 100, before: before)
            var rows = entries.map { renderer.fields($0, c.lang) }
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd HH:mm:ss"
            f.timeZone = TimeZone(identifier: "Asia/Shanghai")
            for i in rows.indices { rows[i]["when"] = f.string(from: Date(timeIntervalSince1970: TimeInterval(entries[i].at))) }
            return renderer.page("audit", ["entries": rows, "older": entries.count == 100 ? entries.last!.id : 0], context: c, title: I18n.table(c.lang)["audit"]!)
        }
        r.get("/api/v1/audit", .action(.auditView)) { req, c in
            let before = try Input.id(req.uri.queryParameters.get("before").map { String($0) }, field: "before")
            return try JSON.response(try await audit.list(store, actor: try c.requireActor(), limit: 100, before: before))
        }
    }
}
