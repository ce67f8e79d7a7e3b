import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// The requests pages and API. Both call the same `RequestsService` use cases.
package struct RequestsRoutes {
    let requests: RequestsService
    let inbox: Inbox
    let renderer: Renderer
    /// A grid worker's visits due, shown on /today beside their requests (grid work's use case).
    var dueVisits: @Sendable (Actor, Lang) async throws -> [TemplateValue] = { _, _ in [] }

    /// Which role-level action a transition's route needs; the service then checks the request itself.
    static func access(_ t: RequestTransition) -> Action {
        switch t {
        case .accept, .contact, .resolve, .returnIt, .note: .requestWork
        case .reassign, .merge, .supervise: .requestRoute
        case .confirm, .reject, .withdraw: .requestSubmit
        case .autoClose: .requestConfigure
        }
    }
    static let transitions: [RequestTransition] = RequestTransition.allCases.filter { $0 != .autoClose }

    func register(_ r: Routes) {
        registerToday(r)
        // MARK: pages
        r.get("/requests", .action(.requestView)) { req, c in
            let actor = try c.requireActor()
            let scopes = Self.scopes(for: actor)
            let scope = req.uri.queryParameters.get("scope").flatMap(RequestsService.ListScope.init(rawValue:)).flatMap { scopes.contains($0) ? $0 : nil } ?? scopes[0]
            let status = req.uri.queryParameters.get("status").flatMap { $0.isEmpty ? nil : $0 }
            let page = try Input.int(req.uri.queryParameters.get("page"), field: "page", default: 1, in: 1...(Input.maxOffset / 50))
            let rows = try await requests.list(scope, actor: actor, lang: c.lang, status: status, limit: 51, offset: (page - 1) * 50)
            let t = I18n.table(c.lang)
            return renderer.page("requests", [
                "tabs": scopes.map { ["scope": $0.rawValue, "label": t["scope_" + $0.rawValue] ?? $0.rawValue, "current": $0 == scope] },
                "rows": renderer.data(Array(rows.prefix(50)), c.lang), "empty": rows.isEmpty, "scope": scope.rawValue,
                "statuses": RequestStatus.allCases.map { ["value": $0.rawValue, "label": I18n.label($0.rawValue, c.lang), "selected": $0.rawValue == status] },
                "next_page": rows.count > 50 ? page + 1 : 0, "can_submit": actor.may(.requestSubmit),
            ], context: c, title: t["requests"]!)
        }
        r.get("/requests/new", .action(.requestSubmit)) { req, c in
            var values = FormData()
            if let h = req.uri.queryParameters.get("household") { values.values["household_id"] = [h] }
            return try await newForm(c, values: values, errors: nil)
        }
        r.post("/requests", .action(.requestSubmit)) { _, c in
            let actor = try c.requireActor()
            do {
                let input = try await Self.input(c.form, categories: try await requests.categories(lang: c.lang))
                let (created, _) = try await requests.submit(input, photos: c.files.filter { $0.field == "photos" }.map(\.bytes), actor: actor)
                return redirect("/requests/\(created.id)")
            } catch {
                guard var fe = RegistryRoutes.fieldErrors(error) else { throw error }
                let attributeErrors = fe.filter { $0.key.hasPrefix("attribute[") }.map(\.value)
                if !attributeErrors.isEmpty { fe["attribute"] = attributeErrors.joined(separator: "；") }
                var resp = try await newForm(c, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.get("/requests/:id", .action(.requestView)) { _, c in
            try await detailPage(c, id: try c.id("id"), errors: nil)
        }
        // A step on a request's page: refused input beside its field; a step the state machine,
        // the party rules or the hotline's rules refuse, said at the top of the page. `step`
        // answers where to go next.
        @Sendable func requestStep(_ c: AppContext, prefix: String, _ step: (Int64, Actor) async throws -> String) async throws -> Response {
            let id = try c.id("id")
            do {
                return try await formOrErrors(prefix: prefix) {
                    redirect(try await step(id, try c.requireActor()))
                } page: { errors in try await detailPage(c, id: id, errors: errors) }
            } catch let e as LinliError where e.status == .conflict || e.status == .forbidden && e.code != "forbidden" {
                var resp = try await detailPage(c, id: id, errors: ["form": e.message])
                resp.status = e.status
                return resp
            }
        }
        for t in Self.transitions {
            r.post("/requests/:id/\(t.rawValue)", .action(Self.access(t))) { _, c in
                try await requestStep(c, prefix: t.rawValue) { id, actor in
                    _ = try await requests.perform(t, id: id, try Self.actionInput(c.form), photos: c.files.filter { $0.field == "photos" }.map(\.bytes), actor: actor)
                    return t == .withdraw && c.form.int("target_id") != nil ? "/requests/\(c.form.int("target_id")!)" : "/requests/\(id)"
                }
            }
        }
        r.post("/requests/:id/contact/unmask", .action(.requestWork)) { _, c in
            let id = try c.id("id")
            return try await formOrErrors(prefix: "unmask") {
                let (name, phone) = try await requests.unmaskContact(id, reason: c.form["reason"], actor: try c.requireActor())
                return try await detailPage(c, id: id, errors: nil, contact: ["name": name, "phone": phone])
            } page: { errors in try await detailPage(c, id: id, errors: errors) }
        }
        // The 12345 link on a request's page: the return call's result, a unit's objection to the
        // dispatch (退单) and the hotline's answer.
        r.post("/requests/:id/hotline/callback", .action(.hotlineLink)) { _, c in
            try await requestStep(c, prefix: "callback") { id, actor in
                _ = try await requests.hotlineCallback(id, HotlineCallbackInput(result: c.form.nonEmpty("result"), note: c.form["note"]), actor: actor)
                return "/requests/\(id)#hotline"
            }
        }
        r.post("/requests/:id/hotline/objection", .action(.requestWork)) { _, c in
            try await requestStep(c, prefix: "objection") { id, actor in
                _ = try await requests.raiseHotlineObjection(id, HotlineObjectionInput(reason: c.form["reason"]), actor: actor)
                return "/requests/\(id)#hotline"
            }
        }
        r.post("/requests/:id/hotline/answer", .action(.hotlineLink)) { _, c in
            try await requestStep(c, prefix: "answer") { id, actor in
                let accepted: Bool? = switch c.form["accepted"] { case "1": true; case "0": false; default: nil }
                _ = try await requests.answerHotlineObjection(id, HotlineAnswerInput(accepted: accepted, note: c.form["note"]), actor: actor)
                return "/requests/\(id)#hotline"
            }
        }
        // Photos are served only through here: to those who may see the request, or to anyone
        // when the reporter chose to publish.
        r.get("/request-photos/:id", .open) { _, c in
            let bytes = try await requests.photo(try c.id("id"), actor: c.actor)
            return Picture.jpeg(bytes, cache: "private, max-age=3600")
        }
        r.get("/board/:id", .open) { _, c in
            let (name, open, resolved) = try await requests.board(placeID: try c.id("id"), lang: c.lang)
            // Where the open ones are, for the map (the same public fields the list shows).
            struct Pin: Encodable { var lat: Double; var lng: Double; var label: String }
            let pins = open.compactMap { r in r.lat.flatMap { lat in r.lng.map { Pin(lat: lat, lng: $0, label: "#\(r.id) \(r.categoryName)") } } }
            return renderer.page("board", ["name": name, "open": renderer.data(open, c.lang), "resolved": renderer.data(resolved, c.lang),
                                           "none_open": open.isEmpty, "none_resolved": resolved.isEmpty, "has_pins": !pins.isEmpty,
                                           "pins_json": JSON.string(pins, fallback: "[]")],
                                 context: c, title: I18n.table(c.lang)["board"]! + " · " + name)
        }
        r.get("/figures", .action(.requestFigures)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (from, to) = Self.defaultPeriod(q.get("from"), q.get("to"), now: requests.env.nowSeconds)
            let placeID = try Input.id(q.get("place_id").map { String($0) }, field: "place_id") ?? actor.grants(for: .requestFigures).first!.placeID
            var data: [String: Any] = ["from": from, "to": to, "place_id": placeID]
            do {
                let report = try await requests.figures(placeID: placeID, from: from, to: to, actor: actor)
                data["report"] = renderer.data(report, c.lang)
                data["has_areas"] = !report.areas.isEmpty
                let months = try await requests.monthlyFigures(placeID: placeID, through: to, months: 6, actor: actor)
                let charts = FigureCharts(report: report, months: months, lang: c.lang)
                data["months"] = charts.monthRows
                data["trend_chart"] = charts.trendJSON
                data["rank_chart"] = charts.rankJSON
                data["has_rank"] = charts.hasRank
                data["query"] = "place_id=\(placeID)&from=\(from)&to=\(to)"
            } catch let e as LinliError where e.field != nil {
                data["error"] = e.message
            }
            return renderer.page("figures", data, context: c, title: I18n.table(c.lang)["figures"]!)
        }
        r.get("/inbox", .signedIn) { _, c in
            let actor = try c.requireActor()
            let items = try await inbox.list(actor: actor, lang: c.lang)
            return renderer.page("inbox", ["items": renderer.data(items, c.lang), "empty": items.isEmpty], context: c, title: I18n.table(c.lang)["inbox"]!)
        }
        r.post("/inbox/read", .signedIn) { _, c in
            try await inbox.markAllRead(actor: try c.requireActor())
            return redirect("/inbox")
        }
        r.get("/settings/requests", .action(.requestRoute)) { _, c in try await settingsPage(c, errors: nil) }
        r.post("/settings/requests/categories/:code", .action(.requestConfigure)) { _, c in
            let code = c.parameters.get("code") ?? ""
            let f = c.form
            return try await formOrErrors(prefix: code) {
                try await requests.updateCategory(code, acceptHours: f.int("accept_hours").map(Int.init), contactHours: f.int("contact_hours").map(Int.init),
                                                  resolveHours: f.int("resolve_hours").map(Int.init), workingHours: f["working_hours"] == "1",
                                                  defaultParty: f["default_party"], active: f["active"] == "1", actor: try c.requireActor())
                return redirect("/settings/requests#cat-\(code)")
            } page: { errors in try await settingsPage(c, errors: errors) }
        }
        r.post("/settings/requests/calendar", .action(.requestConfigure)) { _, c in
            return try await formOrErrors(prefix: "cal") {
                try await requests.setCalendarDay(c.form["day"], kind: c.form["kind"], name: c.form["name"], actor: try c.requireActor())
                return redirect("/settings/requests#calendar")
            } page: { errors in try await settingsPage(c, errors: errors) }
        }
        r.post("/settings/requests/rules", .action(.requestRoute)) { _, c in
            return try await formOrErrors(prefix: "rule") {
                try await requests.setRoutingRule(category: c.form["category"], placeID: c.form.int("place_id"), partyKind: c.form["party_kind"],
                                                  organisationID: try c.form.optionalID("organisation_id", "部门编号应为数字"), actor: try c.requireActor())
                return redirect("/settings/requests#rules")
            } page: { errors in try await settingsPage(c, errors: errors) }
        }
        r.post("/settings/requests/rules/:id/delete", .action(.requestRoute)) { _, c in
            try await requests.deleteRoutingRule(try c.id("id"), actor: try c.requireActor())
            return redirect("/settings/requests#rules")
        }

        // MARK: JSON API
        // The settings page's forms and the contact's unmasking, as JSON.
        struct PutRequestCategoriesBody: Decodable {
            var accept_hours: Int?; var contact_hours: Int?; var resolve_hours: Int?; var working_hours: Bool?; var default_party: String?; var active: Bool?
        }
        r.put("/api/v1/request-categories/:code", .action(.requestConfigure), body: PutRequestCategoriesBody.self) { req, c, b in
            try await requests.updateCategory(c.parameters.get("code") ?? "", acceptHours: b.accept_hours, contactHours: b.contact_hours, resolveHours: b.resolve_hours,
                                              workingHours: b.working_hours ?? false, defaultParty: b.default_party, active: b.active ?? true, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostCalendarBody: Decodable { var day: String?; var kind: String?; var name: String? }
        r.post("/api/v1/calendar", .action(.requestConfigure), body: PostCalendarBody.self) { req, c, b in
            try await requests.setCalendarDay(b.day, kind: b.kind, name: b.name, actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.get("/api/v1/routing-rules", .action(.requestRoute)) { _, c in
            try JSON.response(try await requests.routingRules(actor: try c.requireActor(), lang: c.lang))
        }
        struct PostRoutingRulesBody: Decodable { var category: String?; var place_id: Int64?; var party_kind: String?; var organisation_id: Int64? }
        r.post("/api/v1/routing-rules", .action(.requestRoute), body: PostRoutingRulesBody.self) { req, c, b in
            try await requests.setRoutingRule(category: b.category, placeID: b.place_id, partyKind: b.party_kind, organisationID: b.organisation_id,
                                              actor: try c.requireActor())
            return Response(status: .noContent)
        }
        r.delete("/api/v1/routing-rules/:id", .action(.requestRoute)) { _, c in
            try await requests.deleteRoutingRule(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostRequestsContactUnmaskBody: Decodable { var reason: String? }
        r.post("/api/v1/requests/:id/contact/unmask", .action(.requestWork), body: PostRequestsContactUnmaskBody.self) { req, c, b in
            let (name, phone) = try await requests.unmaskContact(try c.id("id"), reason: b.reason, actor: try c.requireActor())
            return try JSON.response(["name": name, "phone": phone])
        }
        r.post("/api/v1/requests/:id/hotline/callback", .action(.hotlineLink), body: HotlineCallbackInput.self) { _, c, b in
            try JSON.response(try await requests.hotlineCallback(try c.id("id"), b, actor: try c.requireActor()))
        }
        r.post("/api/v1/requests/:id/hotline/objection", .action(.requestWork), body: HotlineObjectionInput.self) { _, c, b in
            try JSON.response(try await requests.raiseHotlineObjection(try c.id("id"), b, actor: try c.requireActor()))
        }
        r.post("/api/v1/requests/:id/hotline/answer", .action(.hotlineLink), body: HotlineAnswerInput.self) { _, c, b in
            try JSON.response(try await requests.answerHotlineObjection(try c.id("id"), b, actor: try c.requireActor()))
        }
        // The hotline's own system names its tickets by its numbers: a ticket in (a request with
        // channel "hotline"; sent again, the same request), read back, its return call, its answer
        // to an objection.
        r.post("/api/v1/hotline/tickets", .action(.hotlineLink), body: RequestSubmission.self, upTo: RequestLimits.apiBodyMax) { _, c, body in
            var input = body.input
            input.channel = Channel.hotline.rawValue
            let (created, isNew, _) = try await requests.submit(input, photos: try Self.base64Photos(body.photosBase64 ?? []), actor: try c.requireActor(), lookAlikesIn: nil)
            return try JSON.response(try await requests.detail(created.id, actor: try c.requireActor(), lang: c.lang), status: isNew ? .created : .ok)
        }
        @Sendable func ticket(_ c: AppContext) async throws -> Int64 {
            try await requests.hotlineRequestID(ticketNo: c.parameters.get("ticket") ?? "", actor: try c.requireActor())
        }
        r.get("/api/v1/hotline/tickets/:ticket", .action(.hotlineLink)) { _, c in
            try JSON.response(try await requests.detail(try await ticket(c), actor: try c.requireActor(), lang: c.lang))
        }
        r.post("/api/v1/hotline/tickets/:ticket/callback", .action(.hotlineLink), body: HotlineCallbackInput.self) { _, c, b in
            try JSON.response(try await requests.hotlineCallback(try await ticket(c), b, actor: try c.requireActor()))
        }
        r.post("/api/v1/hotline/tickets/:ticket/answer", .action(.hotlineLink), body: HotlineAnswerInput.self) { _, c, b in
            try JSON.response(try await requests.answerHotlineObjection(try await ticket(c), b, actor: try c.requireActor()))
        }
        r.get("/api/v1/request-categories", .signedIn) { _, c in
            try JSON.response(try await requests.categories(lang: c.lang))
        }
        // Photos travel as base64 in `photos_base64`, so the body may be larger than others.
        r.post("/api/v1/requests", .action(.requestSubmit), body: RequestSubmission.self, upTo: RequestLimits.apiBodyMax) { req, c, body in
            var input = body.input
            if input.idempotencyKey == nil, let key = req.headers[.init("Idempotency-Key")!] { input.idempotencyKey = key }
            let actor = try c.requireActor()
            let photos = try Self.base64Photos(body.photosBase64 ?? [])
            let (created, isNew, lookAlikes) = try await requests.submit(input, photos: photos, actor: actor, lookAlikesIn: c.lang)
            return try JSON.response(SubmissionAnswer(request: created, possibleDuplicates: lookAlikes), status: isNew ? .created : .ok)
        }
        // Look-alikes of a request being written, so the form can suggest them before it is sent.
        r.post("/api/v1/requests/similar", .action(.requestSubmit), body: RequestInput.self) { req, c, input in
            return try JSON.response(try await requests.suggestDuplicates(input, actor: try c.requireActor(), lang: c.lang))
        }
        r.get("/api/v1/requests", .action(.requestView)) { req, c in
            let q = req.uri.queryParameters
            let actor = try c.requireActor()
            let scope = try q.get("scope").map { s -> RequestsService.ListScope in
                guard let v = RequestsService.ListScope(rawValue: s) else { throw LinliError.invalid("scope", "invalid", "scope 只能是 mine、queue、supervise 或 area") }
                return v
            } ?? Self.scopes(for: actor)[0]
            if let s = q.get("status"), RequestStatus(rawValue: s) == nil { throw LinliError.invalid("status", "invalid", "未知的状态 \(s)") }
            let limit = try Input.int(q.get("limit"), field: "limit", default: 50, in: 1...200)
            let offset = try Input.int(q.get("offset"), field: "offset", default: 0, in: 0...Input.maxOffset)
            return try JSON.response(try await requests.list(scope, actor: actor, lang: c.lang, status: q.get("status"), limit: limit, offset: offset))
        }
        r.get("/api/v1/requests/:id", .action(.requestView)) { _, c in
            try JSON.response(try await requests.detail(try c.id("id"), actor: try c.requireActor(), lang: c.lang))
        }
        for t in Self.transitions {
            r.post("/api/v1/requests/:id/\(t.rawValue)", .action(Self.access(t)), optionalBody: RequestsService.ActionInput.self) { req, c, input in
                let input = input ?? RequestsService.ActionInput()
                return try JSON.response(try await requests.perform(t, id: try c.id("id"), input, actor: try c.requireActor()))
            }
        }
        // Figures as CSV for a spreadsheet (UTF-8 with the byte-order mark Excel looks for).
        r.get("/figures.csv", .action(.requestFigures)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (from, to) = Self.defaultPeriod(q.get("from"), q.get("to"), now: requests.env.nowSeconds)
            let placeID = try Self.figuresPlace(q.get("place_id"), actor)
            let report = try await requests.figures(placeID: placeID, from: from, to: to, actor: actor)
            return Self.csv(FigureCharts.csv(report, lang: c.lang), name: "figures-\(placeID)-\(from)-\(to).csv")
        }
        r.get("/figures/months.csv", .action(.requestFigures)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (_, to) = Self.defaultPeriod(q.get("from"), q.get("to"), now: requests.env.nowSeconds)
            let placeID = try Self.figuresPlace(q.get("place_id"), actor)
            let months = try await requests.monthlyFigures(placeID: placeID, through: to, months: 12, actor: actor)
            return Self.csv(FigureCharts.csv(months, lang: c.lang), name: "figures-months-\(placeID)-\(to).csv")
        }
        r.get("/api/v1/figures/months", .action(.requestFigures)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (_, to) = Self.defaultPeriod(q.get("from"), q.get("to"), now: requests.env.nowSeconds)
            guard let placeID = try Input.id(q.get("place_id").map { String($0) }, field: "place_id") else { throw LinliError.invalid("place_id", "required", "请给出 place_id") }
            let months = try Input.int(q.get("months").map { String($0) }, field: "months", default: 12, in: 1...24)
            return try JSON.response(try await requests.monthlyFigures(placeID: placeID, through: to, months: months, actor: actor))
        }
        r.get("/api/v1/figures", .action(.requestFigures)) { req, c in
            let actor = try c.requireActor()
            let q = req.uri.queryParameters
            let (from, to) = Self.defaultPeriod(q.get("from"), q.get("to"), now: requests.env.nowSeconds)
            guard let placeID = try Input.id(q.get("place_id").map { String($0) }, field: "place_id") else { throw LinliError.invalid("place_id", "required", "请给出 place_id") }
            return try JSON.response(try await requests.figures(placeID: placeID, from: from, to: to, actor: actor))
        }
        r.get("/api/v1/inbox", .signedIn) { _, c in
            try JSON.response(try await inbox.list(actor: try c.requireActor(), lang: c.lang))
        }
        r.post("/api/v1/inbox/read", .signedIn) { _, c in
            try await inbox.markAllRead(actor: try c.requireActor())
            return Response(status: .noContent)
        }
    }

    // MARK: helpers

    static func scopes(for actor: Actor) -> [RequestsService.ListScope] {
        var s: [RequestsService.ListScope] = []
        if actor.may(.requestWork) { s.append(.queue) }
        if actor.may(.requestRoute) { s.append(.supervise) }
        // A department sees its own queue, not the area's requests.
        // The hotline lists the tickets in its area.
        if actor.grants(for: .requestView).contains(where: { ($0.role.isStaff && $0.role != .departmentStaff) || $0.role == .hotline }) { s.append(.area) }
        s.append(.mine)
        return s
    }

    /// The place a figures export is for: the one asked (a number), else the actor's own area.
    static func figuresPlace(_ raw: String?, _ actor: Actor) throws -> Int64 {
        guard let raw else { return actor.grants(for: .requestFigures).first!.placeID }
        guard let v = Int64(raw) else { throw LinliError.invalid("place_id", "invalid", "地点编号应为数字") }
        return v
    }

    package static func csv(_ text: String, name: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\"",
                                         .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: [0xEF, 0xBB, 0xBF] + Array(text.utf8))))
    }

    /// This month so far when no period is given.
    static func defaultPeriod(_ from: String?, _ to: String?, now: Int64) -> (String, String) {
        let today = ChinaTime.iso(day: (now + ChinaTime.utcOffset) / 86400)
        return (from.flatMap { $0.isEmpty ? nil : $0 } ?? String(today.prefix(8)) + "01", to.flatMap { $0.isEmpty ? nil : $0 } ?? today)
    }

    static func input(_ f: FormData, categories: [CategoryView]) async throws -> RequestInput {
        var i = RequestInput()
        i.category = f.nonEmpty("category")
        i.description = f["description"]
        if let loc = f.nonEmpty("location") {
            if loc.hasPrefix("household:") { i.householdID = Int64(loc.dropFirst(10)) }
            else if loc.hasPrefix("place:") { i.placeID = Int64(loc.dropFirst(6)) }
        }
        if let h = try f.optionalID("household_id", "住户编号应为数字") { i.householdID = h }
        i.address = f.nonEmpty("address")
        for (field, keyPath) in [("lat", \RequestInput.lat), ("lng", \RequestInput.lng)] {
            if let raw = f.nonEmpty(field) {
                guard let v = Double(raw.trimmingCharacters(in: .whitespaces)) else { throw LinliError.invalid(field, "invalid", "坐标应为数字") }
                i[keyPath: keyPath] = v
            }
        }
        i.urgency = f.nonEmpty("urgency")
        i.channel = f.nonEmpty("channel")
        i.contactName = f.nonEmpty("contact_name")
        i.contactPhone = f.nonEmpty("contact_phone")
        i.publicDetails = f["public_details"] == "1"
        i.residentConsent = f["resident_consent"] == "1"
        i.callbackOK = f["callback_ok"] == "1"
        i.idempotencyKey = f.nonEmpty("idempotency_key")
        i.hotlineTicketNo = f.nonEmpty("hotline_ticket_no")
        i.hotlineDispatchedAt = f.nonEmpty("hotline_dispatched_at")
        i.hotlineDueAt = f.nonEmpty("hotline_due_at")
        // The form shows every category's extra fields; keep only the chosen category's.
        if let code = i.category, let cat = categories.first(where: { $0.code == code }) {
            var attrs: [String: String] = [:]
            for a in cat.attributes { if let v = f.nonEmpty("attr_\(code)_\(a.code)") { attrs[a.code] = v } }
            i.attributes = attrs
        }
        return i
    }

    /// The photos of a JSON submission (`"photos_base64": ["…", …]`), decoded.
    static func base64Photos(_ list: [String]) throws -> [[UInt8]] {
        try list.enumerated().compactMap { i, s in try Input.base64(s, field: "photos_base64", message: "第 \(i + 1) 张照片不是 base64 编码") }
    }

    static func actionInput(_ f: FormData) throws -> RequestsService.ActionInput {
        var a = RequestsService.ActionInput()
        a.note = f["note"]
        a.rating = f.int("rating").map(Int.init)
        a.partyKind = f.nonEmpty("party_kind")
        a.targetID = f.int("target_id")
        a.contacted = f["contacted"] == "1"
        // The note and resolve forms share a page; boxes of one name in two forms read to a
        // screen reader (and axe) as one group, so the resolve form's box has its own name.
        a.publicReply = f["public_reply"] == "1" || f["resolve_public_reply"] == "1"
        a.visitBy = f.nonEmpty("visit_by")
        a.organisationID = try f.optionalID("organisation_id", "部门编号应为数字")
        return a
    }

    func newForm(_ c: AppContext, values: FormData, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let categories = try await requests.categories(lang: c.lang).filter(\.active)
        let locations = try await requests.locationOptions(actor: actor)
        // The hotline's clerk files for callers as staff do: their name and number, the ticket's fields.
        let staff = actor.grants(for: .requestSubmit).contains { $0.role.isStaff || $0.role == .hotline }
        let chosen = values["category"]
        let channel = values["channel"] ?? (actor.grants.contains { $0.role == .hotline } ? Channel.hotline.rawValue : nil)
        let t = I18n.table(c.lang)
        let data: [String: Any] = [
            "categories": categories.map { cat in
                ["code": cat.code, "name": cat.name, "selected": cat.code == chosen,
                 "attributes": cat.attributes.map { a in
                    ["code": a.code, "field": "attr_\(cat.code)_\(a.code)", "description": a.text(c.lang), "required": a.required,
                     "is_list": a.datatype == "singlevaluelist", "is_number": a.datatype == "number",
                     "value": values["attr_\(cat.code)_\(a.code)"] ?? "",
                     "values": a.values.map { ["value": $0, "label": I18n.label($0, c.lang), "selected": values["attr_\(cat.code)_\(a.code)"] == $0] }] as [String: Any]
                 }, "has_attributes": !cat.attributes.isEmpty] as [String: Any]
            },
            "locations": locations.map { ["value": $0.value, "label": $0.label, "selected": $0.value == values["location"]] },
            "staff": staff,
            "can_hotline": actor.may(.hotlineLink),
            "hotline_ticket_no": values["hotline_ticket_no"] ?? "", "hotline_dispatched_at": values["hotline_dispatched_at"] ?? "",
            "hotline_due_at": values["hotline_due_at"] ?? "",
            "channels": ([Channel.phone, .walkIn, .visit, .app] + (actor.may(.hotlineLink) ? [.hotline] : [])).map { ["value": $0.rawValue, "label": I18n.label("channel_" + $0.rawValue, c.lang), "selected": $0.rawValue == channel] },
            "urgent": values["urgency"] == "urgent",
            "public_details": values["public_details"] == "1", "resident_consent": values["resident_consent"] == "1",
            "callback_ok": values["callback_ok"] == "1",
            "description": values["description"] ?? "", "address": values["address"] ?? "", "lat": values["lat"] ?? "", "lng": values["lng"] ?? "",
            "has_point": !(values["lat"] ?? "").isEmpty || !(values["lng"] ?? "").isEmpty,
            "household_id": values["household_id"] ?? "", "contact_name": values["contact_name"] ?? "", "contact_phone": values["contact_phone"] ?? "",
            // A fresh key per form: a double click or a resend after a dropped connection submits once.
            "idempotency_key": values["idempotency_key"] ?? requests.env.token(bytes: 16),
            "errors": errors ?? [:], "has_errors": errors != nil, "max_photos": RequestLimits.photosMax,
            "description_max": RequestLimits.descriptionMax,
        ]
        return renderer.page("request_new", data, context: c, title: t["new_request"]!)
    }

    func detailPage(_ c: AppContext, id: Int64, errors: [String: String]?, contact: [String: String]? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let d = try await requests.detail(id, actor: actor, lang: c.lang)
        var data = renderer.fields(d, c.lang)
        data["errors"] = errors ?? [:]
        data["has_photos"] = !d.photos.isEmpty
        data["has_contact"] = !d.request.contactMasked.isEmpty
        data["has_similar"] = !d.similar.isEmpty
        data["contact"] = contact ?? [:]
        data["unmasked"] = contact != nil
        data["parties"] = PartyKind.allCases.map { ["value": $0.rawValue, "label": I18n.label($0.rawValue, c.lang)] }
        data["ratings"] = (1...5).reversed().map { ["value": $0, "stars": String(repeating: "★", count: $0)] }
        data["level_label"] = I18n.label("level_" + d.request.levelCode, c.lang)
        if let h = d.hotline {
            data["hotline_callback_label"] = h.callback.map { I18n.label("callback_" + $0, c.lang) } ?? ""
            data["hotline_has_callback"] = h.callback != nil
            data["hotline_has_objection"] = !h.objection.isEmpty
            // Withdrawn because the hotline took it back, not because anyone here gave it up.
            data["hotline_returned"] = h.objection == HotlineObjection.accepted.rawValue && d.request.status == RequestStatus.withdrawn.rawValue
            data["hotline_objection_label"] = h.objection.isEmpty ? "" : I18n.label("objection_" + h.objection, c.lang)
            data["hotline_callbacks"] = HotlineCallback.allCases.map { ["value": $0.rawValue, "label": I18n.label("callback_" + $0.rawValue, c.lang)] }
        }
        data["is_staff"] = d.abilities.reassign || d.abilities.accept || d.abilities.note
        let departments = d.abilities.reassign ? try await requests.departmentChoices(actor: actor) : []
        data["departments"] = departments.map { ["id": $0.id, "label": "\($0.name)（\($0.placeName)）"] }
        data["has_departments"] = !departments.isEmpty
        data["deadlines"] = Deadline.allCases.map { dl -> [String: Any] in
            let (due, done): (Int64, Int64?) = switch dl {
            case .accept: (d.request.acceptDue, d.request.acceptedAt)
            case .contact: (d.request.contactDue, d.request.contactedAt)
            case .resolve: (d.request.resolveDue, d.request.resolvedAt)
            }
            return ["label": I18n.label("deadline_" + dl.rawValue, c.lang), "due": LocalTime.text(due), "done": done.map(LocalTime.text) ?? "",
                    "overdue": d.request.overdue.contains(dl.rawValue), "late": done.map { $0 > due } ?? false]
        }
        data["events"] = d.events.map { e -> [String: Any] in
            var note = e.note
            if e.kind == "escalated" {
                let p = e.note.split(separator: "|").map(String.init)
                if p.count == 3 { note = I18n.label("deadline_" + p[0], c.lang) + " · " + I18n.label("level_" + p[1], c.lang) + " · " + p[2] }
            } else if e.kind == "submitted" {
                note = I18n.label("channel_" + e.note, c.lang)
            }
            return ["at_text": e.atText, "actor": e.actor, "kind_label": I18n.label("event_" + e.kind, c.lang), "note": note]
        }
        return renderer.page("request", data, context: c, title: "#\(id) " + d.request.categoryName)
    }

    func settingsPage(_ c: AppContext, errors: [String: String]?) async throws -> Response {
        let actor = try c.requireActor()
        let categories = try await requests.categories(lang: c.lang)
        let partyOptions = { (selected: String) in PartyKind.allCases.map { ["value": $0.rawValue, "label": I18n.label($0.rawValue, c.lang), "selected": $0.rawValue == selected] } }
        let data: [String: Any] = [
            "can_configure": actor.may(.requestConfigure),
            "categories": categories.map { cat -> [String: Any] in
                ["code": cat.code, "name": cat.name, "accept_hours": cat.acceptHours, "contact_hours": cat.contactHours, "resolve_hours": cat.resolveHours,
                 "working_hours": cat.workingHours, "active": cat.active, "parties": partyOptions(cat.defaultParty),
                 "party_label": I18n.label(cat.defaultParty, c.lang),
                 "error": (errors ?? [:]).filter { $0.key.hasPrefix(cat.code + "_") }.values.joined(separator: "；")]
            },
            "category_options": categories.map { ["value": $0.code, "label": $0.name] },
            "calendar": renderer.data(try await requests.calendarDays(), c.lang),
            "rules": renderer.data(try await requests.routingRules(actor: actor, lang: c.lang), c.lang),
            "parties": partyOptions(""),
            "departments": try await requests.departmentChoices(actor: actor).map { ["id": $0.id, "label": "\($0.name)（\($0.placeName)）"] },
            "errors": errors ?? [:],
        ]
        return renderer.page("request_settings", data, context: c, title: I18n.table(c.lang)["request_settings"]!)
    }
}
