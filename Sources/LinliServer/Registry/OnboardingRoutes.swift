import Foundation
import Hummingbird
import LinliCore
import LinliStore

/// What a community office needs to run a real street from the console: grids and micro-grids,
/// building and unit heads, each part's number and owners, removing places, and inviting
/// residents to make their own accounts. Every page action has its JSON twin below.
struct OnboardingRoutes {
    let registry: RegistryService
    let accounts: AccountService
    let renderer: Renderer
    /// Where residents open the sign-up page, printed on the invitation.
    var publicBaseURL = ""

    /// A form whose refusals, input (422) or a step with its reason (409), show beside it.
    func form(prefix: String, _ action: () async throws -> Response, page: ([String: String]) async throws -> Response) async throws -> Response {
        try await formOrErrors(prefix: prefix, alsoShowing: [.conflict], action, page: page)
    }

    func register(_ r: Routes) {
        let places = RegistryRoutes(registry: registry, renderer: renderer, publicBaseURL: publicBaseURL)

        // MARK: Places
        r.post("/places/:id/remove", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "remove") {
                redirect("/places/\(try await registry.removePlace(id, actor: try c.requireActor()))")
            } page: { errors in try await places.placePage(c, id: id, errors: errors, form: [:]) }
        }
        r.delete("/api/v1/places/:id", .action(.placeEdit)) { _, c in
            _ = try await registry.removePlace(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }

        // MARK: Grids
        r.post("/places/:id/grids", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "grid") {
                let g = try await registry.createGrid(community: id, parentID: try c.form.optionalID("parent_id", "上级网格编号应为数字"), name: c.form["name"],
                                                      actor: try c.requireActor())
                return redirect("/grids/\(g.id)")
            } page: { errors in try await places.placePage(c, id: id, errors: errors, form: ["grid_name": c.form["name"] ?? ""]) }
        }
        r.get("/grids/:id", .action(.placeView)) { req, c in
            try await gridPage(c, id: try c.id("id"), errors: [:],
                               moved: req.uri.queryParameters.get("moved").flatMap { Int($0) }.map { ($0, req.uri.queryParameters.get("unchanged").flatMap { Int($0) } ?? 0) })
        }
        r.post("/grids/:id", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "rename") {
                _ = try await registry.renameGrid(id, name: c.form["name"], actor: try c.requireActor())
                return redirect("/grids/\(id)")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        r.post("/grids/:id/micro-grids", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "micro") {
                let actor = try c.requireActor()
                let g = try await registry.grid(id, actor: actor)
                let m = try await registry.createGrid(community: g.communityID, parentID: id, name: c.form["name"], actor: actor)
                return redirect("/grids/\(m.id)")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        // A building's (unit's) households, or doors ticked, put into this micro-grid at once.
        r.post("/grids/:id/households", .action(.householdEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "move") {
                let ids = c.form.all("household_ids").compactMap { Int64($0) }
                let ticked = c.form.all("place_ids").compactMap { Int64($0) }
                let input = GridMoveInput(placeID: ids.isEmpty ? try c.form.optionalID("place_id", "请从列表中选择楼栋或单元") : nil,
                                          placeIDs: ids.isEmpty && !ticked.isEmpty ? ticked : nil, householdIDs: ids.isEmpty ? nil : ids)
                let r = try await registry.moveIntoMicroGrid(id, input, actor: try c.requireActor())
                return redirect("/grids/\(id)?moved=\(r.moved)&unchanged=\(r.unchanged)#moved-notice")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        // The twin of the move form's list and map: the community's buildings, where their households are now, and their points.
        r.get("/api/v1/grids/:id/move-candidates", .action(.householdEdit)) { _, c in
            try JSON.response(try await registry.moveCandidates(microGrid: try c.id("id"), actor: try c.requireActor()))
        }
        r.post("/api/v1/grids/:id/households", .action(.householdEdit), body: GridMoveInput.self) { _, c, input in
            try JSON.response(try await registry.moveIntoMicroGrid(try c.id("id"), input, actor: try c.requireActor()))
        }
        r.post("/grids/:id/remove", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "remove") {
                redirect("/places/\(try await registry.removeGrid(id, actor: try c.requireActor()))#grids")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        r.post("/grids/:id/leader", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "head") {
                _ = try await registry.appoint(post: HeadPost.microGridLeader.rawValue, placeID: nil, gridID: id,
                                               residentID: try c.form.optionalID("resident_id", "请选择居民"), actor: try c.requireActor())
                return redirect("/grids/\(id)")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        r.post("/places/:id/heads", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "head") {
                _ = try await registry.appoint(post: c.form["post"], placeID: id, gridID: nil, residentID: try c.form.optionalID("resident_id", "请选择居民"),
                                               actor: try c.requireActor())
                return redirect("/places/\(id)#heads")
            } page: { errors in try await places.placePage(c, id: id, errors: errors, form: [:]) }
        }
        r.post("/heads/:id/remove", .action(.placeEdit)) { _, c in
            let back = try await registry.removeHead(try c.id("id"), actor: try c.requireActor())
            // A micro-grid leader's page is the grid's; a building or unit head's the place's.
            return redirect(c.form["back"] == "grid" ? "/grids/\(back)" : "/places/\(back)#heads")
        }

        // MARK: Contacts posted for the public (the community's page shows them to anyone)
        r.post("/places/:id/contact", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "contact") {
                _ = try await registry.setOfficeContact(placeID: id, address: c.form["address"], phone: c.form["phone"], hours: c.form["hours"],
                                                        actor: try c.requireActor())
                return redirect("/places/\(id)#contact")
            } page: { errors in try await places.placePage(c, id: id, errors: errors, form: ["contact_address": c.form["address"] ?? "",
                                                                                       "contact_phone": c.form["phone"] ?? "", "contact_hours": c.form["hours"] ?? ""]) }
        }
        struct PutPlacesContactBody: Decodable { var address: String?; var phone: String?; var hours: String? }
        r.put("/api/v1/places/:id/contact", .action(.placeEdit), body: PutPlacesContactBody.self) { req, c, b in
            guard let o = try await registry.setOfficeContact(placeID: try c.id("id"), address: b.address, phone: b.phone, hours: b.hours,
                                                              actor: try c.requireActor()) else { return Response(status: .noContent) }
            return try JSON.response(o)
        }
        r.post("/grids/:id/contact", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "contact") {
                _ = try await registry.setGridContact(gridID: id, workerName: c.form["worker_name"], phone: c.form["phone"], actor: try c.requireActor())
                return redirect("/grids/\(id)#contact")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        // A grid's boundary: drawn on the map (which fills the points box) or typed, one
        // "latitude, longitude" per line; an empty box clears it.
        r.post("/grids/:id/boundary", .action(.placeEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "boundary") {
                let (points, bad) = GridBoundary.parse(c.form["points"] ?? "")
                if let bad { throw LinliError.invalid("points", "not_a_point", "第 \(bad) 行应为“纬度, 经度”，如 30.2741, 120.1551") }
                _ = try await registry.setGridBoundary(id, points: points, actor: try c.requireActor())
                return redirect("/grids/\(id)#boundary")
            } page: { errors in try await gridPage(c, id: id, errors: errors) }
        }
        struct PutGridBoundaryBody: Decodable { var points: [[Double]]? }
        r.put("/api/v1/grids/:id/boundary", .action(.placeEdit), body: PutGridBoundaryBody.self) { _, c, b in
            try JSON.response(["points": try await registry.setGridBoundary(try c.id("id"), points: b.points, actor: try c.requireActor())])
        }
        struct PutGridsContactBody: Decodable { var worker_name: String?; var phone: String? }
        r.put("/api/v1/grids/:id/contact", .action(.placeEdit), body: PutGridsContactBody.self) { req, c, b in
            return try JSON.response(try await registry.setGridContact(gridID: try c.id("id"), workerName: b.worker_name, phone: b.phone,
                                                                       actor: try c.requireActor()))
        }

        struct PostGridsBody: Decodable { var community_id: Int64?; var parent_id: Int64?; var name: String? }
        r.post("/api/v1/grids", .action(.placeEdit), body: PostGridsBody.self) { req, c, b in
            guard let community = b.community_id else { throw LinliError.invalid("community_id", "required", "请选择社区") }
            return try JSON.response(try await registry.createGrid(community: community, parentID: b.parent_id, name: b.name, actor: try c.requireActor()), status: .created)
        }
        r.get("/api/v1/grids/:id", .action(.placeView)) { _, c in
            try JSON.response(try await registry.grid(try c.id("id"), actor: try c.requireActor()))
        }
        struct PatchGridsBody: Decodable { var name: String? }
        r.patch("/api/v1/grids/:id", .action(.placeEdit), body: PatchGridsBody.self) { req, c, b in
            return try JSON.response(try await registry.renameGrid(try c.id("id"), name: b.name, actor: try c.requireActor()))
        }
        r.delete("/api/v1/grids/:id", .action(.placeEdit)) { _, c in
            _ = try await registry.removeGrid(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }
        struct PostHeadsBody: Decodable { var post: String?; var place_id: Int64?; var grid_id: Int64?; var resident_id: Int64? }
        r.post("/api/v1/heads", .action(.placeEdit), body: PostHeadsBody.self) { req, c, b in
            return try JSON.response(try await registry.appoint(post: b.post, placeID: b.place_id, gridID: b.grid_id, residentID: b.resident_id,
                                                                actor: try c.requireActor()), status: .created)
        }
        r.delete("/api/v1/heads/:id", .action(.placeEdit)) { _, c in
            _ = try await registry.removeHead(try c.id("id"), actor: try c.requireActor())
            return Response(status: .noContent)
        }

        // MARK: Dwellings and owners
        r.get("/households/:id/dwelling", .action(.householdView)) { _, c in try await dwellingPage(c, id: try c.id("id"), errors: [:]) }
        r.post("/households/:id/dwelling", .action(.householdEdit)) { _, c in
            let id = try c.id("id")
            return try await form(prefix: "dw") {
                _ = try await registry.setDwelling(household: id, try Self.dwellingInput(c.form), actor: try c.requireActor())
                return redirect("/households/\(id)/dwelling")
            } page: { errors in try await dwellingPage(c, id: id, errors: errors) }
        }
        r.get("/api/v1/households/:id/dwelling", .action(.householdView)) { _, c in
            guard let d = try await registry.dwelling(household: try c.id("id"), actor: try c.requireActor()) else { throw LinliError.notFound }
            return try JSON.response(d)
        }
        r.put("/api/v1/households/:id/dwelling", .action(.householdEdit), body: DwellingInput.self) { req, c, input in
            return try JSON.response(try await registry.setDwelling(household: try c.id("id"), input, actor: try c.requireActor()))
        }
        r.get("/api/v1/places/:id/owners", .action(.householdEdit)) { req, c in
            try JSON.response(try await registry.owners(community: try c.id("id"), prefix: req.uri.queryParameters.get("q") ?? "", actor: try c.requireActor()))
        }

        // MARK: Pickers (search-as-you-type where staff would otherwise type a number)
        r.get("/api/v1/pick/households", .action(.householdView)) { req, c in
            try JSON.response(try await registry.pickHouseholds(req.uri.queryParameters.get("q").map { String($0) } ?? "", actor: try c.requireActor()))
        }
        r.get("/api/v1/pick/residents", .action(.residentView)) { req, c in
            try JSON.response(try await registry.pickResidents(req.uri.queryParameters.get("q").map { String($0) } ?? "", actor: try c.requireActor()))
        }
        r.get("/api/v1/pick/owners", .action(.householdEdit)) { req, c in
            let within = try Input.id(req.uri.queryParameters.get("within").map { String($0) }, field: "within")
            return try JSON.response(try await registry.pickOwners(req.uri.queryParameters.get("q").map { String($0) } ?? "", household: within,
                                                                   actor: try c.requireActor()))
        }
        r.get("/api/v1/pick/places", .action(.placeView)) { req, c in
            try JSON.response(try await registry.pickPlaces(req.uri.queryParameters.get("q").map { String($0) } ?? "", actor: try c.requireActor()))
        }

        // MARK: Inviting residents
        r.post("/residents/:id/invite", .action(.userManage)) { _, c in
            let actor = try c.requireActor()
            let invite = try await invite(try c.id("id"), actor: actor)
            var data = renderer.fields(invite, c.lang)
            data["register_url"] = publicBaseURL + "/register"
            return renderer.page("invite", data, context: c, title: I18n.table(c.lang)["invite"]!)
        }
        // A run of invitations for a building's grown-ups without an account: slips to hand out
        // door to door, eight to an A4 sheet. Made by a POST (codes are shown once, never again).
        r.post("/places/:id/invitations", .action(.userManage)) { _, c in
            let (place, invites, addresses) = try await invitations(try c.id("id"), actor: try c.requireActor())
            let slips: [[String: Any]] = invites.map { i in
                ["code": i.code, "name": String(i.displayName.prefix(1)) + "**", "address": addresses[i.householdID] ?? "", "expires": i.expires]
            }
            let d: [String: Any] = ["place": renderer.fields(place, c.lang), "slips": slips, "count": slips.count, "none": slips.isEmpty,
                                    "register_url": publicBaseURL + "/register"]
            return renderer.page("invitations", d, context: c, title: place.name + " · " + I18n.table(c.lang)["invite"]!)
        }
        r.post("/api/v1/places/:id/invitations", .action(.userManage)) { _, c in
            let (_, invites, _) = try await invitations(try c.id("id"), actor: try c.requireActor())
            return try JSON.response(invites, status: .created)
        }
        r.post("/api/v1/residents/:id/invite", .action(.userManage)) { _, c in
            try JSON.response(try await invite(try c.id("id"), actor: try c.requireActor()), status: .created)
        }
    }

    func invitations(_ placeID: Int64, actor: Actor) async throws -> (PlaceSummary, [Invite], [Int64: String]) {
        let (place, people) = try await registry.invitableResidents(placeID: placeID, actor: actor)
        let invites = try await accounts.createInvites(people.map { ($0.householdID, $0.residentID, $0.name) }, actor: actor)
        return (place, invites, Dictionary(people.map { ($0.householdID, $0.address) }, uniquingKeysWith: { a, _ in a }))
    }

    /// A one-time code for a resident the actor may edit (the registry says where they live).
    func invite(_ residentID: Int64, actor: Actor) async throws -> Invite {
        let (household, name) = try await registry.editableResident(residentID, actor: actor)
        return try await accounts.createInvite(householdID: household, residentID: residentID, displayName: name, actor: actor)
    }

    static func dwellingInput(_ f: FormData) throws -> DwellingInput {
        var owners: [OwnerInput] = []
        for i in 0..<4 {
            let name = f.nonEmpty("owner_name_\(i)"), resident = try f.optionalID("owner_resident_\(i)", "请选择居民"),
                existing = try f.optionalID("owner_id_\(i)", "请选择产权人")
            guard name != nil || resident != nil || existing != nil else { continue }
            owners.append(OwnerInput(ownerID: existing, residentID: resident, name: name, kind: f.nonEmpty("owner_kind_\(i)"), share: f.nonEmpty("owner_share_\(i)")))
        }
        // An owner section left entirely empty keeps the owners as they are.
        return DwellingInput(partNo: f["part_no"], areaM2: f["area_m2"], use: f.nonEmpty("use"), titleNo: f["title_no"],
                             owners: owners.isEmpty ? nil : owners, reason: f["reason"])
    }

    func gridPage(_ c: AppContext, id: Int64, errors: [String: String], moved: (Int, Int)? = nil) async throws -> Response {
        let actor = try c.requireActor()
        let g = try await registry.grid(id, actor: actor)
        var data = renderer.fields(g, c.lang)
        data["errors"] = errors
        data["is_grid"] = g.level == "grid"
        data["can_edit"] = actor.may(.placeEdit)
        data["has_heads"] = !g.heads.isEmpty
        data["has_moves"] = !g.moves.isEmpty
        if let moved { data["moved_notice"] = ["moved": moved.0, "unchanged": moved.1] }
        var canMove = false
        if g.level == "micro" { canMove = actor.may(.householdEdit, on: ObjectScope(path: try await registry.communityPath(g.communityID))) }
        data["can_move"] = canMove
        data["move_place_id"] = c.form["place_id"] ?? ""
        if canMove {
            // The community's buildings to tick, each with where its households are now.
            let ticked = Set(c.form.all("place_ids"))
            let t = I18n.table(c.lang)
            let candidates = try await registry.moveCandidates(microGrid: id, actor: actor)
            func now(_ m: MoveCandidate) -> String { m.microGrids.map { $0.isEmpty ? t["move_no_micro_grid"]! : $0 }.joined(separator: "、") }
            data["candidates"] = candidates.map { m -> [String: Any] in
                ["id": m.placeID, "label": m.label, "households": m.households, "now": now(m),
                 "here": m.microGrids == [g.name], "checked": ticked.contains(String(m.placeID))]
            }
            data["has_candidates"] = !candidates.isEmpty
            // The same buildings on the map, where the register has their points: a tap ticks one.
            let picks = candidates.compactMap { m -> [String: Any]? in
                guard let lat = m.lat, let lng = m.lng else { return nil }
                return ["id": m.placeID, "lat": lat, "lng": lng,
                        "label": "\(m.label) · \(m.households) \(t["move_households"]!) · \(t["move_now_in"]!) \(now(m))"]
            }
            data["has_picks"] = !picks.isEmpty
            data["picks_json"] = String(decoding: try JSONSerialization.data(withJSONObject: picks, options: [.sortedKeys]), as: UTF8.self)
        }
        if g.level == "grid" {
            let posted = try await registry.gridContact(gridID: id, actor: actor)
            data["contact"] = ["worker_name": c.form["worker_name"] ?? posted?.workerName ?? "", "phone": c.form["phone"] ?? posted?.phone ?? ""]
        }
        // After a refusal the box shows what was typed; otherwise what is recorded.
        // (Only the boundary form's own refusal: another form's leaves the drawn boundary shown.)
        let boundaryRefused = errors.keys.contains { $0.hasPrefix("boundary_") }
        data["boundary_text"] = boundaryRefused ? c.form["points"] ?? "" : g.boundary.map(GridBoundary.text) ?? ""
        data["boundary_json"] = JSON.string(g.boundary ?? [])
        if g.level == "micro", actor.may(.placeEdit) {
            data["leader_choices"] = try await registry.residentChoices(placeID: nil, gridID: id, actor: actor).map { ["value": $0.0, "label": $0.1] }
        }
        return renderer.page("grid", data, context: c, title: g.name)
    }

    func dwellingPage(_ c: AppContext, id: Int64, errors: [String: String]) async throws -> Response {
        let actor = try c.requireActor()
        let h = try await registry.household(id, actor: actor)
        let d = try await registry.dwelling(household: id, actor: actor)
        var data: [String: Any] = ["household": ["id": h.id, "address": h.address, "community_id": h.communityID], "errors": errors,
                                   "has_errors": !errors.isEmpty]
        if let d { data["dwelling"] = renderer.fields(d, c.lang); data["has_history"] = !d.history.isEmpty }
        let canEdit = actor.may(.householdEdit)
        data["can_edit"] = canEdit
        // The proxies page checks the owner's community itself.
        data["can_record_votes"] = actor.may(.voteRecord)
        if canEdit {
            // After a refusal the form shows what was typed; otherwise what is recorded.
            let posted = !errors.isEmpty
            func value(_ k: String, _ fallback: String?) -> String { posted ? (c.form[k] ?? "") : (fallback ?? "") }
            data["values"] = ["part_no": value("part_no", d?.partNo), "area_m2": value("area_m2", d?.areaM2), "title_no": value("title_no", d?.titleNo),
                              "reason": posted ? (c.form["reason"] ?? "") : ""]
            let use = posted ? (c.form["use"] ?? "") : (d?.use ?? PartUse.residential.rawValue)
            data["uses"] = RegistryRoutes.options(PartUse.allCases.map(\.rawValue), selected: use, c.lang, labelPrefix: "use_")
            // Four owner rows: the current owners first, then empty ones for co-owners.
            let current = d?.owners ?? []
            let residents = h.residents.map { ($0.id, $0.name) }
            data["owner_rows"] = (0..<4).map { i -> [String: Any] in
                let o = i < current.count ? current[i] : nil
                let kind = posted ? (c.form["owner_kind_\(i)"] ?? "person") : (o?.kind ?? "person")
                let chosenResident = posted ? c.form.int("owner_resident_\(i)") : o?.residentID
                return ["i": i, "n": i + 1, "owner_id": posted ? (c.form["owner_id_\(i)"] ?? "") : (o.map { String($0.id) } ?? ""),
                        "name": posted ? (c.form["owner_name_\(i)"] ?? "") : (o?.name ?? ""),
                        "share": posted ? (c.form["owner_share_\(i)"] ?? "") : (o.map { $0.shareBP == 10000 ? "" : String(DwellingRules.shareText($0.shareBP).dropLast()) } ?? ""),
                        "kinds": RegistryRoutes.options(OwnerKind.allCases.map(\.rawValue), selected: kind, c.lang, labelPrefix: "ownerkind_"),
                        "residents": residents.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == chosenResident] },
                        "error_name": errors["dw_owners[\(i)].name"] ?? false, "error_share": errors["dw_owners[\(i)].share_percent"] ?? false,
                        "error_resident": errors["dw_owners[\(i)].resident_id"] ?? false, "error_owner": errors["dw_owners[\(i)].owner_id"] ?? false]
            }
        }
        return renderer.page("dwelling", data, context: c, title: I18n.table(c.lang)["dwelling"]! + " · " + h.address)
    }
}
