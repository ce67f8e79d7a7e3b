import Foundation
import Hummingbird
import HTTPTypes
import LinliCore
import LinliStore

/// Announcements (通知): staff send to a community, some places, some grids or the households
/// with a tag; residents read (and acknowledge) theirs; a grid worker sees who has not read one
/// two days on and records telling them in person; an A4 copy for the notice board.
extension GridWorkRoutes {
    func registerAnnouncements(_ r: Routes) {
        r.get("/announcements", .signedIn) { req, c in
            let actor = try c.requireActor()
            guard actor.may(.announcementSend) else {
                let list = try await gridWork.announcements(community: nil, actor: actor)
                return renderer.page("announcements", ["resident": true, "items": list.map { residentItem($0) }, "none": list.isEmpty],
                                     context: c, title: I18n.table(c.lang)["announcements"]!)
            }
            return try await staffPage(req, c, values: FormData(), errors: [:])
        }
        r.get("/api/v1/announcements", .signedIn) { req, c in
            let community = try Input.id(req.uri.queryParameters.get("community"), field: "community")
            return try JSON.response(try await gridWork.announcements(community: community, actor: try c.requireActor()))
        }
        r.post("/announcements", .action(.announcementSend)) { req, c in
            do {
                let a = try await gridWork.announce(Self.announcementInput(c.form), actor: try c.requireActor())
                return redirect("/announcements/\(a.id)")
            } catch {
                guard let fe = RegistryRoutes.fieldErrors(error) else { throw error }
                var resp = try await staffPage(req, c, values: c.form, errors: fe)
                resp.status = .unprocessableContent
                return resp
            }
        }
        r.post("/api/v1/announcements", .action(.announcementSend), body: AnnouncementInput.self) { req, c, input in
            return try JSON.response(try await gridWork.announce(input, actor: try c.requireActor()), status: .created)
        }
        r.get("/announcements/:id", .signedIn) { _, c in
            let a = try await gridWork.announcement(try c.id("id"), actor: try c.requireActor())
            return renderer.page("announcement", detail(a, c), context: c, title: a.title)
        }
        r.get("/api/v1/announcements/:id", .signedIn) { _, c in
            try JSON.response(try await gridWork.announcement(try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/announcements/:id/ack", .signedIn) { _, c in
            let id = try c.id("id")
            _ = try await gridWork.acknowledge(id, actor: try c.requireActor())
            return redirect("/announcements/\(id)")
        }
        r.post("/api/v1/announcements/:id/ack", .signedIn) { _, c in
            try JSON.response(try await gridWork.acknowledge(try c.id("id"), actor: try c.requireActor()))
        }
        r.get("/announcements/:id/print", .action(.announcementSend)) { _, c in
            let a = try await gridWork.announcement(try c.id("id"), actor: try c.requireActor(), markRead: false)
            guard a.households != nil else { throw LinliError.notFound }
            return renderer.page("announcement_print", detail(a, c), context: c, title: a.title)
        }
        r.post("/announcements/:id/households/:household/told", .action(.visitLog)) { _, c in
            try await gridWork.toldInPerson(try c.id("id"), household: try c.id("household"), actor: try c.requireActor())
            return redirect(c.form.int("return_grid").map { "/visits?grid=\($0)#unread" } ?? "/visits#unread")
        }
        r.post("/api/v1/announcements/:id/households/:household/told", .action(.visitLog)) { _, c in
            try await gridWork.toldInPerson(try c.id("id"), household: try c.id("household"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        // A resident's SMS reply, relayed by the provider's inbound hook with the shared secret:
        // the reply code of a notice sent to that phone acknowledges it. Linli's own shape here;
        // a provider's own (Tencent Cloud, Alibaba Cloud) at /api/v1/sms/inbound/{provider}.
        r.post("/api/v1/sms/inbound", .open, raw: ["application/json"]) { req, c in
            try await inbound(.generic, req, secret: req.headers[HTTPField.Name("X-Linli-SMS-Token")!])
        }
        // A provider cannot add a header to its callback: the secret may come in the URL
        // configured in its console (`?token=`), or in the header as above.
        r.post("/api/v1/sms/inbound/:provider", .open, raw: ["application/json"]) { req, c in
            guard let provider = SMSInbound.Provider(rawValue: c.parameters.get("provider") ?? "") else { throw LinliError.notFound }
            return try await inbound(provider, req, secret: req.headers[HTTPField.Name("X-Linli-SMS-Token")!] ?? req.uri.queryParameters.get("token").map { String($0) })
        }
        r.get("/api/v1/visits/unread-notices", .action(.visitLog)) { req, c in
            try JSON.response(try await gridWork.unreadNotices(gridID: try Input.id(req.uri.queryParameters.get("grid"), field: "grid"), actor: try c.requireActor()))
        }
    }

    /// The secret is checked before the body is read (as the payment notice's signature is):
    /// without it the hook does not exist, whatever is sent. Every reply in the body is handled
    /// before the provider hears success; a fault answers 500, and the provider sends it again
    /// (an acknowledgement given twice is the same acknowledgement).
    func inbound(_ provider: SMSInbound.Provider, _ req: Request, secret given: String?) async throws -> Response {
        guard let expected = gridWork.smsInboundToken, let given, Self.sameSecret(given, expected) else { throw LinliError.notFound }
        let buffer = try await req.body.collect(upTo: 64 * 1024)
        let replies = try SMSInbound.replies(provider, body: Array(buffer: buffer))
        let acknowledged = try await gridWork.acknowledgeBySMS(replies.map { ($0.phone, $0.text) }).compactMap { $0 }.count
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: SMSInbound.answer(provider, acknowledged: acknowledged, received: replies.count))))
    }

    /// Compares secrets in time that does not depend on where they differ.
    static func sameSecret(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func announcementInput(_ f: FormData) -> AnnouncementInput {
        var i = AnnouncementInput()
        i.communityID = f.int("community_id"); i.title = f["title"]; i.body = f["body"]; i.audienceKind = f.nonEmpty("audience_kind")
        // Place ids typed or picked, separated by commas or spaces; anything else is ignored here and
        // an empty list is refused by the use case, naming the field.
        i.placeIDs = (f["place_ids"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "，" }).compactMap { Int64($0) }
        i.gridIDs = f.all("grid_ids").compactMap { Int64($0) }
        i.tag = f.nonEmpty("tag"); i.needsAck = f["needs_ack"] == "1"
        return i
    }

    func residentItem(_ a: AnnouncementView) -> [String: Any] {
        ["id": a.id, "title": a.title, "at": a.at, "unread": a.readByMe != true, "needs_ack": a.needsAck && a.acknowledgedByMe != true]
    }

    func detail(_ a: AnnouncementView, _ c: AppContext) -> [String: Any] {
        var d: [String: Any] = ["id": a.id, "title": a.title, "body": a.body, "from": a.from, "at": a.at, "needs_ack": a.needsAck,
                                "community": a.communityName]
        if let n = a.households {
            d["staff"] = true
            d["households"] = n; d["read"] = a.read ?? 0; d["acknowledged"] = a.acknowledged ?? 0
            d["read_rate"] = n == 0 ? "—" : "\((a.read ?? 0) * 100 / n)%"
            d["reminders"] = a.reminders ?? 0
        } else if a.readByMe == nil {
            // A grid worker reading what went to their grid: nothing to acknowledge, people to tell.
            d["grid_worker"] = true
        } else {
            d["can_ack"] = a.needsAck && a.acknowledgedByMe != true
            d["acked"] = a.acknowledgedByMe == true
        }
        return d
    }

    func staffPage(_ req: Request, _ c: AppContext, values: FormData, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let t = I18n.table(c.lang)
        let options = try await gridWork.communities(actor: actor, .announcementSend)
        let asked = try Input.id(req.uri.queryParameters.get("community"), field: "community") ?? values.int("community_id")
        if let asked, !options.contains(where: { $0.id == asked }) { throw LinliError.notFound }
        guard let community = asked ?? options.first?.id else {
            return renderer.page("announcements", ["no_community": true], context: c, title: t["announcements"]!)
        }
        let list = try await gridWork.announcements(community: community, actor: actor)
        // A grid worker sends to their own grid(s) only: no other choice is offered.
        let (grids, gridOnly) = try await gridWork.grids(community: community, actor: actor)
        let kind = gridOnly ? "grids" : values["audience_kind"] ?? "community"
        let chosenGrids = gridOnly && values.all("grid_ids").isEmpty ? Set(grids.filter { $0.level == "grid" || grids.count == 1 }.map { String($0.id) })
            : Set(values.all("grid_ids"))
        var data: [String: Any] = [
            "staff": true, "community_id": community,
            "communities": options.map { ["value": $0.id, "label": $0.name, "selected": $0.id == community] }, "many_communities": options.count > 1,
            "kinds": AudienceKind.allCases.filter { !gridOnly || $0 == .grids }.map { ["value": $0.rawValue, "label": t["audience_" + $0.rawValue]!, "checked": $0.rawValue == kind] },
            "grid_only": gridOnly,
            // Staff choose whole grids; a grid worker also one of their micro-grids.
            "grids": grids.filter { gridOnly || $0.level == "grid" }.map { ["value": $0.id, "label": $0.name, "checked": chosenGrids.contains(String($0.id))] },
            "tags": RegistryService.audienceTags.map { ["value": $0, "label": I18n.label($0, c.lang), "selected": $0 == values["tag"]] },
            "title": values["title"] ?? "", "body": values["body"] ?? "", "place_ids": values["place_ids"] ?? "", "needs_ack": values["needs_ack"] == "1",
            "items": list.map { a in
                ["id": a.id, "title": a.title, "at": a.at, "households": a.households ?? 0, "read": a.read ?? 0, "acknowledged": a.acknowledged ?? 0,
                 "needs_ack": a.needsAck] as [String: Any]
            },
            "none": list.isEmpty,
        ]
        // Staff who live here too (a grid worker in their own community) read their home's here.
        if GridWorkService.ownHousehold(actor) != nil {
            let home = try await gridWork.announcements(community: nil, actor: actor)
            data["home_items"] = home.map { residentItem($0) }
            data["has_home_items"] = !home.isEmpty
        }
        for (k, v) in errors { data["error_" + k] = v }
        return renderer.page("announcements", data, context: c, title: t["announcements"]!)
    }
}
