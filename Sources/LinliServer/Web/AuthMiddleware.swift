import Foundation
import Hummingbird
import HTTPTypes
import LinliCore
import LinliStore

/// Turns a session cookie or a bearer token into an `Actor`, picks the language, parses form
/// bodies and enforces CSRF on every state-changing browser request.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let accounts: AccountService

    static let sessionCookie = "linli_session"

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        let cookies = request.cookies  // parsed once, not once per cookie read
        if let l = cookies["linli_lang"]?.value, let lang = Lang(rawValue: l) { context.lang = lang }
        if let q = request.uri.queryParameters.get("lang"), let lang = Lang(rawValue: q) { context.lang = lang }
        context.largePrint = cookies["linli_print"]?.value == "large"
        if let code = cookies[Flash.cookie]?.value, Flash.messages[code] != nil { context.flash = code }
        // An error below is answered by `ErrorMiddleware`, outside this one: it gets the context
        // as it stands here (the person, their language and print size), so that the error
        // page keeps their menu and words instead of a stranger's.
        do {
            return try await authenticated(&request, &context, cookies: cookies, next: next)
        } catch let e as CancellationError {
            throw e
        } catch {
            throw ContextualError(underlying: error, context: context)
        }
    }

    private func authenticated(_ request: inout Request, _ context: inout AppContext, cookies: Cookies,
                               next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var viaSession = false
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") {
            context.actor = try await accounts.bearer(token: String(auth.dropFirst(7)))
            if context.actor == nil { throw LinliError(.unauthorized, code: "bad_token", message: "令牌无效") }
        } else if let token = cookies[Self.sessionCookie]?.value, let (actor, csrf) = try await accounts.session(token: token) {
            context.actor = actor
            context.csrf = csrf
            viaSession = true
        }

        let changes = request.method == .post || request.method == .patch || request.method == .put || request.method == .delete
        if changes, request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
            let buffer = try await request.body.collect(upTo: context.maxUploadSize)
            context.form = FormData(parsing: String(buffer: buffer))
            request.body = .init(buffer: buffer)
        } else if changes, context.actor != nil, let type = request.headers[.contentType], type.hasPrefix("multipart/form-data") {
            // Only signed-in users may send large bodies; anyone else is refused by the route.
            guard let boundary = Multipart.boundary(type) else { throw LinliError.badRequest(nil, "缺少 multipart 边界") }
            let buffer = try await request.body.collect(upTo: Multipart.maxBody)
            (context.form, context.files) = try Multipart.parse(buffer, boundary: boundary)
            // The body is read once from the network: keep it, so that a route may read it too
            // (reading a streamed body twice stops the server).
            request.body = .init(buffer: buffer)
        }
        // A change sent by a browser from another site is refused whatever it carries: the
        // Origin header (sent by every current browser on a POST) must name this host.
        if changes, let origin = request.headers[.origin], !Self.sameOrigin(origin, host: request.head.authority) {
            throw LinliError(.forbidden, code: "cross_origin", message: "不接受来自其他网站的提交")
        }
        // A cookie-authenticated change must prove it came from our own page.
        if changes, viaSession {
            let sent = context.form["_csrf"] ?? request.headers[.init("X-CSRF-Token")!]
            guard let sent, sent == context.csrf else {
                throw LinliError(.forbidden, code: "csrf", message: "页面已过期，请刷新后重试")
            }
        }
        var response = try await next(request, context)
        // A page that showed the message takes it down; a redirect passes it on.
        if cookies[Flash.cookie] != nil, response.status == .ok, response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.setCookie(Cookie(name: Flash.cookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax))
        }
        return response
    }

    /// `https://linli.example:8443` against the Host the request was sent to. "null" (a sandboxed
    /// frame, a file) never matches.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, let url = URL(string: origin), let oh = url.host else { return false }
        let originHost = url.port.map { "\(oh):\($0)" } ?? oh
        let defaultPort = url.scheme == "https" ? ":443" : ":80"
        return originHost.lowercased() == host.lowercased() || (originHost + defaultPort).lowercased() == host.lowercased()
    }
}

/// Headers every response carries: a Content-Security-Policy that runs only the app's own script
/// files (no inline script, no other origin), no framing, no MIME sniffing, no full Referer to
/// other sites, and HSTS in production (where Linli sits behind HTTPS).
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let production: Bool

    /// `blob:` images: a photo chosen on the phone is drawn from its local file to be made
    /// smaller before it is sent (the page's own script makes such URLs; no other origin can).
    static let policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:%IMG%; "
        + "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

    /// The policy with the extra image origins (the configured map tile server) filled in, made once: built per response (a Foundation
    /// string search) it was 7 % of a due list's server time.
    let csp: String

    init(production: Bool, imageSources: [String] = []) {
        self.production = production
        self.csp = Self.policy.replacingOccurrences(of: "%IMG%", with: imageSources.map { " " + $0 }.joined())
    }

    static let frameOptions = HTTPField.Name("X-Frame-Options")!, referrerPolicy = HTTPField.Name("Referrer-Policy")!

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        var r = try await next(request, context)
        Self.apply(&r.headers, production: production, csp: csp)
        return r
    }

    static func apply(_ h: inout HTTPFields, production: Bool, csp: String) {
        h[.contentSecurityPolicy] = csp
        h[.xContentTypeOptions] = "nosniff"
        h[frameOptions] = "DENY"
        h[referrerPolicy] = "same-origin"
        if production { h[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
    }
}
