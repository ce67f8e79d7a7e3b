import Foundation
import Hummingbird
import SQLKit
import LinliCore
import LinliStore

/// GeoReport v2 (Open311) over Linli's requests, in JSON and XML. Reading is public and shows only
/// what the public board shows; filing needs an API key (a Linli API token of a partner app).
struct Open311Routes {
    let requests: RequestsService
    let accounts: AccountService
    let publicBaseURL: String

    enum Format: String { case json, xml }

    /// "12.json" → ("12", .json). A path without a known extension is not found.
    static func split(_ file: String) throws -> (String, Format) {
        guard let dot = file.lastIndex(of: "."), let f = Format(rawValue: String(file[file.index(after: dot)...])) else { throw Open311Error(404, "unknown format") }
        return (String(file[..<dot]), f)
    }

    /// The `:file` parameter as (name, format); nil without `.json` or `.xml`, which answers 404
    /// in Open311's own error format (found by schemathesis: it was a 500).
    static func file(_ c: AppContext) -> (String, Format)? { try? split(c.parameters.get("file") ?? "") }
    static let unknownFormat = Open311Error(404, "unknown format: use .json or .xml")

    struct Open311Error: Error {
        var status: Int
        var description: String
        init(_ status: Int, _ description: String) { self.status = status; self.description = description }
    }

    func register(_ r: Routes) {
        for f in [Format.json, .xml] {
            r.get("/open311/v2/discovery.\(f.rawValue)", .open) { _, _ in
                respond(f) {
                    .object([
                        ("changeset", .string("2026-11-22T00:00:00+08:00")), ("contact", .string("邻里 Linli")),
                        ("key_service", .string("API keys are issued by the city administrator (linli user token)")),
                        ("endpoints", .array("endpoint", [.object([
                            ("specification", .string("http://wiki.open311.org/GeoReport_v2")), ("url", .string(publicBaseURL + "/open311/v2")),
                            ("changeset", .string("2026-11-22T00:00:00+08:00")), ("type", .string("production")),
                            ("formats", .array("format", [.string("application/json"), .string("text/xml")])),
                        ])])),
                    ])
                }
            }
            r.get("/open311/v2/services.\(f.rawValue)", .open) { _, c in
                let cats = try await requests.categories(lang: c.lang).filter(\.active)
                return respond(f) {
                    .array("service", cats.map { cat in
                        .object([("service_code", .string(cat.code)), ("service_name", .string(cat.name)), ("description", .string(cat.nameZh + " / " + cat.nameEn)),
                                 ("metadata", .bool(!cat.attributes.isEmpty)), ("type", .string("realtime")), ("keywords", .string("")),
                                 ("group", .string(I18n.label(cat.defaultParty, c.lang)))])
                    }, root: "services")
                }
            }
            r.post("/open311/v2/requests.\(f.rawValue)", .open) { req, c in
                do { return try await create(req, c, f) } catch let e as Open311Error { return error(f, e) } catch let e as LinliError {
                    return error(f, Open311Error(Int(e.status.code), (e.field.map { "\($0): " } ?? "") + e.message))
                } catch let e as ValidationErrors {
                    return error(f, Open311Error(Int(e.first.status.code), e.errors.map { ($0.field.map { "\($0): " } ?? "") + $0.message }.joined(separator: "; ")))
                }
            }
            r.get("/open311/v2/requests.\(f.rawValue)", .open) { req, c in
                do { return try await search(req, c, f) } catch let e as Open311Error { return error(f, e) }
            }
        }
        r.get("/open311/v2/services/:file", .open) { _, c in
            guard let (code, f) = Self.file(c) else { return error(.json, Self.unknownFormat) }
            guard let cat = try await requests.categories(lang: c.lang).first(where: { $0.code == code && $0.active }) else {
                return error(f, Open311Error(404, "service_code \(code) not found"))
            }
            return respond(f, xmlRoot: "service_definition") {
                .object([("service_code", .string(cat.code)), ("attributes", .array("attribute", cat.attributes.enumerated().map { i, a in
                    .object([("variable", .bool(true)), ("code", .string(a.code)), ("datatype", .string(a.datatype)), ("required", .bool(a.required)),
                             ("datatype_description", .string("")), ("order", .int(i + 1)), ("description", .string(a.description)),
                             ("values", .array("value", a.values.map { v in .object([("key", .string(v)), ("name", .string(I18n.label(v, c.lang)))]) }))])
                }))])
            }
        }
        r.get("/open311/v2/requests/:file", .open) { _, c in
            guard let (idText, f) = Self.file(c) else { return error(.json, Self.unknownFormat) }
            guard let id = Int64(idText), let found = try await requests.publicRequests(ids: [id], lang: c.lang).first else {
                return error(f, Open311Error(404, "service_request_id \(idText) not found"))
            }
            return respond(f) { .array("request", [Self.requestNode(found, baseURL: publicBaseURL)], root: "service_requests") }
        }
        r.get("/open311/v2/tokens/:file", .open) { _, c in
            guard let (token, f) = Self.file(c) else { return error(.json, Self.unknownFormat) }
            // Requests are created at once, so a token is simply the request's id.
            guard let id = Int64(token), try await requests.publicRequests(ids: [id], lang: c.lang).first != nil else {
                return error(f, Open311Error(404, "token \(token) not found"))
            }
            return respond(f) { .array("request", [.object([("service_request_id", .string(String(id))), ("token", .string(token))])], root: "service_requests") }
        }
    }

    // MARK: POST requests

    /// A GeoReport body with its photo: one `media` part (the FixMyStreet/SeeClickFix extension)
    /// and the fields. Only the photo's bytes count, never its name or stated type.
    static let multipartMax = RequestLimits.photoBytesMax + 64 * 1024

    func create(_ req: Request, _ c: AppContext, _ f: Format) async throws -> Response {
        var form = c.form, files = c.files
        // The key travels in the body, so the middleware (which reads multipart bodies only for a
        // signed-in caller) left it unread: read it here, no larger than one photo.
        if files.isEmpty, form.values.isEmpty, let type = req.headers[.contentType], type.hasPrefix("multipart/form-data") {
            guard let boundary = Multipart.boundary(type) else { throw Open311Error(400, "multipart/form-data without a boundary") }
            let buffer: ByteBuffer
            do { buffer = try await req.body.collect(upTo: Self.multipartMax) } catch { throw Open311Error(413, "the body is larger than one photo of 8 MB") }
            do { (form, files) = try Multipart.parse(buffer, boundary: boundary) } catch { throw Open311Error(400, "the multipart body cannot be read") }
        }
        guard let key = form.nonEmpty("api_key"), let actor = try await accounts.bearer(token: key) else {
            throw Open311Error(403, "api_key is missing or not valid")
        }
        // Linli does not fetch pictures from addresses it is given (it would be a way to make the
        // server call any host): the photo itself comes as the `media` part.
        if form.nonEmpty("media_url") != nil {
            throw Open311Error(400, "media_url is not fetched: send the photo itself as a multipart/form-data part named media")
        }
        let media = files.filter { $0.field == "media" }.map(\.bytes)
        guard media.count <= 1 else { throw Open311Error(400, "one media part per request") }
        guard actor.may(.requestSubmit) else { throw Open311Error(403, "this api_key may not file requests") }
        guard let code = form.nonEmpty("service_code") else { throw Open311Error(400, "service_code is required") }
        var input = RequestInput()
        input.category = code
        input.description = form["description"]
        input.channel = Channel.open311.rawValue
        input.publicDetails = true
        let first = form["first_name"] ?? "", last = form["last_name"] ?? ""
        input.contactName = (last + first).isEmpty ? nil : last + first
        input.contactPhone = form.nonEmpty("phone")
        var attrs: [String: String] = [:]
        for (k, v) in form.values where k.hasPrefix("attribute[") && k.hasSuffix("]") {
            attrs[String(k.dropFirst(10).dropLast())] = v.first ?? ""
        }
        input.attributes = attrs
        // Where: a place id, a map point (nearest compound or community in reach) or an address naming a place.
        if let lat = form.nonEmpty("lat"), let lng = form.nonEmpty("long") {
            guard let la = Double(lat), let lo = Double(lng), (-90...90).contains(la), (-180...180).contains(lo) else { throw Open311Error(400, "lat/long are not valid coordinates") }
            input.lat = la; input.lng = lo
            input.placeID = try await requests.nearestPlace(lat: la, lng: lo, actor: actor)
        }
        if input.placeID == nil, let a = form.nonEmpty("address_id") { input.placeID = Int64(a) }
        if input.placeID == nil, let s = form.nonEmpty("address_string") {
            input.placeID = try await requests.placeNamed(in: s, actor: actor)
            input.address = String(s.prefix(200))
        }
        guard input.placeID != nil else { throw Open311Error(400, "a location is required: lat/long, address_id or an address_string naming a compound") }
        input.idempotencyKey = form.nonEmpty("device_id").flatMap { d in form.nonEmpty("client_request_id").map { d + ":" + $0 } }
        let (created, _) = try await requests.submit(input, photos: media, actor: actor)
        return respond(f, status: .created) {
            .array("request", [.object([("service_request_id", .string(String(created.id))), ("token", .string(String(created.id))),
                                        ("service_notice", .string("\(created.partyName) · \(LocalTime.text(created.resolveDue))")),
                                        ("account_id", .string(""))])], root: "service_requests")
        }
    }

    // MARK: GET requests

    func search(_ req: Request, _ c: AppContext, _ f: Format) async throws -> Response {
        let q = req.uri.queryParameters
        var filter = RequestsService.PublicFilter()
        if let ids = q.get("service_request_id") {
            filter.ids = ids.split(separator: ",").compactMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        }
        filter.serviceCodes = q.get("service_code").map { $0.split(separator: ",").map(String.init) } ?? []
        if let s = q.get("status") {
            guard s == "open" || s == "closed" else { throw Open311Error(400, "status must be open or closed") }
            filter.status = s
        }
        if let s = q.get("start_date") { guard let t = ISO8601.parse(s) else { throw Open311Error(400, "start_date is not ISO 8601") }; filter.start = t }
        if let s = q.get("end_date") { guard let t = ISO8601.parse(s) else { throw Open311Error(400, "end_date is not ISO 8601") }; filter.end = t }
        // Without dates the spec asks for the last 90 days.
        if filter.ids.isEmpty, filter.start == nil, filter.end == nil { filter.start = requests.env.nowSeconds - 90 * 86400 }
        guard let size = try? Input.int(q.get("page_size"), field: "page_size", default: 50, in: 1...1000) else {
            throw Open311Error(400, "page_size must be between 1 and 1000")
        }
        guard let (limit, offset) = try? Input.page(q.get("page"), size: size) else {
            throw Open311Error(400, "page must be a positive integer of at most \(Input.maxOffset / size + 1)")
        }
        filter.limit = limit
        filter.offset = offset
        let found = try await requests.publicRequests(filter, lang: c.lang)
        return respond(f) { .array("request", found.map({ Self.requestNode($0, baseURL: publicBaseURL) }), root: "service_requests") }
    }

    static func requestNode(_ p: PublicRequest, baseURL: String) -> Node {
        .object([
            ("service_request_id", .string(String(p.id))), ("status", .string(p.open311Status)), ("status_notes", .string(p.statusNotes)),
            ("service_name", .string(p.categoryName)), ("service_code", .string(p.category)), ("description", .string(p.description ?? "")),
            ("agency_responsible", .string(p.partyName)), ("service_notice", .string("")),
            ("requested_datetime", .string(ISO8601.text(p.createdAt))), ("updated_datetime", .string(ISO8601.text(p.updatedAt))),
            ("expected_datetime", .string(ISO8601.text(p.resolveDue))), ("address", .string(p.address)), ("address_id", .string("")),
            ("zipcode", .string("")), ("lat", p.lat.map { .double($0) } ?? .string("")), ("long", p.lng.map { .double($0) } ?? .string("")),
            // The first photo, where the reporter published them (the board's own rule).
            ("media_url", .string(p.photoIDs.first.map { "\(baseURL)/request-photos/\($0)" } ?? "")),
        ])
    }

    // MARK: encoding

    indirect enum Node {
        case string(String), int(Int), double(Double), bool(Bool)
        case object([(String, Node)])
        /// An array; in XML each element is wrapped in `element`, the whole in `root` (or the parent key).
        case array(String, [Node], root: String? = nil)
    }

    func respond(_ f: Format, status: HTTPResponse.Status = .ok, xmlRoot: String = "discovery", _ build: () -> Node) -> Response {
        Self.render(f, status: status, xmlRoot: xmlRoot, build())
    }

    static func render(_ f: Format, status: HTTPResponse.Status, xmlRoot: String = "discovery", _ node: Node) -> Response {
        switch f {
        case .json:
            var out = ""
            Self.json(node, &out)
            return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: out)))
        case .xml:
            var out = #"<?xml version="1.0" encoding="utf-8"?>"#
            switch node {
            case .array(let element, let items, let root): Self.xml(.array(element, items), name: root ?? element + "s", &out)
            default: Self.xml(node, name: xmlRoot, &out)
            }
            return Response(status: status, headers: [.contentType: "text/xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: out)))
        }
    }

    func error(_ f: Format, _ e: Open311Error) -> Response { Self.errors(f, e) }

    /// GeoReport's error list, also for a refusal before the route (a body that cannot be read).
    static func errors(_ f: Format, _ e: Open311Error) -> Response {
        render(f, status: HTTPResponse.Status(code: e.status),
               .array("error", [.object([("code", .int(e.status)), ("description", .string(e.description))])], root: "errors"))
    }

    static func json(_ n: Node, _ out: inout String) {
        switch n {
        case .string(let s):
            let data = (try? JSONEncoder().encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
            out += data
        case .int(let i): out += String(i)
        case .double(let d): out += String(d)
        case .bool(let b): out += b ? "true" : "false"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() { if i > 0 { out += "," }; json(.string(k), &out); out += ":"; json(v, &out) }
            out += "}"
        case .array(_, let items, _):
            out += "["
            for (i, v) in items.enumerated() { if i > 0 { out += "," }; json(v, &out) }
            out += "]"
        }
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func xml(_ n: Node, name: String, _ out: inout String) {
        switch n {
        case .string(let s): out += "<\(name)>\(escape(s))</\(name)>"
        case .int(let i): out += "<\(name)>\(i)</\(name)>"
        case .double(let d): out += "<\(name)>\(d)</\(name)>"
        case .bool(let b): out += "<\(name)>\(b)</\(name)>"
        case .object(let fields):
            out += "<\(name)>"
            for (k, v) in fields { xml(v, name: k, &out) }
            out += "</\(name)>"
        case .array(let element, let items, _):
            out += "<\(name)>"
            for v in items { xml(v, name: element, &out) }
            out += "</\(name)>"
        }
    }
}


extension RequestsService {
    public struct PublicFilter: Sendable {
        public var ids: [Int64] = []
        public var serviceCodes: [String] = []
        public var status: String?
        public var start: Int64?
        public var end: Int64?
        public var limit = 50
        public var offset = 0
    }

    /// Requests as the public sees them (Open311, board), newest first. Withdrawn and merged ones are left out.
    public func publicRequests(_ f: PublicFilter, lang: Lang) async throws -> [PublicRequest] {
        let now = env.nowSeconds
        var q = SQLQueryString("\(unsafeRaw: Self.columns) WHERE r.status NOT IN ('withdrawn', 'merged')")
        if !f.ids.isEmpty { q.appendInterpolation(unsafeRaw: " AND r.id IN (" + f.ids.prefix(200).map(String.init).joined(separator: ",") + ")") }
        if !f.serviceCodes.isEmpty {
            q.appendInterpolation(unsafeRaw: " AND r.category IN (")
            for (i, c) in f.serviceCodes.prefix(50).enumerated() { if i > 0 { q.appendLiteral(",") }; q.appendInterpolation(bind: c) }
            q.appendLiteral(")")
        }
        if let s = f.status {
            q.appendInterpolation(unsafeRaw: s == "open" ? " AND r.status IN (\(RequestsService.openStatusList))" : " AND r.status IN ('resolved', 'closed')")
        }
        if let s = f.start { q.appendInterpolation(unsafeRaw: " AND r.created_at >= "); q.appendInterpolation(bind: s) }
        if let e = f.end { q.appendInterpolation(unsafeRaw: " AND r.created_at <= "); q.appendInterpolation(bind: e) }
        q.appendInterpolation(unsafeRaw: " ORDER BY r.id DESC LIMIT \(max(1, min(f.limit, 1000))) OFFSET \(max(0, f.offset))")
        let query = q
        return try await store.read { db in try await publicViews(db, try await db.raw(query).all().map(Self.row), lang: lang, now: now) }
    }

    public func publicRequests(ids: [Int64], lang: Lang) async throws -> [PublicRequest] {
        var f = PublicFilter()
        f.ids = ids
        return try await publicRequests(f, lang: lang)
    }

    /// The compound (or community) nearest to a map point, within 1 km, among the places the actor may report about.
    public func nearestPlace(lat: Double, lng: Double, actor: Actor) async throws -> Int64? {
        let paths = actor.grants(for: .requestSubmit).map(\.placePath)
        return try await store.read { db in
            let rows = try await db.raw("""
                SELECT id, path, lat, lng FROM places WHERE kind IN ('compound', 'villager_group', 'community', 'village')
                AND lat BETWEEN \(bind: lat - 0.01) AND \(bind: lat + 0.01) AND lng BETWEEN \(bind: lng - 0.012) AND \(bind: lng + 0.012)
                """).all()
            var best: (Int64, Double)?
            for r in rows {
                let path = try r.decode(column: "path", as: String.self)
                guard paths.contains(where: { path.hasPrefix($0) }), let a = try r.decode(column: "lat", as: Double?.self),
                      let b = try r.decode(column: "lng", as: Double?.self) else { continue }
                let d = distanceMetres(lat, lng, a, b)
                if d <= 1000, d < (best?.1 ?? .infinity) { best = (try r.decode(column: "id", as: Int64.self), d) }
            }
            return best?.0
        }
    }

    /// A compound whose name appears in a free-text address ("西林寺小区3幢…").
    public func placeNamed(in address: String, actor: Actor) async throws -> Int64? {
        let paths = actor.grants(for: .requestSubmit).map(\.placePath)
        return try await store.read { db in
            // The database finds the names contained in the address; the longest in reach wins.
            let rows = try await db.raw("""
                SELECT id, path FROM places WHERE kind IN ('compound', 'villager_group') AND LENGTH(name) >= 2
                AND \(bind: address) LIKE '%' || name || '%' ORDER BY LENGTH(name) DESC LIMIT 50
                """).all()
            for r in rows where paths.contains(where: { (try? r.decode(column: "path", as: String.self).hasPrefix($0)) == true }) {
                return try r.decode(column: "id", as: Int64.self)
            }
            return nil
        }
    }
}
