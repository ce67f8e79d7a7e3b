import Foundation
import Hummingbird
import NIOCore
import LinliCore
import LinliStore

/// Who may call a route at all. Object scope is then checked by the use case.
public enum Access: Sendable, Equatable {
    /// Anyone, signed in or not (login page, static files, health).
    case open
    /// A signed-in user holding a role that includes this action somewhere.
    case action(Action)
    /// A signed-in user (their own profile, sign-out).
    case signedIn
}

public struct RouteDeclaration: Sendable, Equatable {
    public var method: HTTPRequest.Method
    public var path: String
    public var access: Access
    /// The JSON body the route decodes, read from its Swift type (nil: it takes none, or a form).
    var body: BodySchema? = nil
    /// The body may be left out altogether.
    var bodyOptional = false
    /// Media types of a body that is not JSON (a spreadsheet, a bank statement).
    var rawBody: [String] = []
}

/// Every route is registered here with its access rule; there is no other way to add a route, so
/// none can exist without a rule. The table is what the route × role test walks.
package final class Routes: @unchecked Sendable {
    let router: Router<AppContext>
    private(set) var table: [RouteDeclaration] = []

    init(router: Router<AppContext>) { self.router = router }

    /// Routes that change a resident's account itself, refused while acting for them.
    static let notWhileActing: Set<String> = ["/bind", "/api/v1/bind"]

    func add(_ method: HTTPRequest.Method, _ path: String, _ access: Access, body: BodySchema? = nil, bodyOptional: Bool = false,
             _ handler: @escaping @Sendable (Request, AppContext) async throws -> Response) {
        table.append(RouteDeclaration(method: method, path: path, access: access, body: body, bodyOptional: bodyOptional))
        let isAPI = path.hasPrefix("/api/")
        router.on(RouterPath(path), method: method) { request, context -> Response in
            switch access {
            case .open: break
            case .signedIn, .action:
                guard let actor = context.actor else {
                    if isAPI || method != .get { throw LinliError.unauthenticated }
                    let next = request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"
                    return Response(status: .seeOther, headers: [.location: "/login?next=\(next)"])
                }
                if case .action(let a) = access, !actor.may(a) {
                    // No role of this user could ever do this: deny without touching any object.
                    throw LinliError.forbidden
                }
                // Acting for a resident covers what they do, not who they are: their account's
                // links stay theirs.
                if actor.acting != nil, Self.notWhileActing.contains(path) {
                    throw LinliError(.forbidden, code: "acting", message: "代办时不能更改居民的账号绑定")
                }
            }
            var response = try await handler(request, context)
            // A browser form that worked and moved on says so on the next page.
            if method == .post, !isAPI, access != .open, response.status == .seeOther, !Flash.pageSaysItself.contains(path) {
                response.setCookie(Flash.set(Flash.code(after: path)))
            }
            return response
        }
    }

    package func get(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) { add(.get, path, access, h) }

    /// A script the app serves itself (`/static/NAME`), open to all and cached for an hour: the
    /// platform's, and a capability's own from its `register`.
    package func script(_ name: String, _ js: String) {
        get("/static/\(name)", .open) { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "max-age=3600"],
                     body: .init(byteBuffer: ByteBuffer(string: js)))
        }
    }
    package func post(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) { add(.post, path, access, h) }
    func patch(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) { add(.patch, path, access, h) }
    func put(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) { add(.put, path, access, h) }
    package func delete(_ path: String, _ access: Access, _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) { add(.delete, path, access, h) }

    // A JSON route names the type of its body; the table decodes it (naming the field at fault)
    // before the handler runs, and the OpenAPI document describes the same type. Handlers cannot
    // decode a request themselves (`JSON.decode(_:from:)` is private to this file), so no route
    // reads a body its declaration does not show.

    package func post<B: Decodable & SendableMetatype>(_ path: String, _ access: Access, body: B.Type, upTo limit: Int? = nil,
                            _ h: @escaping @Sendable (Request, AppContext, B) async throws -> Response) { add(.post, path, access, body, limit, h) }
    package func patch<B: Decodable & SendableMetatype>(_ path: String, _ access: Access, body: B.Type, upTo limit: Int? = nil,
                             _ h: @escaping @Sendable (Request, AppContext, B) async throws -> Response) { add(.patch, path, access, body, limit, h) }
    package func put<B: Decodable & SendableMetatype>(_ path: String, _ access: Access, body: B.Type, upTo limit: Int? = nil,
                           _ h: @escaping @Sendable (Request, AppContext, B) async throws -> Response) { add(.put, path, access, body, limit, h) }
    /// A body that may be left out altogether (every field optional, "no options given").
    package func post<B: Decodable & SendableMetatype>(_ path: String, _ access: Access, optionalBody: B.Type,
                            _ h: @escaping @Sendable (Request, AppContext, B?) async throws -> Response) {
        add(.post, path, access, body: BodySchema.of(B.self), bodyOptional: true) { req, c in
            try await h(req, c, try await JSON.decodeIfPresent(B.self, from: req, context: c))
        }
    }

    /// A route whose body is a file of these media types, read by the handler.
    package func post(_ path: String, _ access: Access, raw types: [String], _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) {
        add(.post, path, access, h)
        table[table.count - 1].rawBody = types
    }

    /// The same for a file that replaces what there was.
    package func put(_ path: String, _ access: Access, raw types: [String], _ h: @escaping @Sendable (Request, AppContext) async throws -> Response) {
        add(.put, path, access, h)
        table[table.count - 1].rawBody = types
    }

    private func add<B: Decodable & SendableMetatype>(_ method: HTTPRequest.Method, _ path: String, _ access: Access, _ type: B.Type, _ limit: Int?,
                                   _ h: @escaping @Sendable (Request, AppContext, B) async throws -> Response) {
        add(method, path, access, body: BodySchema.of(B.self)) { req, c in try await h(req, c, try await JSON.decode(B.self, from: req, context: c, upTo: limit)) }
    }
}

extension AppContext {
    package func id(_ name: String) throws -> Int64 {
        guard let s = parameters.get(name), let v = Int64(s), v > 0 else { throw LinliError.notFound }
        return v
    }
}

package enum JSON {
    package static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        return e
    }()

    /// The value as JSON bytes: streamed where `StreamingJSON` covers it, else through `JSONEncoder`.
    static func bytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let bytes = try? StreamingJSON.encode(value) { return bytes }
        return Array(try encoder.encode(value))
    }

    /// The same as text, for a page's data attribute or a script; `fallback` if it cannot be encoded.
    static func string<T: Encodable>(_ value: T, fallback: String = "null") -> String {
        (try? bytes(value)).map { String(decoding: $0, as: UTF8.self) } ?? fallback
    }

    package static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        response(bytes: try bytes(value), status: status)
    }

    static func response(bytes: [UInt8], status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Decodes a JSON body, naming the field when a value has the wrong type.
    /// `upTo` raises the usual limit for a body that carries a picture as base64.
    fileprivate static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: AppContext, upTo limit: Int? = nil) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit ?? context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw LinliError.badRequest(nil, "请求体为空") }
        return try decode(type, buffer: buffer)
    }

    /// Like `decode`, but an empty body means "no options given" rather than an error.
    fileprivate static func decodeIfPresent<T: Decodable>(_ type: T.Type, from request: Request, context: AppContext) async throws -> T? {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        return buffer.readableBytes == 0 ? nil : try decode(T.self, buffer: buffer)
    }

    /// One decoder for every body (it holds only its default options, read at each decode).
    static let decoder = JSONDecoder()

    static func decode<T: Decodable>(_ type: T.Type, buffer: ByteBuffer) throws -> T {
        do {
            return try Self.decoder.decode(T.self, from: Data(buffer: buffer))
        } catch let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c) {
            let field = c.codingPath.map(\.stringValue).joined(separator: ".")
            throw LinliError.invalid(field, "wrong_type", "字段 \(field) 的类型不正确")
        } catch let DecodingError.keyNotFound(k, _) {
            throw LinliError.invalid(k.stringValue, "required", "缺少字段 \(k.stringValue)")
        } catch {
            throw LinliError.badRequest(nil, "请求体不是有效的 JSON")
        }
    }
}

struct Problem: Encodable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    var field: String?
    var code: String
    var errors: [Problem]?
}

/// Renders every error the same way: problem+json for the API, a page for browsers.
/// An error on its way out of `AuthMiddleware`, with the request's context as it stood there
/// (who is signed in, their language and print size), for `ErrorMiddleware` to answer in.
struct ContextualError: Error {
    let underlying: any Error
    let context: AppContext
}

struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let renderer: Renderer

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as ContextualError {
            // Thrown below `AuthMiddleware`: answered in the person's own context.
            return try answer(e.underlying, request, e.context)
        } catch {
            return try answer(error, request, context)
        }
    }

    func answer(_ error: any Error, _ request: Request, _ context: AppContext) throws -> Response {
        switch error {
        case let e as LinliError:
            return try respond(request, context, e.status, [e])
        case let e as ValidationErrors:
            return try respond(request, context, e.first.status, e.errors)
        case let e as HTTPError:
            let linli = LinliError(e.status, code: e.status == .contentTooLarge ? "too_large" : "http_\(e.status.code)",
                                   message: e.body ?? Self.plainWords(e.status))
            return try respond(request, context, e.status, [linli])
        case is NIOTooManyBytesError:
            // A body over the route's limit (thrown while collecting it): the client's mistake, not ours.
            return try respond(request, context, .contentTooLarge, [LinliError(.contentTooLarge, code: "too_large", message: "请求体过大")])
        case is CancellationError:
            // The client went away or the server is stopping: nothing to answer, nothing to log.
            throw error
        default:
            // Anything else is a bug or a failed dependency: say so in the log, not only to the client.
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            // Answered here, not rethrown: the framework's own bare 500 would pass the security
            // headers by, and the person should read what happened in their own words. The
            // cause stays in the log.
            return try respond(request, context, .internalServerError,
                               [LinliError(.internalServerError, code: "internal", message: "服务器出了问题，您的操作可能没有完成，请稍后重试")])
        }
    }

    /// What the framework's own refusals (an address no route has, a method a route does not
    /// take) say to a person, instead of HTTP's English reason phrase.
    static func plainWords(_ status: HTTPResponse.Status) -> String {
        switch status {
        case .notFound: "没有这个页面，请检查网址，或从首页进入"
        case .methodNotAllowed: "这个地址不支持这种操作"
        case .contentTooLarge: "请求体过大"
        case .badRequest: "请求无法识别，请返回重试"
        case .unsupportedMediaType: "不支持这种内容格式"
        default: "请求没有完成（\(status.code)），请稍后重试"
        }
    }

    func respond(_ request: Request, _ context: AppContext, _ status: HTTPResponse.Status, _ errors: [LinliError]) throws -> Response {
        // An Open311 client reads GeoReport's own error list, in the format its path names.
        if request.uri.path.hasPrefix("/open311/") {
            let f: Open311Routes.Format = request.uri.path.hasSuffix(".xml") ? .xml : .json
            return Open311Routes.errors(f, .init(Int(status.code), errors.map(\.message).joined(separator: "；")))
        }
        let wantsJSON = request.uri.path.hasPrefix("/api/") || request.headers[.accept]?.contains("application/json") == true
        if wantsJSON {
            let problems = errors.map { Problem(type: "https://linli.example/problems/\($0.code)", title: $0.code, status: Int(status.code),
                                                 detail: $0.message, field: $0.field, code: $0.code, errors: nil) }
            var p = problems[0]
            if problems.count > 1 { p.errors = problems; p.detail = problems.map(\.detail).joined(separator: "；") }
            var r = try JSON.response(p, status: status)
            r.headers[.contentType] = "application/problem+json; charset=utf-8"
            return r
        }
        if status == .unauthorized, request.method == .get {
            return Response(status: .seeOther, headers: [.location: "/login"])
        }
        let data: [String: Any] = ["status": Int(status.code), "messages": errors.map { ["message": $0.message, "field": $0.field ?? ""] }]
        var r = renderer.page("error", data, context: context, title: I18n.table(context.lang)["error"]!)
        r.status = status
        return r
    }
}

/// Runs a form's use case; when it refuses fields, the page comes back (422) with each message
/// beside its field, keyed `prefix_field` so that several forms on one page keep theirs apart.
/// `alsoShowing` names refused steps that carry a field and a reason worth showing beside the
/// form too (409: "the grid still holds households"), with their own status.
package func formOrErrors(prefix: String, alsoShowing: Set<HTTPResponse.Status> = [], _ action: () async throws -> Response,
                  page: ([String: String]) async throws -> Response) async throws -> Response {
    do { return try await action() } catch {
        // Only refused input goes beside fields; any other refused step (409, 403) is the caller's to show.
        let status = (error as? LinliError)?.status ?? .unprocessableContent
        if error is LinliError, status != .unprocessableContent, !alsoShowing.contains(status) { throw error }
        guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
        var resp = try await page(fe.mapKeys { "\(prefix)_\($0)" })
        resp.status = status
        return resp
    }
}

/// One-time messages after a form: a code in a short-lived cookie, the text from the language
/// table (a cookie never carries text a page would show as given).
enum Flash {
    static let cookie = "linli_flash"
    /// Code → language-table key.
    static let messages: [String: String] = [
        "done": "flash_done", "submitted": "submitted_notice",
        "rated": "flash_rated", "signed_up": "flash_signed_up", "withdrawn": "flash_withdrawn",
        "acting_started": "acting_started", "acting_ended": "acting_ended", "visit_logged": "flash_visit_logged",
    ]
    /// What a resident's own forms say they did, by route; any other form says "done".
    static let afterRoute: [String: String] = [
        "/requests": "submitted", "/requests/:id/withdraw": "withdrawn", "/requests/:id/confirm": "rated",
        "/shifts/:id/sign-up": "signed_up", "/residents/:id/acting": "acting_started", "/relatives/:id/acting": "acting_started", "/acting/end": "acting_ended",
        "/visits": "visit_logged",
    ]
    static func code(after route: String) -> String { afterRoute[route] ?? "done" }
    /// Forms whose next page has its own notice (the ballot's receipt, the volunteer profile,
    /// a binding sent for checking), and signing out: no second message.
    static let pageSaysItself: Set<String> = ["/logout", "/polls/:id/vote", "/polls/:id/ballots", "/volunteer", "/bind"]
    static func set(_ code: String) -> Cookie {
        Cookie(name: cookie, value: code, maxAge: 120, path: "/", httpOnly: true, sameSite: .lax)
    }
}

/// A stored picture (a request's photo, a receipt, a signed paper) as the answer to a GET.
package enum Picture {
    /// `cache`: a private photo may stay in the browser an hour; a document with a person's
    /// signature or money on it is never kept (`no-store`).
    package static func jpeg(_ bytes: [UInt8], cache: String = "private, no-store") -> Response {
        Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: cache], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
